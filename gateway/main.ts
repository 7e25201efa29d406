import { ConfigError, loadConfigFile, portFromEnv } from './config';
import { createGateway } from './app';
import { listen, shutdownOn } from './server';
import { createLogger } from './logger';

/**
 * Entry point: `npm run gateway -- --config FILE`. The demo network (`npm start`) has its own entry,
 * fixtures/demo/demo-network.ts, so no demo code is part of the product.
 */
async function main(argv: string[]): Promise<void> {
  const log = createLogger({ level: process.env.LOG_LEVEL });
  const i = argv.indexOf('--config');
  const file = i >= 0 ? argv[i + 1] : process.env.GATEWAY_CONFIG;
  if (!file) {
    process.stderr.write('usage: npm run gateway -- --config FILE\n');
    process.exit(2);
  }
  const config = loadConfigFile(file);
  const gateway = await createGateway(config, { log });
  const server = await listen(gateway, portFromEnv(), log);
  log.info({ url: config.publicBaseUrl, hospitals: config.hospitals.length }, 'gateway listening');
  shutdownOn(server, gateway, log);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    if (e instanceof ConfigError) process.stderr.write(`${e.message}\n`);
    else process.stderr.write(`gateway failed to start: ${(e as Error)?.message ?? e}\n`);
    process.exit(1);
  });
}
