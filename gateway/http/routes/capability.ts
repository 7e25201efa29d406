import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import type { GatewayConfig } from '../../config';
import type { Route } from '../route';

/** Search parameters per resource, with their FHIR types, for the CapabilityStatement. */
const SEARCH_PARAM_TYPES: Record<string, Array<[string, CapabilityParamType]>> = {
  Patient: [['identifier', 'token'], ['_id', 'token']],
  DiagnosticReport: [['patient', 'reference'], ['patient.identifier', 'token'], ['category', 'token'], ['code', 'token'], ['date', 'date'], ['status', 'token'], ['hospital', 'token'], ['_count', 'number'], ['_sort', 'string']],
  Observation: [['patient', 'reference'], ['patient.identifier', 'token'], ['category', 'token'], ['code', 'token'], ['date', 'date'], ['status', 'token'], ['hospital', 'token'], ['_count', 'number'], ['_sort', 'string']],
  ImagingStudy: [['patient', 'reference'], ['patient.identifier', 'token'], ['modality', 'token'], ['started', 'date'], ['status', 'token'], ['hospital', 'token'], ['_count', 'number'], ['_sort', 'string']],
  Organization: [['_id', 'token'], ['city', 'token'], ['grade', 'token'], ['name', 'string']],
  Consent: [['patient', 'reference'], ['status', 'token']],
  AuditEvent: [['patient', 'reference'], ['agent', 'token'], ['date', 'date'], ['outcome', 'token'], ['purpose', 'token'], ['subtype', 'token'], ['request-id', 'token'], ['_count', 'number']],
};
type CapabilityParamType = 'number' | 'date' | 'string' | 'token' | 'reference';

const INTERACTIONS: Record<string, 'read' | 'search-type' | 'create' | 'update' | 'history-instance' | 'vread'> = {
  read: 'read',
  'search-type': 'search-type',
  create: 'create',
  update: 'update',
  'history-instance': 'history-instance',
  vread: 'vread',
};

/** `GET /metadata`: built from the route table, so it always says what the gateway really offers. */
export function capabilityStatement(config: GatewayConfig, routes: Route[], version: string): CapabilityStatement {
  const byType = new Map<string, CapabilityStatementRestResource>();
  const systemOps: Array<{ name: string; definition: string }> = [];
  for (const r of routes) {
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
    const code = INTERACTIONS[r.interaction];
    if (!code || !r.resourceType) continue;
    const res = resourceOf(byType, r.resourceType);
    res.interaction ??= [];
    if (!res.interaction.some((i) => i.code === code)) res.interaction.push({ code });
  }
  for (const res of byType.values()) {
    if (res.interaction?.some((i) => i.code === 'search-type')) {
      res.searchParam = (SEARCH_PARAM_TYPES[res.type] ?? []).map(([name, type]) => ({ name, type }));
    }
    if (res.type === 'DiagnosticReport') res.searchInclude = ['DiagnosticReport:result'];
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
          description: 'SMART Backend Services (client_credentials, private_key_jwt RS384/ES384); see /.well-known/smart-configuration',
          extension: [
            {
              url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
              extension: [{ url: 'token', valueUri: `${config.publicBaseUrl}/auth/token` }],
            },
          ],
        },
        resource: [...byType.values()].sort((a, b) => a.type.localeCompare(b.type)),
        operation: systemOps,
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
