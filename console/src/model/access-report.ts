import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';
import { chinaDate } from './format';
import { orgId } from './hospitals';

/**
 * The resident's access report as `GET /Patient/{id}/$access-report` answers it (docs/audit.md §6,
 * gateway/audit/access-report.ts): FHIR Parameters with one repeated `access` part per audit event,
 * newest first. Pure: what the registrar's view shows, and the period it asks for.
 */

export type AccessOutcome = 'permitted' | 'refused' | 'failed';

export interface AccessRow {
  when: string;
  organization?: { id?: string; name?: string };
  /** the city as the gateway names it (厦门市 …) */
  city?: string;
  person?: string;
  staffId?: string;
  role?: string;
  purpose?: string;
  breakGlass: boolean;
  breakGlassReason?: string;
  /** what kind of data, in the gateway's words (检验检查报告, 身份信息 …) */
  accessed: string;
  /** catalogue item names of the results released, never a value */
  items: string[];
  outcome: AccessOutcome;
  /** a supervisory read (the auditor role): listed without the staff member's name */
  supervision: boolean;
}

export interface AccessReport {
  patientId?: string;
  from?: string;
  to?: string;
  generated?: string;
  truncated: boolean;
  rows: AccessRow[];
}

const part = (parts: readonly ParametersParameter[], name: string) => parts.find((p) => p.name === name);

export function readAccessReport(p: Parameters): AccessReport {
  const params = p.parameter ?? [];
  const patientRef = part(params, 'patient')?.valueReference?.reference;
  const period = part(params, 'period')?.valuePeriod;
  const generated = part(params, 'generated')?.valueInstant;
  const rows = params.filter((x) => x.name === 'access').map((x) => accessRow(x.part ?? []));
  return {
    ...(patientRef?.startsWith('Patient/') ? { patientId: patientRef.slice('Patient/'.length) } : {}),
    ...(period?.start ? { from: period.start } : {}),
    ...(period?.end ? { to: period.end } : {}),
    ...(generated ? { generated } : {}),
    truncated: part(params, 'truncated')?.valueBoolean === true,
    rows,
  };
}

function accessRow(parts: readonly ParametersParameter[]): AccessRow {
  const str = (name: string) => part(parts, name)?.valueString;
  const org = part(parts, 'organization')?.valueReference;
  const outcome = part(parts, 'outcome')?.valueCode;
  const supervision = part(parts, 'supervision')?.valueBoolean === true;
  const reason = str('breakGlassReason');
  const row: AccessRow = {
    when: part(parts, 'when')?.valueInstant ?? part(parts, 'when')?.valueDateTime ?? '',
    breakGlass: part(parts, 'breakGlass')?.valueBoolean === true || reason !== undefined,
    accessed: str('accessed') ?? '',
    items: parts.filter((x) => x.name === 'item' && x.valueString).map((x) => x.valueString!),
    outcome: outcome === 'permitted' || outcome === 'refused' ? outcome : 'failed',
    supervision,
  };
  if (org) {
    const id = orgId(org.reference);
    row.organization = { ...(id ? { id } : {}), ...(org.display ? { name: org.display } : {}) };
  }
  const city = str('city');
  if (city) row.city = city;
  // supervision is listed without names, whatever a gateway sent
  if (!supervision) {
    const person = str('person');
    const staffId = str('staffId');
    const role = str('role');
    if (person) row.person = person;
    if (staffId) row.staffId = staffId;
    if (role) row.role = role;
  }
  const purpose = part(parts, 'purpose')?.valueCoding?.code;
  if (purpose) row.purpose = purpose;
  if (reason) row.breakGlassReason = reason;
  return row;
}

export interface Period {
  from: string;
  to: string;
}

const DAY_MS = 86_400_000;

/** The last 30 days, today included, as Beijing dates (whatever zone the browser is in). */
export function defaultPeriod(now = Date.now()): Period {
  const to = chinaDate(new Date(now).toISOString())!;
  const from = chinaDate(new Date(now - 29 * DAY_MS).toISOString())!;
  return { from, to };
}

export type PeriodProblem = 'missing' | 'format' | 'inverted';

/** Checked here, so the person hears it at once; the gateway checks again (invalid-date, invalid-period). */
export function checkPeriod(p: Period): PeriodProblem | undefined {
  if (!p.from || !p.to) return 'missing';
  const valid = (d: string) => /^\d{4}-\d{2}-\d{2}$/.test(d) && !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().slice(0, 10) === d;
  if (!valid(p.from) || !valid(p.to)) return 'format';
  if (p.from > p.to) return 'inverted';
  return undefined;
}

/** The report's path: the regional id and the two days are all it carries (no national id, no name). */
export function accessReportPath(patientId: string, period: Period, format?: 'pdf'): string {
  const q = new URLSearchParams({ from: period.from, to: period.to });
  if (format) q.set('_format', format);
  return `/Patient/${encodeURIComponent(patientId)}/$access-report?${q.toString()}`;
}

/** A regional id: a FHIR id (the gateway's are UUIDs). */
export const isRegionalId = (id: string) => /^[A-Za-z0-9\-.]{1,64}$/.test(id);

/** The gateway's words for what was accessed (gateway/audit/access-report.ts), as codes the dictionary translates. */
const KINDS: Record<string, string> = {
  检验检查报告: 'reports',
  影像检查: 'imaging',
  互认决定: 'decision',
  '互认查询（可互认结果）': 'recognition',
  查阅记录报告: 'access-report',
  '身份合并/撤销合并': 'merge',
  身份信息: 'identity',
  '授权（知情同意）': 'consent',
  '访问记录（审计）': 'audit',
  开单时互认提示: 'cds',
  '登录/退出': 'sign-in',
  其他: 'other',
};

export const accessedKind = (words: string): string | undefined => KINDS[words];

/** The gateway names the city in Chinese; its division code, for the dictionary (a registrar's token cannot read Organization). */
const CITY_CODES: Record<string, string> = { 厦门市: '350200', 漳州市: '350600', 泉州市: '350500' };

export const cityCode = (name: string | undefined): string | undefined => (name ? CITY_CODES[name] : undefined);
