import type { CodeableConcept, ImagingStudy } from '@medplum/fhirtypes';
import type { ResultResource, ResultType } from '../../adapters/adapter';
import { resultTime } from './result-time';
import { badRequest } from './outcomes';
import { parseGatewayId } from '../federation/result-ids';
import {
  matchesDate,
  parseCount,
  parseDateParam,
  parseIds,
  parseOffset,
  parseTokenParam,
  refuseOrIgnore,
  single,
  splitComma,
  unknownParams,
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
  /** `_id`: the gateway ids asked for (OR); undefined when not given */
  ids?: ReadonlySet<string>;
  /** token criteria: each group is one parameter (its comma alternatives OR), groups AND */
  category: TokenCriterion[][];
  code: TokenCriterion[][];
  status: string[][];
  modality: TokenCriterion[][];
  dates: DateCriterion[];
  /** the hospitals to ask: the `hospital` parameter, narrowed to the hospitals `_id` names */
  hospitals?: string[];
  includeResults: boolean;
  sort: 'asc' | 'desc';
  count: number;
  offset: number;
  /** the parameters to repeat in paging links */
  echo: Array<[string, string]>;
  /** parameters not applied (lenient handling), as labels for the outcome entry that reports them */
  ignored: string[];
}

const PATIENT_PARAMS = ['patient', 'subject', 'patient.identifier', 'subject.identifier'];
/**
 * The parameters each result search applies (besides `_count`, common to every search, and
 * `_offset`, which the paging links carry); the search routes declare exactly these in the
 * CapabilityStatement. Anything else is refused under `Prefer: handling=strict` and otherwise
 * reported in the searchset.
 */
export const SEARCH_PARAMS: Record<ResultType, string[]> = {
  DiagnosticReport: ['_id', ...PATIENT_PARAMS, 'category', 'code', 'date', 'status', 'hospital', '_include', '_sort'],
  Observation: ['_id', ...PATIENT_PARAMS, 'category', 'code', 'date', 'status', 'hospital', '_sort'],
  ImagingStudy: ['_id', ...PATIENT_PARAMS, 'modality', 'started', 'status', 'hospital', '_sort'],
};

/** The `_include` values a DiagnosticReport search follows. */
const RESULT_INCLUDE = /^DiagnosticReport:result(:Observation)?$/;

export function parseResultSearch(
  type: ResultType,
  query: Record<string, string[]>,
  prefer: string | undefined,
  hospitalIds: ReadonlySet<string>,
): ResultSearchRequest {
  const known = new Set([...SEARCH_PARAMS[type], '_offset']);
  // Unknown names, and values the search cannot follow, are refused (strict) or reported (lenient).
  const notApplied = unknownParams(query, known);
  const includes = query._include ?? [];
  if (includes.some((inc) => !RESULT_INCLUDE.test(inc)) && known.has('_include')) notApplied.push('_include');
  const ignored = refuseOrIgnore(notApplied, prefer);

  const echo: Array<[string, string]> = [];
  const all = (name: string) => {
    if (!known.has(name)) return [];
    const v = query[name] ?? [];
    for (const x of v) echo.push([name, x]);
    return v;
  };
  const tokens = (name: string) => all(name).map((v) => parseTokenParam(name, v));

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

  const ids = parseIds(query);
  for (const v of query._id ?? []) echo.push(['_id', v]);

  const dateName = type === 'ImagingStudy' ? 'started' : 'date';
  const dates = all(dateName).map((v) => parseDateParam(dateName, v));

  let hospitals: string[] | undefined;
  const hospitalRaw = all('hospital');
  if (hospitalRaw.length) {
    // repeated: AND (the hospitals named in every one); comma-separated: OR
    let named: string[] | undefined;
    for (const one of hospitalRaw) {
      const these = splitComma(one).map((h) => h.replace(/^Organization\//, ''));
      const unknown = these.filter((h) => !hospitalIds.has(h));
      if (unknown.length) throw badRequest(`hospital: unknown hospital id(s) ${unknown.map((h) => h.slice(0, 40)).join(', ')}`, 'hospital', 'unknown-hospital');
      named = named ? named.filter((h) => these.includes(h)) : these;
    }
    hospitals = [...new Set(named)];
  }
  if (ids) {
    // Gateway ids name their hospital: only those hospitals can hold what `_id` asks for.
    const ofIds = new Set([...ids].map((id) => parseGatewayId(id)?.hospitalId).filter((h): h is string => h !== undefined && hospitalIds.has(h)));
    hospitals = (hospitals ?? [...ofIds]).filter((h) => ofIds.has(h));
  }

  let includeResults = false;
  for (const inc of all('_include')) if (RESULT_INCLUDE.test(inc)) includeResults = true;

  const sortRaw = single(query, '_sort');
  let sort: 'asc' | 'desc' = 'desc';
  if (sortRaw !== undefined) {
    echo.push(['_sort', sortRaw]);
    const m = new RegExp(`^(-?)${dateName}$`).exec(sortRaw);
    if (!m) throw badRequest(`_sort: use ${dateName} or -${dateName}`, '_sort');
    sort = m[1] ? 'desc' : 'asc';
  }

  return {
    type,
    patient,
    patientIdentifier,
    ids,
    category: tokens('category'),
    code: tokens('code'),
    status: all('status').map((v) => {
      const alternatives = splitComma(v).filter(Boolean);
      if (!alternatives.length) throw badRequest('status: empty value', 'status');
      return alternatives;
    }),
    modality: tokens('modality'),
    dates,
    hospitals,
    includeResults,
    sort,
    count: parseCount(query._count),
    offset: parseOffset(query._offset),
    echo,
    ignored,
  };
}

function tokenMatches(codings: Array<{ system?: string; code?: string }>, w: TokenCriterion): boolean {
  return codings.some((cd) => cd.code === w.code && (w.system === undefined || cd.system === w.system));
}

/** Every group (one parameter) has an alternative that one of the concepts' codings meets. */
function conceptsMatch(concepts: CodeableConcept[] | undefined, groups: TokenCriterion[][]): boolean {
  const codings = (concepts ?? []).flatMap((c) => c.coding ?? []);
  return groups.every((alternatives) => alternatives.some((w) => tokenMatches(codings, w)));
}

function modalities(s: ImagingStudy) {
  return [...(s.modality ?? []), ...(s.series ?? []).map((x) => x.modality)];
}

/** Whether a result (in gateway form) meets every criterion of the search. */
export function matchesSearch(r: ResultResource, q: ResultSearchRequest): boolean {
  if (q.ids && !q.ids.has(r.id ?? '')) return false;
  if (!q.status.every((alternatives) => alternatives.includes(r.status ?? ''))) return false;
  if (q.dates.length) {
    const t = Date.parse(resultTime(r) ?? '');
    if (Number.isNaN(t) || !q.dates.every((d) => matchesDate(t, d))) return false;
  }
  if (r.resourceType === 'ImagingStudy') {
    return q.modality.every((alternatives) => alternatives.some((w) => tokenMatches(modalities(r), w)));
  }
  if (!conceptsMatch(r.category, q.category)) return false;
  if (!conceptsMatch([r.code], q.code)) return false;
  return true;
}

/** Newest first by default; ties broken by id so pages never overlap. */
export function sortResults<T extends ResultResource>(rs: T[], order: 'asc' | 'desc'): T[] {
  const keyed = rs.map((r) => ({ r, t: Date.parse(resultTime(r) ?? '') || 0 }));
  keyed.sort((a, b) => (a.t !== b.t ? (order === 'asc' ? a.t - b.t : b.t - a.t) : (a.r.id ?? '') < (b.r.id ?? '') ? -1 : 1));
  return keyed.map((k) => k.r);
}
