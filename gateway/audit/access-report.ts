import type { AuditEvent, Parameters, ParametersParameter } from '@medplum/fhirtypes';
import { CITY_NAMES_ZH, type GatewayConfig } from '../config';
import { badRequest } from '../fhir/outcomes';
import type { CatalogItem } from '../recognition/contract';
import type { Db } from '../storage/db';
import { ACT_REASON_SYSTEM, PARTICIPATION_TYPE_SYSTEM, ROLE_CLASS_SYSTEM } from './audit-event';
import { searchEvents } from './audit-store';

/**
 * The resident's access report (PIPL Art. 44–45; docs/audit.md §6): who processed their results —
 * which organisation in which city, which person in which role, for what purpose (break-glass
 * flagged with its reason), what kind of data and which catalogue items (never values), when, and
 * what was refused. Built from the audit trail alone; pure, so the table of what each event becomes
 * is tested without a database.
 *
 * Auditors' own reads are **supervision**: listed with the supervising office, without the staff
 * member's name — PIPL Art. 45 lets the resident know that their data was processed and by whom as
 * an organisation; the names of supervisory staff are not needed for that, and naming them invites
 * pressure on the people who check the others.
 */

export interface ReportEntry {
  when: string;
  organization?: { id: string; name?: string; city?: string };
  /** the person who acted; absent for supervision and for machine clients */
  person?: { name?: string; staffId?: string; role?: string };
  client?: string;
  purpose?: string;
  breakGlassReason?: string;
  /** what kind of data, in words (检验检查报告, 身份信息 …) */
  accessed: string;
  /** catalogue item names of what was released */
  items: string[];
  outcome: 'permitted' | 'refused' | 'failed';
  supervision: boolean;
}

export interface ReportContext {
  hospitalName(id: string): string | undefined;
  hospitalCity(id: string): string | undefined;
  itemName(code: string): string | undefined;
  /** clients whose people supervise (the auditor role) */
  isSupervisor(clientId: string): boolean;
}

/** What a request path touched, in words a resident reads. */
const KINDS: Array<[RegExp, string]> = [
  [/^\/(DiagnosticReport|Observation)(\/|\?|$)/, '检验检查报告'],
  [/^\/ImagingStudy(\/|\?|$)/, '影像检查'],
  [/^\/Patient\/[^/?]+\/\$recognition-decision/, '互认决定'],
  [/^\/Patient\/[^/?]+\/\$recognition/, '互认查询（可互认结果）'],
  [/^\/Patient\/[^/?]+\/\$access-report/, '查阅记录报告'],
  [/^\/Patient\/\$(merge|unmerge)/, '身份合并/撤销合并'],
  [/^\/Patient(\/|\?|$)|^\/Patient\/\$ihe-pix/, '身份信息'],
  [/^\/Consent(\/|\?|$)/, '授权（知情同意）'],
  [/^\/AuditEvent(\/|\?|$)/, '访问记录（审计）'],
  [/^\/cds-services\//, '开单时互认提示'],
];

/** The request line the audit event keeps (base64 in the query entity): `METHOD /path?query`. */
function requestLine(e: AuditEvent): string | undefined {
  const q = e.entity?.find((x) => x.query)?.query;
  if (!q) return undefined;
  return Buffer.from(q, 'base64').toString('utf8').split('\n')[0];
}

const detail = (e: AuditEvent, type: string) => e.entity?.flatMap((x) => x.detail ?? []).find((d) => d.type === type)?.valueString;

export function reportEntry(e: AuditEvent, ctx: ReportContext): ReportEntry {
  const orgRef = e.agent.find((a) => a.type?.coding?.[0]?.system === ROLE_CLASS_SYSTEM && a.type.coding[0].code === 'PROV')?.who?.reference;
  const orgId = orgRef?.startsWith('Organization/') ? orgRef.slice('Organization/'.length) : undefined;
  const personAgent = e.agent.find((a) => a.type?.coding?.[0]?.system === PARTICIPATION_TYPE_SYSTEM && a.type.coding[0].code === 'IRCP' && a.who?.identifier?.system?.endsWith('/sid/subject-id'));
  const clientId = e.agent.find((a) => a.who?.identifier?.system?.endsWith('/sid/client-id'))?.who?.identifier?.value;
  const personRoles = (personAgent?.role ?? []).flatMap((r) => r.coding ?? []).map((c) => c.code ?? '');
  const supervision = (clientId ? ctx.isSupervisor(clientId) : false) || personRoles.includes('auditor');
  const purposeConcept = e.purposeOfEvent?.find((p) => p.coding?.[0]?.system === ACT_REASON_SYSTEM);
  const purpose = purposeConcept?.coding?.[0]?.code;
  const line = requestLine(e) ?? '';
  const path = line.split(' ')[1] ?? '';
  const accessed = KINDS.find(([re]) => re.test(path))?.[1] ?? (e.type?.code === '110114' ? '登录/退出' : '其他');
  const items = (detail(e, 'items') ?? '').split(',').filter(Boolean).map((c) => ctx.itemName(c) ?? c);
  const entry: ReportEntry = {
    when: e.recorded,
    accessed,
    items,
    outcome: e.outcome === '0' ? 'permitted' : e.outcome === '4' ? 'refused' : 'failed',
    supervision,
    ...(purpose ? { purpose } : {}),
  };
  if (orgId) entry.organization = { id: orgId, name: ctx.hospitalName(orgId), city: ctx.hospitalCity(orgId) };
  if (!supervision && personAgent) {
    entry.person = {
      name: personAgent.name,
      staffId: personAgent.who?.identifier?.value,
      role: personRoles.find((r) => r && r !== 'doctor') ?? personRoles[0],
    };
  }
  if (clientId && !supervision) entry.client = clientId;
  const reason = detail(e, 'breakGlassReason') ?? (detail(e, 'breakGlass') ? purposeConcept?.text ?? '（未填写）' : undefined);
  if (reason && (purpose === 'ETREAT' || purpose === 'BTG' || detail(e, 'breakGlass'))) entry.breakGlassReason = reason;
  return entry;
}

/** The report as FHIR Parameters (one `access` part per audit event, newest first). */
export function accessReportParameters(p: { patientId: string; residentLabel: string; from: string; to: string; generated: string; entries: ReportEntry[]; truncated: boolean }): Parameters {
  const parameter: ParametersParameter[] = [
    { name: 'patient', valueReference: { reference: `Patient/${p.patientId}` } },
    // the resident as the printed report names them: the national id masked
    { name: 'resident', valueString: p.residentLabel },
    { name: 'period', valuePeriod: { start: p.from, end: p.to } },
    { name: 'generated', valueInstant: p.generated },
  ];
  if (p.truncated) parameter.push({ name: 'truncated', valueBoolean: true });
  for (const e of p.entries) {
    const part: ParametersParameter[] = [{ name: 'when', valueInstant: e.when }];
    if (e.organization) part.push({ name: 'organization', valueReference: { reference: `Organization/${e.organization.id}`, ...(e.organization.name ? { display: e.organization.name } : {}) } });
    if (e.organization?.city) part.push({ name: 'city', valueString: e.organization.city });
    if (e.person?.name) part.push({ name: 'person', valueString: e.person.name });
    if (e.person?.staffId) part.push({ name: 'staffId', valueString: e.person.staffId });
    if (e.person?.role) part.push({ name: 'role', valueString: e.person.role });
    if (e.purpose) part.push({ name: 'purpose', valueCoding: { system: ACT_REASON_SYSTEM, code: e.purpose } });
    if (e.breakGlassReason) part.push({ name: 'breakGlass', valueBoolean: true }, { name: 'breakGlassReason', valueString: e.breakGlassReason });
    if (e.client && !e.person) part.push({ name: 'client', valueString: e.client });
    part.push({ name: 'accessed', valueString: e.accessed });
    for (const item of e.items) part.push({ name: 'item', valueString: item });
    part.push({ name: 'outcome', valueCode: e.outcome });
    if (e.supervision) part.push({ name: 'supervision', valueBoolean: true });
    parameter.push({ name: 'access', part });
  }
  return { resourceType: 'Parameters', parameter };
}

/** The lookups a report needs, from the configuration and the catalogue. */
export function reportContext(config: Pick<GatewayConfig, 'hospitals' | 'clients'>, catalog: readonly CatalogItem[]): ReportContext {
  const hospitals = new Map(config.hospitals.map((h) => [h.id, h]));
  const items = new Map(catalog.map((i) => [i.code, i.display]));
  const supervisors = new Set(config.clients.filter((c) => c.roles.includes('auditor')).map((c) => c.id));
  return {
    hospitalName: (id) => hospitals.get(id)?.name,
    hospitalCity: (id) => CITY_NAMES_ZH[hospitals.get(id)?.city ?? ''],
    itemName: (code) => items.get(code),
    isSupervisor: (clientId) => supervisors.has(clientId),
  };
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const DAY_MS = 86_400_000;

/**
 * The report's period from `from` and `to` (Beijing days, both included) as instants
 * [start, end); refused when a date is missing or malformed, inverted, or starts before the
 * retention window (older events may be archived, so the report could not be complete). Pure.
 */
export function reportPeriod(from: string | undefined, to: string | undefined, now: Date, retentionDays: number): { start: Date; end: Date } {
  const day = (v: string | undefined, name: 'from' | 'to') => {
    if (!v) throw badRequest(`${name} (YYYY-MM-DD) is required`, name, 'parameter-required');
    if (!DAY.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`)) || new Date(`${v}T00:00:00Z`).toISOString().slice(0, 10) !== v) {
      throw badRequest(`${name}: expected a date YYYY-MM-DD`, name, 'invalid-date');
    }
    return Date.parse(`${v}T00:00:00+08:00`);
  };
  const start = day(from, 'from');
  const end = day(to, 'to') + DAY_MS;
  if (start >= end) throw badRequest('from must not be after to', ['from', 'to'], 'invalid-period');
  if (start < now.getTime() - retentionDays * DAY_MS) {
    throw badRequest(`from: the audit trail keeps ${retentionDays} days online; ask for a later start`, 'from', 'period-beyond-retention');
  }
  return { start: new Date(start), end: new Date(end) };
}

/** Events one report lists at most; more is said in the report (`truncated`). */
export const MAX_REPORT_EVENTS = 2000;

/** The report's entries for these identities in the period, newest first. */
export async function collectReport(reader: Db, ctx: ReportContext, ids: string[], period: { start: Date; end: Date }): Promise<{ entries: ReportEntry[]; truncated: boolean }> {
  const page = await searchEvents(reader, {
    patients: ids,
    dates: [{ op: 'range', start: period.start.toISOString(), end: period.end.toISOString() }],
    count: MAX_REPORT_EVENTS,
  });
  return { entries: page.events.map((e) => reportEntry(e.resource as unknown as AuditEvent, ctx)), truncated: page.next !== undefined };
}
