import type { AuditEvent, AuditEventAgent } from '@medplum/fhirtypes';
import { orgId } from './hospitals';

/**
 * An AuditEvent (IHE BALP as the gateway writes it, docs/audit.md §1) read for a person: who, for
 * which organisation, why, what, when, with what outcome. Pure.
 */

export interface AuditSummary {
  id: string;
  recorded?: string;
  /** 0, 4, 8, 12 */
  outcome?: string;
  outcomeDesc?: string;
  /** the operation (`$recognition-decision`, `token`) or the interaction (`search-type`, `read`) */
  action: string;
  purposes: string[];
  breakGlass: boolean;
  suppressed: boolean;
  user?: { id?: string; name?: string };
  client?: { id?: string; display?: string };
  /** the client's hospital (the PROV agent, else the client's assigner) */
  organization?: { id?: string; display?: string };
  network?: string;
  patients: string[];
  hospitalsReturned: string[];
  resources: string[];
  /** the request line as recorded (`GET /DiagnosticReport?…`), decoded from base64 */
  request?: string;
  requestTruncated?: string;
  requestId?: string;
  /** the reason the clinician typed for break-glass (transaction detail `breakGlassReason`) */
  breakGlassReason?: string;
  /** every other `entity.detail` and purpose text, shown as recorded (e.g. a break-glass reason) */
  details: Array<{ type: string; value: string }>;
}

/** details read into fields of their own */
const KNOWN_DETAILS = new Set(['breakGlass', 'breakGlassReason', 'consentSuppressed', 'truncated']);

const CLIENT_ROLE = '110153';
const GATEWAY_ROLE = '110152';

const agentRole = (a: AuditEventAgent) => a.type?.coding?.[0]?.code;

export function summariseAuditEvent(e: AuditEvent): AuditSummary {
  const agents = e.agent ?? [];
  const client = agents.find((a) => agentRole(a) === CLIENT_ROLE);
  const person = agents.find((a) => a.requestor && agentRole(a) !== CLIENT_ROLE && agentRole(a) !== GATEWAY_ROLE);
  const prov = agents.find((a) => agentRole(a) === 'PROV');
  const subtypes = e.subtype ?? [];
  const operation = subtypes.find((s) => s.system?.endsWith('/CodeSystem/gateway-operation'))?.code;
  const action = operation ?? subtypes.find((s) => s.code !== 'operation')?.code ?? subtypes[0]?.code ?? '';
  const purposes = [...new Set((e.purposeOfEvent ?? []).flatMap((p) => p.coding ?? []).map((c) => c.code ?? '').filter(Boolean))];
  const entities = e.entity ?? [];
  const query = entities.find((x) => x.role?.code === '24' && x.query);
  const transaction = entities.find((x) => x.type?.code === 'XrequestId');
  const detail = (name: string) => transaction?.detail?.find((d) => d.type === name)?.valueString;
  const clientOrg = client?.who?.identifier?.assigner?.reference;

  const out: AuditSummary = {
    id: e.id ?? '',
    action,
    purposes,
    breakGlass: purposes.includes('BTG') || detail('breakGlass') === 'true',
    suppressed: detail('consentSuppressed') === 'true',
    patients: entities.filter((x) => x.type?.code === '1' && x.what?.reference).map((x) => x.what!.reference!.replace(/^Patient\//, '')),
    hospitalsReturned: entities.filter((x) => x.type?.code === '3' && x.role?.code === '3').map((x) => orgId(x.what?.reference) ?? '').filter(Boolean),
    resources: entities.filter((x) => x.role?.code === '4' && x.what?.reference).map((x) => x.what!.reference!),
    details: [
      ...entities.flatMap((x) => (x.detail ?? []).filter((d) => d.type && !KNOWN_DETAILS.has(d.type)).map((d) => ({ type: d.type!, value: d.valueString ?? (d.valueBase64Binary ? decodeRequest(d.valueBase64Binary) : '') }))),
      ...(e.purposeOfEvent ?? []).filter((p) => p.text).map((p) => ({ type: 'purposeOfEvent', value: p.text! })),
    ],
  };
  if (e.recorded) out.recorded = e.recorded;
  if (e.outcome) out.outcome = e.outcome;
  if (e.outcomeDesc) out.outcomeDesc = e.outcomeDesc;
  if (person) out.user = { ...(person.who?.identifier?.value ? { id: person.who.identifier.value } : {}), ...(person.name ? { name: person.name } : {}) };
  if (client) out.client = { ...(client.who?.identifier?.value ? { id: client.who.identifier.value } : {}), ...(client.who?.display ? { display: client.who.display } : {}) };
  const orgRef = prov?.who?.reference ?? clientOrg;
  if (orgRef) out.organization = { id: orgId(orgRef) ?? orgRef, ...(prov?.who?.display ? { display: prov.who.display } : {}) };
  if (client?.network?.address) out.network = client.network.address;
  if (query?.query) out.request = decodeRequest(query.query);
  const truncated = query?.detail?.find((d) => d.type === 'truncated')?.valueString;
  if (truncated) out.requestTruncated = truncated;
  const reason = detail('breakGlassReason');
  if (reason) out.breakGlassReason = reason;
  const rid = transaction?.what?.identifier?.value;
  if (rid) out.requestId = rid;
  return out;
}

/** base64 → UTF-8 text; the percent-encoded query made readable where it decodes. */
export function decodeRequest(b64: string): string {
  let text: string;
  try {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    text = new TextDecoder('utf-8').decode(bytes);
  } catch {
    return '';
  }
  return text
    .split('\n')
    .map((line) => {
      try {
        return decodeURIComponent(line.replace(/\+/g, ' '));
      } catch {
        return line;
      }
    })
    .join('\n');
}
