import type { Bundle, Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';
import type { GatewayConfig } from '../../config';
import { methodNotAllowed, notFound } from '../../fhir/outcomes';
import type { FhirRequest, FhirResponse, Route, RouteAccess, SearchParamDeclaration, SearchParamType } from '../route';
import type { Db } from '../../storage/db';
import { readEvent, searchEvents, verifyChain } from '../../audit/audit-store';
import { AUDIT_SEARCH_PARAMS, CURSOR_PARAM, parseAuditSearch } from '../../audit/search-params';
import { ignoredOutcomes } from '../../fhir/search-params';

/**
 * The auditor's endpoints (API.md §7): search, read, `$verify`; every write answers 405, since the
 * trail is changed only by the gateway itself. Handlers are thin: parameters → store → FHIR.
 */

const SEARCH: RouteAccess = { kind: 'token', resource: 'AuditEvent', permission: 's', roles: ['auditor'] };
const READ: RouteAccess = { kind: 'token', resource: 'AuditEvent', permission: 'r', roles: ['auditor'] };
/** writes are refused for everyone authenticated: 405, not 403, since no one may */
const ANY_TOKEN: RouteAccess = { kind: 'token' };
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

const PARAM_TYPES: Record<(typeof AUDIT_SEARCH_PARAMS)[number], SearchParamType> = {
  patient: 'reference',
  agent: 'token',
  date: 'date',
  outcome: 'token',
  purpose: 'token',
  subtype: 'token',
  'request-id': 'token',
};
/** what the search applies, for the CapabilityStatement (`_cursor` is the next link's, not a client's) */
const SEARCH_PARAMS: SearchParamDeclaration[] = [
  ...AUDIT_SEARCH_PARAMS.map((name) => ({ name, type: PARAM_TYPES[name] })),
  { name: '_count', type: 'number' },
];

export interface AuditRouteDeps {
  /** auditors' reads run beside the appends (storage/db.ts createReader) */
  reader: Db;
  config: Pick<GatewayConfig, 'publicBaseUrl'>;
  /** rows per batch when walking the chain */
  verifyBatchSize?: number;
}

/** `GET /AuditEvent` (and `POST /AuditEvent/_search`): a searchset, newest first, keyset-paged. */
export async function searchAuditEvents(req: FhirRequest, deps: AuditRouteDeps): Promise<FhirResponse> {
  const { query, empty, ignored } = parseAuditSearch(req.query, req.headers);
  req.record.resourceType = 'AuditEvent';
  // an auditor reading a patient's trail is itself an access to that patient
  for (const p of query.patients ?? []) req.record.addPatient(p);
  const page = empty ? { events: [] as Array<{ seq: number; resource: Record<string, unknown> }> } : await searchEvents(deps.reader, query);
  const base = `${deps.config.publicBaseUrl}/AuditEvent`;
  const keep = new URLSearchParams();
  for (const [k, values] of Object.entries(req.query)) {
    if (k === CURSOR_PARAM) continue;
    for (const v of values) keep.append(k, v);
  }
  const self = new URLSearchParams(keep);
  if (query.before !== undefined) self.set(CURSOR_PARAM, String(query.before));
  const link: NonNullable<Bundle['link']> = [{ relation: 'self', url: withQuery(base, self) }];
  if ('next' in page && page.next !== undefined) {
    const next = new URLSearchParams(keep);
    next.set(CURSOR_PARAM, String(page.next));
    link.push({ relation: 'next', url: withQuery(base, next) });
  }
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'searchset',
    link,
    entry: [
      ...page.events.map((e) => ({
        fullUrl: `${base}/${e.resource.id as string}`,
        resource: e.resource as unknown as Resource,
        search: { mode: 'match' as const },
      })),
      ...ignoredOutcomes(ignored ?? []).map((o) => ({ resource: o, search: { mode: 'outcome' as const } })),
    ],
  };
  return { body: bundle };
}

const withQuery = (base: string, q: URLSearchParams) => (q.size ? `${base}?${q.toString()}` : base);

/** `GET /AuditEvent/:id` */
export async function readAuditEvent(req: FhirRequest, deps: AuditRouteDeps): Promise<FhirResponse> {
  const id = req.params.id ?? '';
  req.record.resourceType = 'AuditEvent';
  if (!FHIR_ID.test(id)) throw notFound('AuditEvent not found');
  const found = await readEvent(deps.reader, id);
  if (!found) throw notFound('AuditEvent not found');
  req.record.resourceIds.add(id);
  req.record.addPatient(found.patientId ?? undefined);
  return { body: found.resource as unknown as Resource };
}

/** `GET /AuditEvent/$verify`: walks the whole chain; names the first broken link. */
export async function verifyAuditChain(req: FhirRequest, deps: AuditRouteDeps): Promise<FhirResponse> {
  req.record.resourceType = 'AuditEvent';
  const r = await verifyChain(deps.reader, { batchSize: deps.verifyBatchSize });
  const parameter: ParametersParameter[] = [
    { name: 'valid', valueBoolean: r.valid },
    { name: 'checked', valueInteger: r.checked },
  ];
  if (r.fault) {
    if (r.fault.id) parameter.push({ name: 'firstInvalid', valueString: r.fault.id });
    parameter.push({ name: 'problem', valueCode: r.fault.kind });
  }
  parameter.push({ name: 'headSeq', valueString: String(r.head.seq) }, { name: 'headHash', valueString: r.head.hash });
  const body: Parameters = { resourceType: 'Parameters', parameter };
  return { body };
}

async function refuseWrite(): Promise<FhirResponse> {
  throw methodNotAllowed('AuditEvents cannot be created, changed or deleted through the API');
}

/** Every audit route, `$verify` and `_search` before `:id`. */
export function auditRoutes(deps: AuditRouteDeps): Route[] {
  const route = (r: Omit<Route, 'audited' | 'resourceType'>): Route => ({ ...r, resourceType: 'AuditEvent', audited: true });
  // The writes exist only to answer 405 (audited): `refusesAll` keeps them out of the CapabilityStatement.
  const refusal = (method: Route['method'], path: string, interaction: string): Route =>
    route({ method, path, interaction, access: ANY_TOKEN, body: 'none', refusesAll: true, handler: refuseWrite });
  return [
    route({ method: 'GET', path: '/AuditEvent', interaction: 'search-type', access: SEARCH, searchParams: SEARCH_PARAMS, handler: (req) => searchAuditEvents(req, deps) }),
    route({
      method: 'POST',
      path: '/AuditEvent/_search',
      interaction: 'search-type',
      access: SEARCH,
      body: 'form',
      searchParams: SEARCH_PARAMS,
      handler: (req) => searchAuditEvents(req, deps),
    }),
    route({ method: 'GET', path: '/AuditEvent/$verify', interaction: '$verify', access: READ, handler: (req) => verifyAuditChain(req, deps) }),
    route({ method: 'GET', path: '/AuditEvent/:id', interaction: 'read', access: READ, handler: (req) => readAuditEvent(req, deps) }),
    refusal('POST', '/AuditEvent', 'create'),
    refusal('PUT', '/AuditEvent', 'update'),
    refusal('PATCH', '/AuditEvent', 'patch'),
    refusal('DELETE', '/AuditEvent', 'delete'),
    refusal('POST', '/AuditEvent/:id', 'create'),
    refusal('PUT', '/AuditEvent/:id', 'update'),
    refusal('PATCH', '/AuditEvent/:id', 'patch'),
    refusal('DELETE', '/AuditEvent/:id', 'delete'),
  ];
}
