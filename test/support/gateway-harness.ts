import type { Express } from 'express';
import { createGateway, type Gateway, type GatewayOptions, type GatewayServices } from '../../gateway/app';
import { parseConfig, type GatewayConfig } from '../../gateway/config';
import type { Clock } from '../../gateway/context';
import { silentLogger } from '../../gateway/logger';
import type { TestClient } from './auth';
import type { TestDb } from './databases';
import { trustConfig } from './trust';

export const TEST_BASE_URL = 'http://127.0.0.1:8080';

/** A hospital nobody answers for (connection refused on the discard port): for tests that never reach hospitals. */
export const OFFLINE_HOSPITAL = {
  id: 'xm-offline',
  name: '测试医院',
  city: '350200',
  grade: '3A',
  recognizedItems: [],
  timeoutMs: 500,
  adapter: { type: 'fhir', baseUrl: 'http://127.0.0.1:9/fhir' },
};

export interface StartedGateway {
  app: Express;
  services: GatewayServices;
  config: GatewayConfig;
  gateway: Gateway;
  close(): Promise<void>;
}

/**
 * The real gateway on a test database: real config validation, real services, real routes. The
 * database stays open (the test owns it); `close` stops adapters and the audit writer.
 */
export async function startGateway(opts: {
  db: TestDb;
  clients?: TestClient[];
  /** hospital config entries as in the JSON file (default: one offline hospital) */
  hospitals?: unknown[];
  consentDefault?: 'deny' | 'permit';
  clock?: Clock;
  catalog?: string;
  publicBaseUrl?: string;
  extra?: Record<string, unknown>;
  options?: Omit<GatewayOptions, 'db' | 'clock'>;
}): Promise<StartedGateway> {
  const config = parseConfig({
    publicBaseUrl: opts.publicBaseUrl ?? TEST_BASE_URL,
    consent: { default: opts.consentDefault ?? 'deny' },
    hospitals: opts.hospitals ?? [OFFLINE_HOSPITAL],
    clients: (opts.clients ?? []).map((c) => c.config),
    ...(opts.catalog ? { catalog: opts.catalog } : {}),
    // a key folder and a checkpoint anchor for every test gateway (support/trust.ts); `extra` may replace them
    ...trustConfig(opts.db.url),
    ...(opts.extra ?? {}),
  });
  const gateway = await createGateway(config, { log: silentLogger(), ...opts.options, db: opts.db.db, clock: opts.clock });
  return { app: gateway.app, services: gateway.services, config, gateway, close: () => gateway.close() };
}
