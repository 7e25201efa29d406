import { AccessRecord, type Clock } from '../../gateway/context';
import { createAuthService } from '../../gateway/auth/auth-service';
import { parseConfig, type GatewayConfig } from '../../gateway/config';
import type { FhirRequest, FhirResponse, Route } from '../../gateway/http/route';
import { silentLogger } from '../../gateway/logger';
import { createMetrics } from '../../gateway/metrics';
import type { AuthService } from '../../gateway/auth/contract';
import { authRoutes } from '../../gateway/http/routes/auth-routes';
import { createDb, type Db } from '../../gateway/storage/db';
import type { TestClient } from './auth';
import type { TestDb } from './databases';
import { makeKeyFolder, testKeys } from './trust';

/** Service-level set-up for auth tests: the real AuthService on a real test database. */

export const BASE_URL = 'http://127.0.0.1:8080';
export const TOKEN_URL = `${BASE_URL}/auth/token`;

export const HOSPITALS = [
  { id: 'xm-zsh', name: '厦门大学附属中山医院', city: '350200', grade: '3A', adapter: { type: 'fhir', baseUrl: 'http://127.0.0.1:9/fhir' } },
  { id: 'zz-sy', name: '漳州市医院', city: '350600', grade: '3A', adapter: { type: 'fhir', baseUrl: 'http://127.0.0.1:9/fhir' } },
];

/** `keys`: the key folder (default the test process's, support/trust.ts). */
export function testConfig(clients: TestClient[], auth?: Record<string, unknown>, keys: Record<string, unknown> = { directory: testKeys().directory }): GatewayConfig {
  return parseConfig({
    publicBaseUrl: BASE_URL,
    hospitals: HOSPITALS,
    clients: clients.map((c) => c.config),
    ...(auth ? { auth } : {}),
    keys,
  });
}

/** A clock tests can move. */
export class TestClock implements Clock {
  constructor(public t = Date.now()) {}
  now() {
    return new Date(this.t);
  }
  advance(seconds: number) {
    this.t += seconds * 1000;
  }
}

export interface AuthInstance {
  auth: AuthService;
  config: GatewayConfig;
  db: Db;
  tokenRoute: Route;
  metrics: ReturnType<typeof createMetrics>;
  /** a second connection this instance opened (closed by `close`) */
  close(): Promise<void>;
}

/**
 * One gateway instance's AuthService. `secondConnection` opens its own knex connection to the same
 * store (another gateway process on the same database).
 */
export async function authInstance(
  tdb: TestDb,
  clients: TestClient[],
  opts: {
    clock?: Clock;
    /** this instance's own key folder holding only this private JWK (as `keys.directory`), instead of the process's */
    signingKey?: Record<string, unknown>;
    /** the key folder to use (`keys.directory`) */
    keyDirectory?: string;
    secondConnection?: boolean;
    init?: boolean;
  } = {},
): Promise<AuthInstance> {
  const directory = opts.keyDirectory ?? (opts.signingKey ? makeKeyFolder({ jwk: opts.signingKey }).directory : testKeys().directory);
  const config = testConfig(clients, undefined, { directory });
  const db = opts.secondConnection ? createDb(tdb.config) : tdb.db;
  const metrics = createMetrics();
  const auth = createAuthService({ config, db, reader: db, clock: opts.clock ?? { now: () => new Date() }, log: silentLogger(), metrics });
  if (opts.init !== false) await auth.init();
  const tokenRoute = authRoutes(auth, config).find((r) => r.path === '/auth/token')!;
  return { auth, config, db, tokenRoute, metrics, close: async () => (opts.secondConnection ? db.destroy() : undefined) };
}

export function formRequest(body: unknown): FhirRequest {
  return {
    method: 'POST',
    params: {},
    query: {},
    body,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    record: new AccessRecord('test-request'),
    originalUrl: '/auth/token',
  };
}

/** Call the token route as the dispatcher would; returns the response and the request (requester, record). */
export async function postToken(instance: AuthInstance, body: unknown): Promise<{ res: FhirResponse; req: FhirRequest }> {
  const req = formRequest(body);
  const res = await instance.tokenRoute.handler(req);
  return { res, req };
}

export const bodyOf = (res: FhirResponse) => res.body as Record<string, unknown>;
