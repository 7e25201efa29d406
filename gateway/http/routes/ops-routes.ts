import type { GatewayConfig } from '../../config';
import { capabilityStatement } from './capability';
import type { HospitalCaller } from '../../federation/hospital-caller';
import type { Route } from '../route';
import type { Metrics } from '../../metrics';
import type { Db } from '../../storage/db';

/**
 * Operations endpoints (API.md §8 and §4 metadata): `/metadata` and `/healthz` are open and hold no
 * patient data; `/metrics` is for auditor and monitor clients.
 */
export function opsRoutes(deps: {
  config: GatewayConfig;
  db: Db;
  metrics: Metrics;
  callers: Map<string, HospitalCaller>;
  allRoutes: () => Route[];
  version: string;
}): Route[] {
  const { config, db, metrics, callers } = deps;
  let capability: ReturnType<typeof capabilityStatement> | undefined;
  return [
    {
      method: 'GET',
      path: '/metadata',
      interaction: 'capabilities',
      access: { kind: 'none' },
      audited: false,
      body: 'none',
      handler: async () => ({ body: (capability ??= capabilityStatement(config, deps.allRoutes(), deps.version)) }),
    },
    {
      method: 'GET',
      path: '/healthz',
      interaction: 'healthz',
      access: { kind: 'none' },
      audited: false,
      body: 'none',
      handler: async () => {
        let database: 'up' | 'down' = 'up';
        try {
          await db.raw('select 1');
        } catch {
          database = 'down';
        }
        const hospitals = [...callers.values()].map((c) => {
          const s = c.adapter.status();
          const circuit = c.state;
          const state = circuit === 'open' ? 'circuit-open' : s.state === 'down' ? 'down' : c.lastError && circuit !== 'closed' ? 'down' : 'up';
          return {
            id: c.hospitalId,
            kind: c.adapter.kind,
            state,
            lastError: c.lastError ?? s.lastError ?? null,
            lastErrorAt: c.lastErrorAt ?? s.lastErrorAt ?? null,
            ...(s.details ? { details: s.details } : {}),
          };
        });
        return {
          status: database === 'up' ? 200 : 503,
          contentType: 'application/json; charset=utf-8',
          body: { status: database === 'up' ? 'ok' : 'unavailable', database, hospitals },
        };
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      interaction: 'metrics',
      access: { kind: 'token', roles: ['auditor', 'monitor'] },
      audited: true,
      body: 'none',
      handler: async () => ({ body: await metrics.registry.metrics(), contentType: metrics.registry.contentType }),
    },
  ];
}
