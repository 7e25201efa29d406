import type { Server } from 'node:http';
import { ConfigError, loadConfigFile, portFromEnv } from './config';
import { createGateway, type Gateway } from './app';
import { startDemoNetwork } from './cli/demo-network';
import { createLogger } from './logger';

/**
 * Entry point: `npm run gateway -- --config FILE` (production form) or `npm start` (`--demo`: the
 * demo network of fixtures/, see gateway/cli/demo-network.ts). The only module that listens.
 */
async function main(argv: string[]): Promise<void> {
  const log = createLogger({ level: process.env.LOG_LEVEL });
  if (argv.includes('--demo')) {
    await startDemoNetwork({ log, port: portFromEnv() });
    return;
  }
  const i = argv.indexOf('--config');
  const file = i >= 0 ? argv[i + 1] : process.env.GATEWAY_CONFIG;
  if (!file) {
    process.stderr.write('usage: npm run gateway -- --config FILE   (or npm start for the demo network)\n');
    process.exit(2);
  }
  const config = loadConfigFile(file);
  const gateway = await createGateway(config, { log });
  const server = await listen(gateway, portFromEnv(), log);
  log.info({ url: config.publicBaseUrl, hospitals: config.hospitals.length }, 'gateway listening');
  shutdownOn(server, gateway, log);
}

export function listen(gateway: Gateway, port: number, log = createLogger()): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = gateway.app.listen(port, '0.0.0.0', () => resolve(server));
    server.keepAliveTimeout = 65_000;
    server.on('error', (e) => {
      log.error({ err: e.message }, 'cannot listen');
      reject(e);
    });
  });
}

export function shutdownOn(server: Server, gateway: Gateway, log: ReturnType<typeof createLogger>, extra: () => Promise<void> = async () => {}) {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    server.close();
    server.closeIdleConnections?.();
    await gateway.close().catch(() => undefined);
    await extra().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    if (e instanceof ConfigError) process.stderr.write(`${e.message}\n`);
    else process.stderr.write(`gateway failed to start: ${(e as Error)?.message ?? e}\n`);
    process.exit(1);
  });
}
