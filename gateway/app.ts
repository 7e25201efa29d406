import type { Express } from 'express';
import type { Logger } from 'pino';
import type { HospitalAdapter } from '../adapters/adapter';
import { createAdapter } from '../adapters/factory';
import { loadCodeMap, type CodeMap } from '../adapters/common/code-map';
import { createCdsHooks } from './cds-hooks/cds-hooks';
import { cdsHooksRoutes } from './http/routes/cds-hooks-routes';
import { createConsentService, type GatewayConsentService } from '../consent/consent-service';
import type { AuditService } from './audit/contract';
import { createAuditService } from './audit/audit-service';
import { createCheckpointService, type CheckpointService } from './audit/checkpoint-service';
import { verifyHelpers } from './audit/verify-helpers';
import { keySourceOf } from './auth/key-source';
import { publicJwks } from './auth/signing-keys';
import type { AuthService } from './auth/contract';
import { createAuthService } from './auth/auth-service';
import type { GatewayConfig, HospitalConfig } from './config';
import { systemClock, type Clock } from './context';
import { createFederation } from './federation/federation';
import { HospitalCaller, DEFAULT_CIRCUIT, type CircuitOptions } from './federation/hospital-caller';
import { createExpressApp } from './http/express-app';
import { RateLimiter } from './http/rate-limit';
import { AdmissionGate } from './http/admission';
import type { Route } from './http/route';
import { auditRoutes } from './http/routes/audit-routes';
import { authRoutes } from './http/routes/auth-routes';
import { jwksRoutes } from './http/routes/jwks-routes';
import { signInRoutes } from './http/routes/sign-in-routes';
import { accessReportRoutes } from './http/routes/access-report-routes';
import { consentRoutes } from './http/routes/consent-routes';
import { opsRoutes } from './http/routes/ops-routes';
import { organizationRoutes } from './http/routes/organization-routes';
import { patientRoutes } from './http/routes/patient-routes';
import { recognitionRoutes } from './http/routes/recognition-routes';
import { resultRoutes } from './http/routes/result-routes';
import { dicomwebRoutes } from './http/routes/dicomweb-routes';
import { createPacsClient } from './dicomweb/pacs-client';
import { createLogger } from './logger';
import { createMetrics, type Metrics } from './metrics';
import { migrate } from './migrations';
import type { PatientData } from './patient-data/contract';
import { createPatientData } from './patient-data/patient-data';
import type { PatientIndex } from './patient-index/contract';
import { createPatientIndex } from './patient-index/patient-index';
import { loadCatalog } from './recognition/catalog';
import { createRecognitionOperations, createRecognitionRules, type Recognition } from './recognition/recognition-service';
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
  adapterFactory?: (h: HospitalConfig, deps: { log: Logger; metrics: Metrics; canonicalBase: string }) => HospitalAdapter;
  /** the CDS Hooks answer budget (default 1 s) */
  hookBudgetMs?: number;
  /** `$verify`'s helper processes (default: one per core, up to 4, for chains of 100 000 events or more) */
  verifyHelpers?: { helpers?: number; minRows?: number };
}

/** Each hospital's code map (API.md §2 `codeMap`), for reading the local codes of its HIS's orders. */
async function loadCodeMaps(config: GatewayConfig): Promise<Map<string, CodeMap>> {
  const out = new Map<string, CodeMap>();
  for (const h of config.hospitals) {
    const file = (h.adapter as { codeMap?: string }).codeMap;
    if (file) out.set(h.id, await loadCodeMap(file));
  }
  return out;
}

/**
 * The composition root's parts, for operators' tools that run beside the gateway (the demo loader,
 * tests). No route is given any of them except through its own factory's narrow deps: the route
 * table reaches patient data only through `patientData`.
 */
export interface GatewayServices {
  config: GatewayConfig;
  db: Db;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  auth: AuthService;
  audit: AuditService;
  /** signed, anchored checkpoints of the audit chain (docs/audit.md §3) */
  checkpoints: CheckpointService;
  consent: GatewayConsentService;
  patientIndex: PatientIndex;
  recognition: Recognition;
  patientData: PatientData;
  rateLimiter?: RateLimiter;
}

export interface Gateway {
  app: Express;
  services: GatewayServices;
  routes: Route[];
  close(): Promise<void>;
}

/**
 * The composition root (STYLE.md §8): builds every service from the configuration, applies the
 * migrations, starts the adapters and returns the app. Only gateway/server.ts listens.
 *
 * What holds what (docs/patient-data.md): adapters are held only by their HospitalCaller; callers
 * only by the patient index and the federation; those two only by the guarded patient data, which
 * the result, patient and recognition routes are given.
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
  const adapters: HospitalAdapter[] = [];
  const callers = new Map<string, HospitalCaller>();
  for (const h of config.hospitals) {
    const adapter = makeAdapter(h, { log, metrics, canonicalBase: config.canonicalBase }); // the factory binds the hospital and adapter kind to the log
    adapters.push(adapter);
    callers.set(h.id, new HospitalCaller(h.id, adapter, h.timeoutMs ?? config.hospitalTimeoutMs, metrics, log, opts.circuit ?? DEFAULT_CIRCUIT));
  }
  await Promise.all(adapters.map((a) => a.start()));

  const patientIndex = createPatientIndex({ db, clock, log, callers: () => callers });
  const auth = createAuthService(deps);
  const audit = createAuditService(deps);
  // private keys come from the key source, never the database: without one (or with a missing or
  // loose key file) the gateway does not start, and says which setting (docs/auth.md §9)
  const keySource = keySourceOf(config, log);
  const checkpoints = createCheckpointService({ ...deps, audit, source: keySource });
  try {
    await auth.init();
    await checkpoints.init();
  } catch (e) {
    await checkpoints.close();
    await Promise.allSettled(adapters.map((a) => a.close()));
    await closeReader(reader, db);
    if (ownDb) await db.destroy();
    throw e;
  }
  const consent = createConsentService({ ...deps, patientIndex });
  const recognition = createRecognitionRules(config, loadCatalog(config.catalog));
  const federation = createFederation({ callers, patientIndex, log });
  // the hospitals' PACS (DICOMweb), held by the guarded patient data alone
  const pacs = createPacsClient({
    pacs: config.hospitals.flatMap((h) => (h.pacs ? [{ hospitalId: h.id, dicomweb: h.pacs.dicomweb, timeoutMs: h.pacs.timeoutMs ?? h.timeoutMs ?? config.hospitalTimeoutMs }] : [])),
    log,
  });
  const patientData = createPatientData({ config, clock, metrics, federation, patientIndex, consent, recognition, pacs });
  const recognitionOps = createRecognitionOperations({ config, db, clock, rules: recognition, patientData });
  const codeMaps = await loadCodeMaps(config);
  const cdsHooks = createCdsHooks({ config, clock, db, rules: recognition, recognition: recognitionOps, codeMaps, budgetMs: opts.hookBudgetMs });

  const rateLimiter = config.rateLimit ? new RateLimiter(config.rateLimit.requestsPerSecond, config.rateLimit.burst) : undefined;
  const routes: Route[] = [
    ...opsRoutes({ config, db, metrics, hospitals: () => [...callers.values()].map((c) => c.health()), allRoutes: () => routes, version: VERSION, auditCheckpoints: () => checkpoints.health() }),
    ...authRoutes(auth, config),
    ...jwksRoutes({ jwks: () => publicJwks(reader, keySource!) }),
    ...signInRoutes(auth, config),
    ...organizationRoutes({ config }),
    ...patientRoutes({ config, patientData }),
    ...resultRoutes({ config, patientData }),
    ...recognitionRoutes(recognitionOps),
    ...consentRoutes(consent.registry, config.publicBaseUrl),
    ...auditRoutes({ reader, config, identityGroup: (id) => patientData.identityGroup(id), checkpoints, verifyParallel: verifyHelpers(reader, { log, ...opts.verifyHelpers }) }),
    ...cdsHooksRoutes(cdsHooks),
    ...dicomwebRoutes({ patientData }),
    ...accessReportRoutes({ reader, config, clock, patientData, catalog: recognition.catalog }),
  ];
  const admission = new AdmissionGate(config.admission).start();
  metrics.observeAdmission(() => admission.current);
  const app = createExpressApp({ config, clock, log, metrics, auth, audit, rateLimiter, admission }, routes);
  const services: GatewayServices = { config, db, clock, log, metrics, auth, audit, checkpoints, consent, patientIndex, recognition, patientData, rateLimiter };

  return {
    app,
    services,
    routes,
    async close() {
      admission.stop();
      await audit.close();
      await checkpoints.close(); // the shutdown checkpoint, over everything the writer drained
      await Promise.allSettled(adapters.map((a) => a.close()));
      pacs.close();
      await closeReader(reader, db);
      if (ownDb) await db.destroy();
    },
  };
}
