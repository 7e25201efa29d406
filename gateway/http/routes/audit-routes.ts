import type { Bundle, Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';
import type { GatewayConfig } from '../../config';
import { badRequest, methodNotAllowed, notFound } from '../../fhir/outcomes';
import type { FhirRequest, FhirResponse, Route, RouteAccess, SearchParamDeclaration, SearchParamType } from '../route';
import type { Db } from '../../storage/db';
import { readEvent, searchEvents, verifyChain, type VerifyOptions } from '../../audit/audit-store';
import type { CheckpointService } from '../../audit/checkpoint-service';
import { checkpointsAfter } from '../../audit/checkpoint-store';
import { verifyTrail, type TrailReport } from '../../audit/trail-verify';
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
  /** `$verify` shared out over helper processes (audit/verify-helpers.ts) */
  verifyParallel?: VerifyOptions['parallel'];
  /** merged identities (docs/patient-data.md §5): a patient's trail is found under any of their ids */
  identityGroup?: (patientId: string) => Promise<string[]>;
  /** the signed checkpoints: with them `$verify` checks the anchor too, and `$checkpoints` lists them */
  checkpoints?: Pick<CheckpointService, 'anchor' | 'verifiers'>;
}

/** `GET /AuditEvent` (and `POST /AuditEvent/_search`): a searchset, newest first, keyset-paged. */
export async function searchAuditEvents(req: FhirRequest, deps: AuditRouteDeps): Promise<FhirResponse> {
  const { query, empty, ignored } = parseAuditSearch(req.query, req.headers);
  req.record.resourceType = 'AuditEvent';
  // an auditor reading a patient's trail is itself an access to that patient
  for (const p of query.patients ?? []) req.record.addPatient(p);
  // merged identities: the trail of each id asked for includes the others' (the events stay as written)
  if (query.patients?.length && deps.identityGroup) {
    const groups = await Promise.all(query.patients.map((p) => deps.identityGroup!(p)));
    query.patients = [...new Set([...query.patients, ...groups.flat()])];
  }
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

/**
 * `GET /AuditEvent/$verify`: walks the whole chain and names the first broken link; with
 * checkpoints, also checks every checkpoint (anchor and database copies) and that the chain passes
 * through each anchored head, and names the first checkpoint that fails (docs/audit.md §3).
 */
export async function verifyAuditChain(req: FhirRequest, deps: AuditRouteDeps): Promise<FhirResponse> {
  req.record.resourceType = 'AuditEvent';
  const trail: TrailReport | undefined = deps.checkpoints
    ? await verifyTrail({ reader: deps.reader, anchor: deps.checkpoints.anchor, verifiers: await deps.checkpoints.verifiers(), batchSize: deps.verifyBatchSize, parallel: deps.verifyParallel })
    : undefined;
  const r = trail?.chain ?? (await verifyChain(deps.reader, { batchSize: deps.verifyBatchSize, parallel: deps.verifyParallel }));
  const parameter: ParametersParameter[] = [
    { name: 'valid', valueBoolean: trail ? trail.valid : r.valid },
    { name: 'checked', valueInteger: r.checked },
  ];
  if (r.fault) {
    if (r.fault.id) parameter.push({ name: 'firstInvalid', valueString: r.fault.id });
    parameter.push({ name: 'problem', valueCode: r.fault.kind });
  }
  parameter.push({ name: 'headSeq', valueString: String(r.head.seq) }, { name: 'headHash', valueString: r.head.hash });
  if (trail) parameter.push(...checkpointParameters(trail));
  const body: Parameters = { resourceType: 'Parameters', parameter };
  return { body };
}

/** What `$verify` says about the checkpoints and the anchor (docs/audit.md §3 lists them). */
function checkpointParameters(t: TrailReport): ParametersParameter[] {
  const out: ParametersParameter[] = [
    { name: 'checkpoints', valueInteger: t.checkpoints },
    { name: 'anchoredCheckpoints', valueInteger: t.anchored },
    { name: 'unanchoredCheckpoints', valueInteger: t.unanchored },
    { name: 'invalidCheckpoints', valueInteger: t.invalid },
    { name: 'uncheckpointedEvents', valueInteger: t.uncheckpointed },
  ];
  if (t.lastCheckpoint) out.push({ name: 'lastCheckpoint', valueInteger: t.lastCheckpoint.seq });
  if (t.firstFault) {
    out.push({ name: 'firstInvalidCheckpoint', valueInteger: t.firstFault.seq }, { name: 'checkpointProblem', valueCode: t.firstFault.problem });
    if (t.firstFault.headSeq !== undefined) out.push({ name: 'checkpointHeadSeq', valueString: String(t.firstFault.headSeq) });
    out.push({ name: 'checkpointDetail', valueString: t.firstFault.detail });
  }
  if (t.anchor === 'unreadable') {
    out.push({ name: 'anchorProblem', valueCode: 'anchor-unreadable' }, { name: 'anchorDetail', valueString: `the anchor cannot be read (${t.anchorError ?? 'error'})` });
  } else if (t.anchorFaults.length) {
    const f = t.anchorFaults[0]!;
    out.push({ name: 'anchorProblem', valueCode: f.problem }, { name: 'anchorLine', valueInteger: f.line }, { name: 'anchorDetail', valueString: f.detail });
  }
  return out;
}

const MAX_CHECKPOINTS_PAGE = 1000;

function countParam(req: FhirRequest, name: string, fallback: number, min: number, max: number, code: 'bad-count' | 'invalid-parameter'): number {
  const values = req.query[name] ?? [];
  if (values.length > 1) throw badRequest(`${name} may be given once`, name, 'duplicate-parameter');
  if (!values.length) return fallback;
  const n = /^\d{1,10}$/.test(values[0]!) ? Number(values[0]) : NaN;
  if (!(n >= min && n <= max)) throw badRequest(`${name} must be a whole number from ${min} to ${max}`, name, code);
  return n;
}

/**
 * `GET /AuditEvent/$checkpoints?after=&_count=`: the signed checkpoints, oldest first, as a
 * Parameters (one `checkpoint` part each, then the `key`s that sign them, then `next`), so an
 * auditor can copy them and check them away from the gateway (docs/audit.md §3).
 */
export async function listCheckpoints(req: FhirRequest, deps: AuditRouteDeps & { checkpoints: NonNullable<AuditRouteDeps['checkpoints']> }): Promise<FhirResponse> {
  req.record.resourceType = 'AuditEvent';
  const count = countParam(req, '_count', 100, 1, MAX_CHECKPOINTS_PAGE, 'bad-count');
  const after = countParam(req, 'after', 0, 0, Number.MAX_SAFE_INTEGER, 'invalid-parameter');
  const page = await checkpointsAfter(deps.reader, after, count + 1);
  const parameter: ParametersParameter[] = page.slice(0, count).map((c) => ({
    name: 'checkpoint',
    part: [
      { name: 'seq', valueInteger: c.seq },
      { name: 'kind', valueCode: c.kind },
      ...(c.slot ? [{ name: 'slot', valueInstant: c.slot }] : []),
      { name: 'recorded', valueInstant: c.at },
      { name: 'headSeq', valueString: String(c.headSeq) },
      { name: 'headHash', valueString: c.headHash },
      { name: 'previous', valueString: c.prev },
      { name: 'hash', valueString: c.hash },
      { name: 'keyId', valueString: c.keyId },
      { name: 'signature', valueBase64Binary: Buffer.from(c.signature, 'base64url').toString('base64') },
    ],
  }));
  for (const [keyId, key] of await deps.checkpoints.verifiers()) {
    parameter.push({
      name: 'key',
      part: [
        { name: 'keyId', valueString: keyId },
        { name: 'publicKey', valueBase64Binary: key.export({ format: 'der', type: 'spki' }).toString('base64') },
      ],
    });
  }
  if (page.length > count) {
    const next = new URLSearchParams({ after: String(page[count - 1]!.seq), _count: String(count) });
    parameter.push({ name: 'next', valueUri: `${deps.config.publicBaseUrl}/AuditEvent/$checkpoints?${next.toString()}` });
  }
  return { body: { resourceType: 'Parameters', parameter } satisfies Parameters };
}

async function refuseWrite(): Promise<FhirResponse> {
  throw methodNotAllowed('AuditEvents cannot be created, changed or deleted through the API');
}

/** Every audit route, `$verify`, `$checkpoints` and `_search` before `:id`. */
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
    ...(deps.checkpoints
      ? [route({ method: 'GET', path: '/AuditEvent/$checkpoints', interaction: '$checkpoints', access: READ, handler: (req) => listCheckpoints(req, { ...deps, checkpoints: deps.checkpoints! }) })]
      : []),
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
