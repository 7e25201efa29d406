import type {
  AuditEvent,
  AuditEventAgent,
  AuditEventEntity,
  CodeableConcept,
  Coding,
} from '@medplum/fhirtypes';
import type { AuditEntry } from './contract';
import type { Requester } from '../context';
import { safeText } from '../fhir/fhir-string';

/**
 * Builds the IHE BALP AuditEvents for one answered request (API.md §7). Pure: everything it needs is
 * in the entry and the context; the caller stores what it returns. Never copies a response body or
 * result data into an event: only who asked, what for, which patient, which hospitals answered, and
 * the request line itself (base64, capped).
 */

export const AUDIT_EVENT_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
export const RESTFUL_INTERACTION_SYSTEM = 'http://hl7.org/fhir/restful-interaction';
export const DICOM_SYSTEM = 'http://dicom.nema.org/resources/ontology/DCM';
export const ACT_REASON_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
export const ENTITY_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
export const OBJECT_ROLE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/object-role';
export const SOURCE_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/security-source-type';
export const PARTICIPATION_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';
export const ROLE_CLASS_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-RoleClass';
export const BALP_ENTITY_TYPE_SYSTEM = 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType';

/** Paths under the canonical base of the code and identifier systems the audit trail defines. */
export const GATEWAY_OPERATION_PATH = '/CodeSystem/gateway-operation';
export const CLIENT_ID_PATH = '/sid/client-id';
export const SUBJECT_ID_PATH = '/sid/subject-id';
/** account names of people who sign in (docs/users.md) */
export const USERNAME_PATH = '/sid/username';
export const GATEWAY_ID_PATH = '/sid/gateway';

/** The raw request recorded in the query entity is cut at this many bytes before base64. */
export const MAX_QUERY_BYTES = 4096;

/** R4 restful-interaction codes; anything else is an operation (`$verify`) or our own (`token`). */
const RESTFUL_INTERACTIONS = new Set([
  'read', 'vread', 'update', 'patch', 'delete', 'history', 'history-instance', 'history-type',
  'history-system', 'create', 'search', 'search-type', 'search-system', 'capabilities', 'transaction',
  'batch', 'operation',
]);

export interface AuditBuildContext {
  canonicalBase: string;
  publicBaseUrl: string;
  /** the gateway instance (host name), for source.site */
  site: string;
  /** display names of known clients and hospitals; ids of unknown ones are recorded as given */
  clientName(id: string): string | undefined;
  clientHospital(id: string): string | undefined;
  hospitalName(id: string): string | undefined;
  newId(): string;
}

/** What the store indexes beside the resource. */
export interface BuiltAuditEvent {
  resource: AuditEvent;
  recorded: string;
  requestId: string | null;
  patientId: string | null;
  clientId: string | null;
  userId: string | null;
  outcome: number;
  purpose: string | null;
  subtype: string;
}

/** `0` success, `4` minor failure (4xx), `8` serious failure (5xx), `12` major (no HTTP answer at all). */
export function outcomeFor(status: number): '0' | '4' | '8' | '12' {
  if (status >= 100 && status < 400) return '0';
  if (status >= 400 && status < 500) return '4';
  if (status >= 500 && status < 600) return '8';
  return '12';
}

/** BALP action: C create, R read, U update, D delete, E execute (searches, operations, token). */
export function actionFor(interaction: string): 'C' | 'R' | 'U' | 'D' | 'E' {
  switch (interaction) {
    case 'create':
      return 'C';
    case 'read':
    case 'vread':
    case 'history-instance':
      return 'R';
    case 'update':
    case 'patch':
      return 'U';
    case 'delete':
      return 'D';
    default:
      return 'E';
  }
}

/**
 * The interaction a request was: what the domain recorded, else the route's, else (a request that
 * matched no route) a guess from the method and path, so even a 404 says what was attempted.
 */
export function interactionFor(entry: Pick<AuditEntry, 'route' | 'req'>): string {
  const recorded = entry.req.record.interaction;
  if (recorded && recorded !== 'unknown') return recorded;
  if (entry.route?.interaction && entry.route.interaction !== 'unknown') return entry.route.interaction;
  const path = (entry.req.originalUrl ?? '').split('?')[0];
  const segments = path.split('/').filter(Boolean);
  const last = segments[segments.length - 1] ?? '';
  if (last.startsWith('$')) return last.slice(0, 64);
  switch (entry.req.method.toUpperCase()) {
    case 'GET':
    case 'HEAD':
      return last === '_history' ? 'history' : segments.length >= 2 ? 'read' : 'search-type';
    case 'POST':
      return last === '_search' ? 'search-type' : 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      return 'operation';
  }
}

/**
 * A sign-in or sign-out (docs/users.md §5) is DICOM's User Authentication event (110114) with
 * Login (110122) or Logout (110123), as IHE ATNA records them; everything else is a RESTful event.
 */
function typeAndSubtype(interaction: string, canonicalBase: string): Pick<AuditEvent, 'type' | 'subtype'> {
  if (interaction === 'login' || interaction === 'logout') {
    return { type: code(DICOM_SYSTEM, '110114'), subtype: [code(DICOM_SYSTEM, interaction === 'login' ? '110122' : '110123')] };
  }
  return { type: code(AUDIT_EVENT_TYPE_SYSTEM, 'rest'), subtype: subtypeCodings(interaction, canonicalBase) };
}

/** The subtype codings: a restful interaction, or `operation` plus the operation's name. */
export function subtypeCodings(interaction: string, canonicalBase: string): Coding[] {
  if (RESTFUL_INTERACTIONS.has(interaction)) return [{ system: RESTFUL_INTERACTION_SYSTEM, code: interaction }];
  const own: Coding = { system: canonicalBase + GATEWAY_OPERATION_PATH, code: interaction };
  return interaction.startsWith('$') ? [{ system: RESTFUL_INTERACTION_SYSTEM, code: 'operation' }, own] : [own];
}

/**
 * Control characters other than tab/CR/LF and lone surrogates make a FHIR string invalid and break
 * some stores: each becomes U+FFFD (the one sanitiser, ../fhir/fhir-string.ts), cut to `max` units.
 */
export function cleanString(s: string, max: number): string {
  return safeText(s, { replacement: '\ufffd', max });
}

/**
 * The raw request for the query entity: `METHOD originalUrl` and, for `POST …/_search`, the form body
 * after a blank line. Cut at {@link MAX_QUERY_BYTES} bytes on a character boundary.
 */
export function requestBytes(req: AuditEntry['req']): { bytes: Buffer; truncated: boolean; originalLength: number } {
  let text = `${req.method.toUpperCase()} ${req.originalUrl ?? ''}`;
  const path = (req.originalUrl ?? '').split('?')[0];
  if (req.method.toUpperCase() === 'POST' && path.endsWith('/_search')) {
    const form = formText(req.body);
    if (form) text += `\n\n${form}`;
  }
  const full = Buffer.from(text, 'utf8');
  if (full.length <= MAX_QUERY_BYTES) return { bytes: full, truncated: false, originalLength: full.length };
  let end = MAX_QUERY_BYTES;
  // back off UTF-8 continuation bytes so the cut never splits a character
  while (end > 0 && (full[end] & 0xc0) === 0x80) end--;
  return { bytes: full.subarray(0, end), truncated: true, originalLength: full.length };
}

function formText(body: unknown): string {
  if (typeof body === 'string') return body;
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  if (body && typeof body === 'object') {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
      for (const one of Array.isArray(v) ? v : [v]) if (one !== undefined && one !== null) p.append(k, String(one));
    }
    return p.toString();
  }
  return '';
}

/**
 * Codings of fixed code systems carry no display: every event would repeat the same words, and
 * `$verify` reads every byte of every event (docs/audit.md lists what each code means).
 */
const code = (system: string, c: string): Coding => ({ system, code: c });
const concept = (c: Coding): CodeableConcept => ({ coding: [c] });

/**
 * One AuditEvent per patient concerned (one without a patient entity when there is none), all of
 * the same request: same agents, query, hospitals and request id.
 */
export function buildAuditEvents(entry: AuditEntry, ctx: AuditBuildContext): BuiltAuditEvent[] {
  const { req } = entry;
  const record = req.record;
  const requester: Requester | undefined = entry.requester ?? req.requester;
  const interaction = cleanString(interactionFor(entry), 64);
  const outcome = outcomeFor(entry.status);
  const recorded = entry.at.toISOString();
  const purpose = requester?.purposeOfUse ? cleanString(requester.purposeOfUse, 32) : undefined;
  const claimed = entry.claimedClientId ?? record.claimedClientId;
  const clientId = requester?.clientId ?? (claimed ? cleanString(claimed, 256) : undefined);
  const gatewayIdentifier = { system: ctx.canonicalBase + GATEWAY_ID_PATH, value: ctx.publicBaseUrl };

  const agents: AuditEventAgent[] = [];
  const hospitalId = requester ? requester.hospitalId : clientId ? ctx.clientHospital(clientId) : undefined;
  const user = requester?.user;
  const client: AuditEventAgent = {
    type: concept(code(DICOM_SYSTEM, '110153')),
    who: clientId
      ? {
          type: 'Device',
          identifier: {
            system: ctx.canonicalBase + CLIENT_ID_PATH,
            value: clientId,
            ...(hospitalId ? { assigner: { reference: `Organization/${hospitalId}` } } : {}),
          },
          display: requester ? ctx.clientName(clientId) ?? clientId : `${clientId} (claimed, not authenticated)`,
        }
      : { display: 'unidentified client' },
    requestor: !user,
  };
  if (req.remoteAddress) client.network = { address: cleanString(req.remoteAddress, 128), type: '2' };
  agents.push(client);
  if (hospitalId) {
    const name = ctx.hospitalName(hospitalId);
    agents.push({
      type: concept(code(ROLE_CLASS_SYSTEM, 'PROV')),
      who: { reference: `Organization/${hospitalId}`, ...(name ? { display: name } : {}) },
      requestor: false,
    });
  }
  agents.push({
    type: concept(code(DICOM_SYSTEM, '110152')),
    who: { identifier: gatewayIdentifier },
    requestor: false,
    network: { address: ctx.publicBaseUrl, type: '5' },
  });
  const purposeConcepts: CodeableConcept[] = [];
  if (purpose) purposeConcepts.push(concept(code(ACT_REASON_SYSTEM, purpose)));
  if (record.breakGlass && purpose !== 'BTG') purposeConcepts.push(concept(code(ACT_REASON_SYSTEM, 'BTG')));
  // The reason a person typed for break-glass travels with the purpose it explains.
  const reason = requester?.breakGlassReason ? cleanString(requester.breakGlassReason, 500) : undefined;
  if (reason) for (const c of purposeConcepts) if (c.coding?.[0]?.code === purpose) c.text = reason;
  if (!user && record.signIn) {
    // A failed sign-in names the account that was tried, marked as not authenticated.
    agents.push({
      type: concept(code(PARTICIPATION_TYPE_SYSTEM, 'IRCP')),
      who: { identifier: { system: ctx.canonicalBase + USERNAME_PATH, value: cleanString(record.signIn.username, 64) } },
      name: `${cleanString(record.signIn.username, 64)} (claimed, not authenticated)`,
      requestor: true,
    });
  }
  if (user) {
    const person: AuditEventAgent = {
      type: concept(code(PARTICIPATION_TYPE_SYSTEM, 'IRCP')),
      who: {
        identifier: {
          system: ctx.canonicalBase + SUBJECT_ID_PATH,
          value: cleanString(user.id, 128),
          ...(hospitalId ? { assigner: { reference: `Organization/${hospitalId}` } } : {}),
        },
      },
      requestor: true,
    };
    if (user.name) person.name = cleanString(user.name, 256);
    const roles = (user.roles ?? []).filter((r) => r && (r.code || r.display));
    if (roles.length) person.role = roles.map((r) => ({ coding: [cleanCoding(r)] }));
    if (purposeConcepts.length) person.purposeOfUse = purposeConcepts;
    agents.push(person);
  }

  const { bytes, truncated, originalLength } = requestBytes(req);
  const query: AuditEventEntity = {
    type: code(ENTITY_TYPE_SYSTEM, '2'),
    role: code(OBJECT_ROLE_SYSTEM, '24'),
    query: bytes.toString('base64'),
  };
  if (truncated) query.detail = [{ type: 'truncated', valueString: `request cut at ${bytes.length} of ${originalLength} bytes` }];
  const transactionDetails: NonNullable<AuditEventEntity['detail']> = [];
  if (record.breakGlass) transactionDetails.push({ type: 'breakGlass', valueString: 'true' });
  if (record.suppressed) transactionDetails.push({ type: 'consentSuppressed', valueString: 'true' });
  if (reason) transactionDetails.push({ type: 'breakGlassReason', valueString: reason });
  if (record.signIn) transactionDetails.push({ type: 'signIn', valueString: cleanString(record.signIn.result, 32) });
  if (record.items.size) transactionDetails.push({ type: 'items', valueString: cleanString([...record.items].sort().join(','), 500) });
  if (record.reason) transactionDetails.push({ type: 'reason', valueString: cleanString(record.reason, 500) });
  if (requester?.username) transactionDetails.push({ type: 'username', valueString: cleanString(requester.username, 64) });
  const transaction: AuditEventEntity = {
    what: { identifier: { value: cleanString(record.requestId, 64) } },
    type: code(BALP_ENTITY_TYPE_SYSTEM, 'XrequestId'),
    ...(transactionDetails.length ? { detail: transactionDetails } : {}),
  };
  const touched: AuditEventEntity[] = [];
  if (record.resourceType) {
    for (const id of [...record.resourceIds].slice(0, 100)) {
      touched.push({
        what: { reference: `${cleanString(record.resourceType, 64)}/${cleanString(id, 128)}` },
        type: code(ENTITY_TYPE_SYSTEM, '2'),
        role: code(OBJECT_ROLE_SYSTEM, '4'),
      });
    }
  }
  const hospitals: AuditEventEntity[] = [...record.hospitalsReturned].map((h) => ({
    what: { reference: `Organization/${cleanString(h, 64)}`, ...(ctx.hospitalName(h) ? { display: ctx.hospitalName(h) } : {}) },
    type: code(ENTITY_TYPE_SYSTEM, '3'),
    role: code(OBJECT_ROLE_SYSTEM, '3'),
  }));

  const patients = record.patients.size ? [...record.patients] : [undefined];
  return patients.map((patientId) => {
    const id = ctx.newId();
    const pid = patientId === undefined ? undefined : cleanString(patientId, 64);
    const entity: AuditEventEntity[] = [];
    if (pid !== undefined) {
      entity.push({
        what: { reference: `Patient/${pid}` },
        type: code(ENTITY_TYPE_SYSTEM, '1'),
        role: code(OBJECT_ROLE_SYSTEM, '1'),
      });
    }
    entity.push(query, transaction, ...touched, ...hospitals);
    const resource: AuditEvent = {
      resourceType: 'AuditEvent',
      id,
      ...typeAndSubtype(interaction, ctx.canonicalBase),
      action: actionFor(interaction),
      recorded,
      outcome,
      outcomeDesc: `HTTP ${entry.status}`,
      ...(purposeConcepts.length ? { purposeOfEvent: purposeConcepts } : {}),
      agent: agents,
      source: {
        site: ctx.site,
        observer: { identifier: gatewayIdentifier, display: 'XZQ results gateway' },
        type: [code(SOURCE_TYPE_SYSTEM, '4')],
      },
      entity,
    };
    return {
      resource,
      recorded,
      requestId: cleanString(record.requestId, 64),
      patientId: pid ?? null,
      clientId: clientId ? clientId.slice(0, 64) : null,
      userId: user ? cleanString(user.id, 128) : null,
      outcome: Number(outcome),
      purpose: purpose ?? null,
      subtype: interaction,
    };
  });
}

function cleanCoding(c: Coding): Coding {
  const out: Coding = {};
  if (c.system) out.system = cleanString(c.system, 256);
  if (c.code) out.code = cleanString(c.code, 128);
  if (c.display) out.display = cleanString(c.display, 256);
  return out;
}
