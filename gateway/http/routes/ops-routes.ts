import type { GatewayConfig } from '../../config';
import { capabilityStatement } from './capability';
import type { HospitalHealth } from '../../federation/hospital-caller';
import type { Route } from '../route';
import type { Metrics } from '../../metrics';
import type { Db } from '../../storage/db';
import type { CheckpointHealth } from '../../audit/checkpoint-service';

/**
 * Operations endpoints (API.md §8 and §4 metadata): `/metadata` and `/healthz` are open and hold no
 * patient data; `/metrics` is for auditor and monitor clients.
 */
export function opsRoutes(deps: {
  config: GatewayConfig;
  db: Db;
  metrics: Metrics;
  /** each hospital's health, as its caller reports it */
  hospitals: () => HospitalHealth[];
  allRoutes: () => Route[];
  version: string;
  /** the audit checkpoints' state (docs/audit.md §3): a failing anchor shows here, requests go on */
  auditCheckpoints?: () => CheckpointHealth;
}): Route[] {
  const { config, db, metrics } = deps;
  let capability: ReturnType<typeof capabilityStatement> | undefined;
  return [
    {
      method: 'GET',
      path: '/metadata',
      interaction: 'capabilities',
      access: { kind: 'none' },
      audited: false,
      admitted: false,
      body: 'none',
      handler: async () => ({ body: (capability ??= capabilityStatement(config, deps.allRoutes(), deps.version)) }),
    },
    {
      method: 'GET',
      path: '/healthz',
      interaction: 'healthz',
      access: { kind: 'none' },
      audited: false,
      admitted: false,
      body: 'none',
      handler: async () => {
        let database: 'up' | 'down' = 'up';
        try {
          await db.raw('select 1');
        } catch {
          database = 'down';
        }
        const hospitals = deps.hospitals();
        return {
          status: database === 'up' ? 200 : 503,
          contentType: 'application/json; charset=utf-8',
          body: {
            status: database === 'up' ? 'ok' : 'unavailable',
            database,
            hospitals,
            ...(deps.auditCheckpoints ? { auditCheckpoints: deps.auditCheckpoints() } : {}),
          },
        };
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      interaction: 'metrics',
      access: { kind: 'token', roles: ['auditor', 'monitor'] },
      audited: true,
      admitted: false,
      body: 'none',
      handler: async () => ({ body: await metrics.registry.metrics(), contentType: metrics.registry.contentType }),
    },
  ];
}
