import type { CodeableConcept, ImagingStudy } from '@medplum/fhirtypes';
import type { ResultResource, ResultType } from '../../adapters/adapter';
import { resultTime } from './result-time';
import { badRequest } from './outcomes';
import {
  checkUnknownParams,
  matchesDate,
  parseCount,
  parseDateParam,
  parseOffset,
  parseTokenParam,
  single,
  splitComma,
  type DateCriterion,
  type TokenCriterion,
} from './search-params';

/**
 * The result searches of API.md §4 as data: which parameters each type takes, how they parse, and
 * the pure filter and sort applied to what the hospitals returned.
 */
export interface ResultSearchRequest {
  type: ResultType;
  patient?: string;
  patientIdentifier?: { system?: string; value: string };
  category: TokenCriterion[];
  code: TokenCriterion[];
  status: string[];
  modality: TokenCriterion[];
  dates: DateCriterion[];
  hospitals?: string[];
  includeResults: boolean;
  sort: 'asc' | 'desc';
  count: number;
  offset: number;
  /** the parameters to repeat in paging links */
  echo: Array<[string, string]>;
}

const PATIENT_PARAMS = ['patient', 'subject', 'patient.identifier', 'subject.identifier'];
export const SEARCH_PARAMS: Record<ResultType, string[]> = {
  DiagnosticReport: [...PATIENT_PARAMS, 'category', 'code', 'date', 'status', 'hospital', '_include', '_sort'],
  Observation: [...PATIENT_PARAMS, 'category', 'code', 'date', 'status', 'hospital', '_sort'],
  ImagingStudy: [...PATIENT_PARAMS, 'modality', 'started', 'status', 'hospital', '_sort'],
};

export function parseResultSearch(
  type: ResultType,
  query: Record<string, string[]>,
  prefer: string | undefined,
  hospitalIds: ReadonlySet<string>,
): ResultSearchRequest {
  const known = new Set(SEARCH_PARAMS[type]);
  checkUnknownParams(query, known, prefer);
  const echo: Array<[string, string]> = [];
  const all = (name: string) => {
    const v = query[name] ?? [];
    for (const x of v) echo.push([name, x]);
    return v;
  };
  const tokens = (name: string) => all(name).flatMap((v) => parseTokenParam(name, v));

  const patientRaw = [...all('patient'), ...all('subject')];
  const identRaw = [...all('patient.identifier'), ...all('subject.identifier')];
  if (patientRaw.length + identRaw.length === 0) {
    throw badRequest('A patient is required: patient=<regional id> or patient.identifier=<system>|<value>', 'patient', 'patient-required');
  }
  if (patientRaw.length + identRaw.length > 1) throw badRequest('Give one patient per search', 'patient');
  let patient: string | undefined;
  let patientIdentifier: ResultSearchRequest['patientIdentifier'];
  if (patientRaw.length) {
    patient = patientRaw[0].replace(/^Patient\//, '');
    if (!/^[A-Za-z0-9\-.]{1,64}$/.test(patient)) throw badRequest('patient: not a valid id', 'patient');
  } else {
    const raw = identRaw[0];
    const bar = raw.indexOf('|');
    patientIdentifier = bar < 0 ? { value: raw } : { system: raw.slice(0, bar) || undefined, value: raw.slice(bar + 1) };
    if (!patientIdentifier.value) throw badRequest('patient.identifier: a value is required', 'patient.identifier');
  }

  const dateName = type === 'ImagingStudy' ? 'started' : 'date';
  const dates = all(dateName).map((v) => parseDateParam(dateName, v));

  let hospitals: string[] | undefined;
  const hospitalRaw = all('hospital');
  if (hospitalRaw.length) {
    hospitals = hospitalRaw.flatMap(splitComma).map((h) => h.replace(/^Organization\//, ''));
    const unknown = hospitals.filter((h) => !hospitalIds.has(h));
    if (unknown.length) throw badRequest(`hospital: unknown hospital id(s) ${unknown.map((h) => h.slice(0, 40)).join(', ')}`, 'hospital', 'unknown-hospital');
  }

  let includeResults = false;
  for (const inc of all('_include')) {
    if (type === 'DiagnosticReport' && /^DiagnosticReport:result(:Observation)?$/.test(inc)) includeResults = true;
    else if (/handling\s*=\s*strict/i.test(prefer ?? '')) throw badRequest(`_include: only DiagnosticReport:result is supported`, '_include');
  }

  const sortRaw = single(query, '_sort');
  let sort: 'asc' | 'desc' = 'desc';
  if (sortRaw !== undefined) {
    echo.push(['_sort', sortRaw]);
    const m = /^(-?)(date|started)$/.exec(sortRaw);
    if (!m) throw badRequest(`_sort: use ${dateName} or -${dateName}`, '_sort');
    sort = m[1] ? 'desc' : 'asc';
  }

  return {
    type,
    patient,
    patientIdentifier,
    category: type === 'ImagingStudy' ? [] : tokens('category'),
    code: type === 'ImagingStudy' ? [] : tokens('code'),
    status: all('status').flatMap(splitComma),
    modality: type === 'ImagingStudy' ? tokens('modality') : [],
    dates,
    hospitals,
    includeResults,
    sort,
    count: parseCount(query._count),
    offset: parseOffset(query._offset),
    echo,
  };
}

function conceptMatches(concepts: CodeableConcept[] | undefined, wanted: TokenCriterion[]): boolean {
  return wanted.some((w) =>
    (concepts ?? []).some((c) => (c.coding ?? []).some((cd) => cd.code === w.code && (w.system === undefined || cd.system === w.system))),
  );
}

function modalities(s: ImagingStudy) {
  return [...(s.modality ?? []), ...(s.series ?? []).map((x) => x.modality)];
}

/** Whether a result (in gateway form) meets every criterion of the search. */
export function matchesSearch(r: ResultResource, q: ResultSearchRequest): boolean {
  if (q.status.length && !q.status.includes(r.status ?? '')) return false;
  if (q.dates.length) {
    const t = Date.parse(resultTime(r) ?? '');
    if (Number.isNaN(t) || !q.dates.every((d) => matchesDate(t, d))) return false;
  }
  if (r.resourceType === 'ImagingStudy') {
    if (q.modality.length && !q.modality.some((w) => modalities(r).some((m) => m.code === w.code && (!w.system || m.system === w.system)))) {
      return false;
    }
    return true;
  }
  if (q.category.length && !conceptMatches(r.category, q.category)) return false;
  if (q.code.length && !conceptMatches([r.code], q.code)) return false;
  return true;
}

/** Newest first by default; ties broken by id so pages never overlap. */
export function sortResults<T extends ResultResource>(rs: T[], order: 'asc' | 'desc'): T[] {
  const keyed = rs.map((r) => ({ r, t: Date.parse(resultTime(r) ?? '') || 0 }));
  keyed.sort((a, b) => (a.t !== b.t ? (order === 'asc' ? a.t - b.t : b.t - a.t) : (a.r.id ?? '') < (b.r.id ?? '') ? -1 : 1));
  return keyed.map((k) => k.r);
}
