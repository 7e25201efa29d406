import type { Logger } from 'pino';
import type { GatewayConfig } from './config';
import type { Clock } from './context';
import type { Metrics } from './metrics';
import type { Db } from './storage/db';

/** What every service factory is given by the composition root. */
export interface ServiceDeps {
  config: GatewayConfig;
  db: Db;
  /** plain reads that may run beside the writer (storage/db.ts createReader); the db itself on PostgreSQL */
  reader: Db;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
}
