import { createPrivateKey } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import { loadDemoConsents } from '../../fixtures/demo/demo-consents';
import { loadDemoDecisions } from '../../fixtures/demo/demo-decisions';
import { loadDemoUsers } from '../../fixtures/demo/demo-users';
import { readDemoConsents, readDemoDecisions, readDemoPatients } from '../../fixtures/load';
import type { FhirHospitalServer } from '../../fixtures/servers/fhir-hospital-server';
import { createGateway, type Gateway, type GatewayOptions } from '../../gateway/app';
import { readDemoConfigJson, startDemoHospitals, DEMO_CONFIG, type DemoConfigJson } from '../../fixtures/demo/demo-network';
import { parseConfig, type GatewayConfig, type Role } from '../../gateway/config';
import type { Clock } from '../../gateway/context';
import { silentLogger } from '../../gateway/logger';
import request from 'supertest';
import { signClientAssertion, tokenRequestForm, type TestClient, type TestUser } from './auth';
import type { TestDb } from './databases';
import { trustConfig } from './trust';

const ROOT = path.resolve(__dirname, '..', '..');
/** The day the committed fixtures were generated for; tests run the network at this date. */
export const DEMO_ANCHOR = new Date('2026-11-29T10:00:00+08:00');
export const fixedClock = (d = DEMO_ANCHOR): Clock => ({ now: () => new Date(d) });

/** A clock that runs from `start` as real time does, and can be moved ahead (session expiry, lock-outs). */
export interface MovingClock extends Clock {
  advance(ms: number): void;
}
export function movingClock(start = DEMO_ANCHOR): MovingClock {
  const realStart = Date.now();
  let offset = 0;
  return {
    now: () => new Date(start.getTime() + (Date.now() - realStart) + offset),
    advance: (ms) => {
      offset += ms;
    },
  };
}

export interface DemoPatient {
  nationalId: string;
  name?: string;
  homeCity?: string;
  hospitals: string[];
  consent: string;
}

export interface DemoNetwork {
  app: Express;
  gateway: Gateway;
  config: GatewayConfig;
  raw: DemoConfigJson;
  patients: DemoPatient[];
  /** with `listen`: the URL the gateway listens on, which is its publicBaseUrl (a browser's redirect_uri must match it) */
  baseUrl?: string;
  /** the simulated FHIR hospitals, by hospital id, to slow one down or make it fail */
  fhirServers: ReadonlyMap<string, FhirHospitalServer>;
  /** a token for a demo client (its committed private key), optionally for a person and purpose */
  token(clientId: string, opts?: { user?: TestUser; purposeOfUse?: string; scope?: string }): Promise<string>;
  close(): Promise<void>;
}

/** A demo client as a TestClient, from the committed demo key. */
export function demoClient(raw: DemoConfigJson, id: string): TestClient {
  const entry = raw.clients.find((c) => c.id === id);
  if (!entry) throw new Error(`no demo client ${id}`);
  const jwk = JSON.parse(readFileSync(path.join(ROOT, 'fixtures', 'clients', `${id}.private.jwk.json`), 'utf8'));
  return {
    id,
    config: entry as unknown as TestClient['config'],
    privateKey: createPrivateKey({ key: jwk, format: 'jwk' }),
    kid: jwk.kid,
    alg: jwk.alg,
  };
}

/**
 * The demo network of fixtures/ on loopback with ephemeral ports and a temp folder, the real
 * gateway in front on the given test database, and the demo consents loaded.
 */
export async function startDemoNetwork(opts: {
  db: TestDb;
  clock?: Clock;
  delayMs?: number;
  /** change the configuration JSON before it is validated (timeouts, consent default, …) */
  edit?: (raw: DemoConfigJson) => void;
  loadConsents?: boolean;
  /** load the demo recognition decisions too (for $recognition-stats) */
  loadDecisions?: boolean;
  /** listen on a real loopback port, publicBaseUrl = that URL (for a browser) */
  listen?: boolean;
  options?: Omit<GatewayOptions, 'db' | 'clock'>;
}): Promise<DemoNetwork> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'xzq-demo-'));
  const demo = await startDemoHospitals(readDemoConfigJson(), { anchor: DEMO_ANCHOR, dataDir, delayMs: opts.delayMs, ephemeralPorts: true });
  // the test's key folder and anchor, not the demo's data/demo-keys (support/trust.ts)
  Object.assign(demo.config, trustConfig(opts.db.url, demo.config as { audit?: Record<string, unknown> }));
  // The port is taken before the configuration is read, so publicBaseUrl names it exactly.
  let server: Server | undefined;
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  if (opts.listen) {
    server = createServer((req, res) => (handler ? handler(req, res) : res.writeHead(503).end()));
    await new Promise<void>((resolve, reject) => server!.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
    demo.config.publicBaseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  opts.edit?.(demo.config);
  const config = parseConfig(demo.config, { baseDir: path.dirname(DEMO_CONFIG), env: {} });
  const clock = opts.clock ?? fixedClock();
  const gateway = await createGateway(config, { log: silentLogger(), ...opts.options, db: opts.db.db, clock });
  await demo.afterGatewayStart(); // the MLLP hospital's LIS sends its messages, as at npm start
  await loadDemoUsers(opts.db.db, clock.now());
  if (opts.loadConsents !== false) {
    await loadDemoConsents({ services: gateway.services, patientIndex: gateway.services.patientIndex }, readDemoConsents(path.join(dataDir, 'consents.json')));
  }
  if (opts.loadDecisions) {
    const { db, patientIndex, recognition } = gateway.services;
    await loadDemoDecisions({ db, patientIndex, catalog: [...recognition.catalog], config }, readDemoDecisions(path.join(dataDir, 'recognition-decisions.json')));
  }
  if (server) handler = gateway.app;
  const patients = readDemoPatients(path.join(dataDir, 'demo-patients.json')) as DemoPatient[];
  return {
    app: gateway.app,
    gateway,
    config,
    raw: demo.config,
    patients,
    ...(server ? { baseUrl: config.publicBaseUrl } : {}),
    fhirServers: demo.fhirServers,
    token: async (clientId, o = {}) => {
      // Signed at the gateway's (fixed) time, so exp is within its 5-minute window.
      const assertion = signClientAssertion(demoClient(demo.config, clientId), {
        aud: `${config.publicBaseUrl}/auth/token`,
        iat: Math.floor(clock.now().getTime() / 1000),
        user: o.user ?? { id: 'D1029', name: '林医生' },
        purposeOfUse: o.purposeOfUse,
      });
      const res = await request(gateway.app).post('/auth/token').type('form').send(tokenRequestForm(assertion, o.scope));
      if (res.status !== 200) throw new Error(`token for ${clientId}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.access_token as string;
    },
    async close() {
      if (server) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server!.close(() => resolve()));
      }
      await gateway.close();
      await demo.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export type { Role };
