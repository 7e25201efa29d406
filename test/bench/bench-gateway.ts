import { readFileSync } from 'node:fs';
import { createGateway } from '../../gateway/app';
import { parseConfig } from '../../gateway/config';
import { silentLogger } from '../../gateway/logger';

/** Child process of `npm run bench`: the real gateway from a config file, on an ephemeral port. */
async function main() {
  const config = parseConfig(JSON.parse(readFileSync(process.argv[2], 'utf8')), { env: {} });
  const gateway = await createGateway(config, { log: silentLogger() });
  const server = gateway.app.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: (server.address() as { port: number }).port, pid: process.pid }) + '\n');
  });
  server.keepAliveTimeout = 65_000;
  process.stdin.resume();
  process.stdin.on('end', async () => {
    server.close();
    await gateway.close();
    process.exit(0);
  });
}
void main();
