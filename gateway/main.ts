import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ConfigError, loadConfigFile, portFromEnv, type GatewayConfig } from './config';
import { createGateway } from './app';
import { listen, shutdownOn } from './server';
import { createLogger } from './logger';
import { migrate } from './migrations';
import { createDb } from './storage/db';
import { superviseWorkers, workerCount, WorkersError } from './workers';

const USAGE = 'usage: npm run gateway -- --config FILE [--workers N]\n';

/**
 * Entry point: `npm run gateway -- --config FILE [--workers N]`. The demo network (`npm start`)
 * has its own entry, fixtures/demo/demo-network.ts, so no demo code is part of the product.
 *
 * One process serves unless more workers are asked for or, on PostgreSQL, the host has several
 * cores (gateway/workers.ts): then this process becomes the primary and each worker runs this file
 * again, straight to {@link serve}.
 */
async function main(argv: string[]): Promise<void> {
  const log = createLogger({ level: process.env.LOG_LEVEL });
  const i = argv.indexOf('--config');
  const file = i >= 0 ? argv[i + 1] : process.env.GATEWAY_CONFIG;
  if (!file) {
    process.stderr.write(USAGE);
    process.exit(2);
  }
  const config = loadConfigFile(file);
  if (cluster.isWorker) return serve(config, log.child({ worker: cluster.worker!.id, pid: process.pid }));

  let count: number;
  try {
    count = workerCount(argv, process.env, config.database.client).count;
  } catch (e) {
    if (!(e instanceof WorkersError)) throw e;
    process.stderr.write(`${e.message}\n${USAGE}`);
    process.exit(2);
  }
  if (count === 1) return serve(config, log);

  portFromEnv(); // a bad PORT is said once, here, not by every worker
  await migrateOnce(config);
  superviseWorkers({ count, log: log.child({ role: 'primary', pid: process.pid }) });
}

/**
 * The primary applies the migrations once before it forks. Concurrent runs would be safe (knex
 * takes its lock row inside the migration transaction, so a second run waits and then finds
 * nothing to do), but N workers would queue on that lock at every start, and a migration that
 * fails would be reported N times and crash-loop through the replacements; here it stops the
 * start once, with its message. Each worker's createGateway still calls migrate, which then only
 * reads the migration table. The primary keeps no connection afterwards.
 */
async function migrateOnce(config: GatewayConfig): Promise<void> {
  const db = createDb(config.database as { client: string });
  try {
    await migrate(db);
  } finally {
    await db.destroy();
  }
}

/** One gateway process: the whole gateway on PORT until SIGTERM or SIGINT. */
async function serve(config: GatewayConfig, log: Logger): Promise<void> {
  const gateway = await createGateway(config, { log });
  const server = await listen(gateway, portFromEnv(), log);
  // the port actually bound (PORT=0 asks for any free one; every worker shares it)
  const port = (server.address() as AddressInfo).port;
  log.info({ url: config.publicBaseUrl, port, hospitals: config.hospitals.length }, 'gateway listening');
  shutdownOn(server, gateway, log);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    if (e instanceof ConfigError) process.stderr.write(`${e.message}\n`);
    else process.stderr.write(`gateway failed to start: ${(e as Error)?.message ?? e}\n`);
    process.exit(1);
  });
}
