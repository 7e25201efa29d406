import type { Express } from 'express';
import type { Logger } from 'pino';
import type { HospitalAdapter } from '../adapters/adapter';
import { createAdapter } from '../adapters/factory';
import { createConsentService } from '../consent/consent-service';
import { createAuditService } from './audit/audit-service';
import { createAuthService } from './auth/auth-service';
import type { GatewayConfig, HospitalConfig } from './config';
import { systemClock, type Clock } from './context';
import { HospitalCaller, DEFAULT_CIRCUIT, type CircuitOptions } from './federation/hospital-caller';
import { createResultsService, type FederatedResults } from './federation/results-service';
import { organizationRoutes } from './http/routes/organization-routes';
import { resultRoutes } from './http/routes/result-routes';
import { createExpressApp } from './http/express-app';
import { RateLimiter } from './http/rate-limit';
import type { Route } from './http/route';
import { createLogger } from './logger';
import { createMetrics, type Metrics } from './metrics';
import { opsRoutes } from './http/routes/ops-routes';
import { createPatientIndex, type RegionalPatientIndex } from './patient-index/patient-index';
import { patientRoutes } from './http/routes/patient-routes';
import { loadCatalog } from './recognition/catalog';
import { createRecognitionService } from './recognition/recognition-service';
import type { HospitalEntry, RecognitionService, Services } from './services';
import { migrate } from './migrations';
import { closeReader, createDb, createReader, type Db } from './storage/db';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSION: string = require('../package.json').version;

export interface GatewayOptions {
  clock?: Clock;
  log?: Logger;
  /** an open store to use (not closed by the gateway); otherwise one is opened from config.database */
  db?: Db;
  circuit?: CircuitOptions;
  /** how hospitals' adapters are made (the default factory picks one per config `type`) */
  adapterFactory?: (h: HospitalConfig, deps: { log: Logger; metrics: Metrics }) => HospitalAdapter;
}

export interface GatewayServices extends Services {
  patientIndex: RegionalPatientIndex;
  results: FederatedResults;
  callers: Map<string, HospitalCaller>;
}

export interface Gateway {
  app: Express;
  services: GatewayServices;
  routes: Route[];
  close(): Promise<void>;
}

/**
 * The composition root (STYLE.md §8): builds every service from the configuration, applies the
 * migrations, starts the adapters and returns the app. Only gateway/main.ts listens.
 */
export async function createGateway(config: GatewayConfig, opts: GatewayOptions = {}): Promise<Gateway> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? createLogger();
  const metrics = createMetrics();
  const ownDb = !opts.db;
  const db = opts.db ?? createDb(config.database as { client: string });
  try {
    await migrate(db);
  } catch (e) {
    if (ownDb) await db.destroy();
    throw e;
  }
  const reader = createReader(db);
  const deps = { config, db, reader, clock, log, metrics };

  const makeAdapter = opts.adapterFactory ?? createAdapter;
  const hospitals = new Map<string, HospitalEntry>();
  const callers = new Map<string, HospitalCaller>();
  for (const h of config.hospitals) {
    const adapter = makeAdapter(h, { log, metrics }); // the factory binds the hospital and adapter kind to the log
    hospitals.set(h.id, { config: h, adapter });
    callers.set(h.id, new HospitalCaller(h.id, adapter, h.timeoutMs ?? config.hospitalTimeoutMs, metrics, log, opts.circuit ?? DEFAULT_CIRCUIT));
  }
  await Promise.all([...hospitals.values()].map((h) => h.adapter.start()));

  const patientIndex = createPatientIndex({ db, clock, log, callers: () => callers });
  const auth = createAuthService(deps);
  await auth.init();
  const consent = createConsentService({ ...deps, patientIndex });
  const audit = createAuditService(deps);
  let recognition: RecognitionService | undefined;
  const results = createResultsService({ config, clock, log, callers, patientIndex, consent, recognition: () => recognition! });
  recognition = createRecognitionService({ ...deps, catalog: loadCatalog(config.catalog), results, patientIndex });

  const rateLimiter = config.rateLimit ? new RateLimiter(config.rateLimit.requestsPerSecond, config.rateLimit.burst) : undefined;
  const services: GatewayServices = { ...deps, hospitals, callers, patientIndex, auth, consent, audit, recognition, results, rateLimiter };
  const routes: Route[] = [
    ...opsRoutes({ config, db, metrics, callers, allRoutes: () => routes, version: VERSION }),
    ...auth.routes(),
    ...organizationRoutes({ config }),
    ...patientRoutes({ config, patientIndex }),
    ...resultRoutes({ config, results, patientIndex }),
    ...recognition.routes(),
    ...consent.routes(),
    ...audit.routes(),
  ];
  const app = createExpressApp(services, routes);

  return {
    app,
    services,
    routes,
    async close() {
      await audit.close();
      await Promise.allSettled([...hospitals.values()].map((h) => h.adapter.close()));
      await closeReader(reader, db);
      if (ownDb) await db.destroy();
    },
  };
}
