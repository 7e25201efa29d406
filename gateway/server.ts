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

/** how long requests being answered at a stop get to finish before their connections are cut */
const DRAIN_MS = 10_000;

/**
 * Stops accepting, lets the requests being answered finish and waits for their connections to
 * close, at most `ms`. A kept-alive connection would otherwise outlive the stop: idle ones are
 * closed as they fall idle, and a request that still comes on one is answered with
 * `Connection: close` (a busy client sends its next request before any idle check sees the
 * connection idle, and would keep the server up for the whole grace period).
 */
function drain(server: Server, ms: number): Promise<void> {
  return new Promise((resolve) => {
    server.prependListener('request', (_req, res) => res.setHeader('Connection', 'close'));
    const idle = setInterval(() => server.closeIdleConnections(), 100);
    const done = () => {
      clearInterval(idle);
      clearTimeout(cut);
      resolve();
    };
    const cut = setTimeout(() => {
      server.closeAllConnections();
      done();
    }, ms);
    server.close(done);
    server.closeIdleConnections();
  });
}

/**
 * At SIGTERM or SIGINT: drain the server, then close the gateway (the audit writer commits what it
 * holds, the shutdown checkpoint is signed, stores close), then exit. Closing the gateway only
 * after the drain is what makes a stop lose nothing: a request still being answered gets its audit
 * event and its answer rather than a 503 from an audit trail that is shutting down. Under
 * `--workers` the primary sends each worker SIGTERM and this runs in each.
 */
export function shutdownOn(server: Server, gateway: Gateway, log: ReturnType<typeof createLogger>, extra: () => Promise<void> = async () => {}) {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await drain(server, DRAIN_MS);
    await gateway.close().catch(() => undefined);
    await extra().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}
