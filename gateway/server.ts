import type { Server } from 'node:http';
import type { Gateway } from './app';
import { createLogger } from './logger';

/** Listening and stopping, shared by the gateway's entry (main.ts) and the demo network's. */

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
