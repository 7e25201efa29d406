import type { Translate } from '../i18n';
import type { AuditSummary } from './audit';
import { toCsv } from './csv';
import type { Hospital } from './hospitals';

/**
 * The auditor's search criteria turned into what the gateway is sent and what the console must
 * filter itself, and the CSV of a search (pure). Only parameters the gateway's AuditEvent search
 * declares are sent (gateway/http/routes/audit-routes.ts, `GET /metadata`).
 */

export interface Criteria {
  patient: string;
  user: string;
  client: string;
  hospital: string;
  outcome: string;
  purpose: string;
  subtype: string;
  from: string;
  to: string;
}

export const EMPTY_CRITERIA: Criteria = { patient: '', user: '', client: '', hospital: '', outcome: '', purpose: '', subtype: '', from: '', to: '' };
/** the purpose filter "break-glass only" */
export const BREAK_GLASS = 'ETREAT,BTG';
const PAGE_SIZE = '50';

export function trimmed(c: Criteria): Criteria {
  const out = { ...c };
  for (const k of Object.keys(out) as Array<keyof Criteria>) out[k] = out[k].trim();
  return out;
}

/** What the gateway is sent: only parameters its AuditEvent search declares. */
export function serverParams(c: Criteria, declaredParams: ReadonlySet<string>): Array<[string, string]> {
  const out: Array<[string, string]> = [['_count', PAGE_SIZE]];
  if (c.patient) out.push(['patient', c.patient]);
  // `agent` matches a person's subject id or a client id; with both given the user goes to the gateway
  if (c.user) out.push(['agent', c.user]);
  else if (c.client) out.push(['agent', c.client]);
  if (c.outcome) out.push(['outcome', c.outcome]);
  if (c.purpose) out.push(['purpose', c.purpose]);
  if (c.subtype) out.push(['subtype', c.subtype]);
  if (c.from) out.push(['date', `ge${c.from}`]);
  if (c.to) out.push(['date', `le${c.to}`]);
  if (c.hospital && declaredParams.has('hospital')) out.push(['hospital', c.hospital]);
  return out;
}

/** The criteria the gateway could not apply, as a filter of the loaded events; undefined when there are none. */
export function localFilter(c: Criteria, declaredParams: ReadonlySet<string>): ((e: AuditSummary) => boolean) | undefined {
  const client = c.user && c.client ? c.client : '';
  const hospital = c.hospital && !declaredParams.has('hospital') ? c.hospital : '';
  if (!client && !hospital) return undefined;
  return (e) => (!client || e.client?.id === client) && (!hospital || e.organization?.id === hospital || e.hospitalsReturned.includes(hospital));
}

export function orgName(e: AuditSummary, hospitals: ReadonlyMap<string, Hospital>): string {
  const id = e.organization?.id;
  return (id && hospitals.get(id)?.name) ?? e.organization?.display ?? id ?? e.client?.display ?? '';
}

/** `GET /DiagnosticReport` — the method and path of the request line, without its query */
export function requestPath(e: AuditSummary): string {
  const line = e.request?.split('\n')[0] ?? '';
  return line.split('?')[0] ?? '';
}

export function auditCsv(t: Translate, events: readonly AuditSummary[], hospitals: ReadonlyMap<string, Hospital>): string {
  const header = [
    t('audit.col.recorded'),
    t('audit.detail.id'),
    t('audit.col.outcome'),
    t('audit.col.action'),
    t('audit.col.purpose'),
    t('audit.breakGlassTag'),
    t('audit.user'),
    t('audit.detail.who'),
    t('audit.client'),
    t('audit.col.organization'),
    t('audit.col.patient'),
    t('audit.detail.hospitals'),
    t('audit.detail.request'),
    t('audit.detail.requestId'),
  ];
  const rows = events.map((e) => [
    e.recorded ?? '',
    e.id,
    e.outcome ?? '',
    e.action,
    e.purposes.join(' '),
    e.breakGlass ? 'Y' : '',
    e.user?.id ?? '',
    e.user?.name ?? '',
    e.client?.id ?? '',
    orgName(e, hospitals),
    e.patients.join(' '),
    e.hospitalsReturned.join(' '),
    e.request ?? '',
    e.requestId ?? '',
  ]);
  return toCsv(header, rows);
}
