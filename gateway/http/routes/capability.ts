import type { CapabilityStatement, CapabilityStatementRestResource, CapabilityStatementRestResourceInteraction } from '@medplum/fhirtypes';
import type { GatewayConfig } from '../../config';
import type { Route } from '../route';

type TypeInteraction = CapabilityStatementRestResourceInteraction['code'];
/** The type-level interactions of FHIR R4 (`type-restful-interaction`): a route's `interaction` that is one of these is declared. */
const TYPE_INTERACTIONS: ReadonlySet<string> = new Set<TypeInteraction>([
  'read',
  'vread',
  'update',
  'patch',
  'delete',
  'history-instance',
  'history-type',
  'create',
  'search-type',
]);

/**
 * `GET /metadata`: built from the route table alone, so it says what the gateway really offers and
 * nothing more. A resource's interactions and operations are those of its routes, but for routes
 * that exist only to refuse (`refusesAll`: the AuditEvent writes, DELETE /Consent answer 405); its
 * search parameters and includes are those its search routes declare they apply
 * (`Route.searchParams`, each also accepted under `Prefer: handling=strict`).
 */
export function capabilityStatement(config: GatewayConfig, routes: Route[], version: string): CapabilityStatement {
  const byType = new Map<string, CapabilityStatementRestResource>();
  const systemOps: Array<{ name: string; definition: string }> = [];
  for (const r of routes) {
    if (r.refusesAll) continue;
    if (r.interaction.startsWith('$')) {
      const op = { name: r.interaction.slice(1), definition: `${config.canonicalBase}/OperationDefinition/${r.interaction.slice(1)}` };
      if (!r.resourceType) {
        if (!systemOps.some((o) => o.name === op.name)) systemOps.push(op);
        continue;
      }
      const res = resourceOf(byType, r.resourceType);
      res.operation ??= [];
      if (!res.operation.some((o) => o.name === op.name)) res.operation.push(op);
      continue;
    }
    if (!r.resourceType || !TYPE_INTERACTIONS.has(r.interaction)) continue;
    const res = resourceOf(byType, r.resourceType);
    const code = r.interaction as TypeInteraction;
    res.interaction ??= [];
    if (!res.interaction.some((i) => i.code === code)) res.interaction.push({ code });
    if (code !== 'search-type') continue;
    for (const p of r.searchParams ?? []) {
      res.searchParam ??= [];
      if (!res.searchParam.some((x) => x.name === p.name)) res.searchParam.push({ name: p.name, type: p.type });
    }
    for (const inc of r.searchInclude ?? []) {
      res.searchInclude ??= [];
      if (!res.searchInclude.includes(inc)) res.searchInclude.push(inc);
    }
  }
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-11-29',
    kind: 'instance',
    publisher: 'XZQ regional health information platform',
    software: { name: 'XZQ results gateway', version },
    implementation: { description: 'Xiamen–Zhangzhou–Quanzhou results gateway', url: config.publicBaseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json'],
    rest: [
      {
        mode: 'server',
        security: {
          cors: false,
          service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }] }],
          description: 'SMART Backend Services (client_credentials, private_key_jwt RS384/ES384) for hospital systems; SMART App Launch (authorization code with PKCE S256, rotating refresh tokens) for people signing in to the console; see /.well-known/smart-configuration',
          extension: [
            {
              url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
              extension: [
                { url: 'token', valueUri: `${config.publicBaseUrl}/auth/token` },
                { url: 'authorize', valueUri: `${config.publicBaseUrl}/auth/authorize` },
                { url: 'revoke', valueUri: `${config.publicBaseUrl}/auth/revoke` },
              ],
            },
          ],
        },
        resource: [...byType.values()].sort((a, b) => a.type.localeCompare(b.type)),
        ...(systemOps.length ? { operation: systemOps } : {}),
      },
    ],
  };
}

function resourceOf(m: Map<string, CapabilityStatementRestResource>, type: string): CapabilityStatementRestResource {
  let r = m.get(type);
  if (!r) {
    r = { type: type as CapabilityStatementRestResource['type'], profile: `http://hl7.org/fhir/StructureDefinition/${type}` };
    m.set(type, r);
  }
  return r;
}
