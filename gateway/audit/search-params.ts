import { dateRange } from '../fhir/fhir-date';
import { badRequest } from '../fhir/outcomes';
import { checkUnknownParams, DEFAULT_COUNT, parseCount, single } from '../fhir/search-params';
import type { AuditQuery, DateClause } from './audit-store';

/**
 * The search parameters of `GET /AuditEvent` (API.md §7) turned into an {@link AuditQuery}. Pure.
 * Repeated parameters AND together; comma-separated values OR (FHIR search). Unknown parameters
 * are refused under `Prefer: handling=strict`; otherwise (API.md §4) the search goes on without
 * them and the searchset names them in an `ignored-parameter` outcome entry.
 */

/** the keyset cursor the `next` link carries: the seq of the last event on the page */
export const CURSOR_PARAM = '_cursor';

/** the search parameters `GET /AuditEvent` applies (besides `_count` and the cursor) */
export const AUDIT_SEARCH_PARAMS = ['patient', 'agent', 'date', 'outcome', 'purpose', 'subtype', 'request-id'] as const;

const KNOWN = new Set<string>([...AUDIT_SEARCH_PARAMS, CURSOR_PARAM]);

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const OUTCOMES = new Set([0, 4, 8, 12]);

export interface ParsedAuditSearch {
  query: AuditQuery;
  /** no event can match (e.g. two different patients ANDed) */
  empty: boolean;
  /** parameters not applied (lenient handling), as labels for the outcome entry that reports them; absent when all were */
  ignored?: string[];
}

export function parseAuditSearch(params: Record<string, string[]>, headers: Record<string, string | undefined> = {}): ParsedAuditSearch {
  const ignored = checkUnknownParams(params, KNOWN, headers['prefer']);
  let empty = false;
  const query: AuditQuery = { count: DEFAULT_COUNT };
  const tokens = (name: string, normalize: (v: string) => string): string[] | undefined => {
    const all = params[name];
    if (!all?.length) return undefined;
    let acc: Set<string> | undefined;
    for (const one of all) {
      const set = new Set(one.split(',').map((v) => normalize(v.trim())));
      acc = acc ? new Set([...acc].filter((v) => set.has(v))) : set;
    }
    if (!acc!.size) empty = true;
    return [...acc!];
  };

  query.patients = tokens('patient', (v) => {
    const id = v.replace(/^(.*\/)?Patient\//, '');
    if (!FHIR_ID.test(id)) throw badRequest('patient: expected a regional patient id or Patient/<id>', 'patient');
    return id;
  });
  query.agents = tokens('agent', (v) => {
    const value = v.includes('|') ? v.slice(v.indexOf('|') + 1) : v;
    if (!value || value.length > 128) throw badRequest('agent: expected a person\'s subject id or a client id', 'agent');
    return value;
  });
  query.purposes = tokens('purpose', (v) => {
    const c = v.includes('|') ? v.slice(v.indexOf('|') + 1) : v;
    if (!/^[A-Za-z0-9._-]{1,32}$/.test(c)) throw badRequest('purpose: expected a v3-ActReason code such as TREAT or ETREAT', 'purpose');
    return c;
  });
  query.subtypes = tokens('subtype', (v) => {
    const c = v.includes('|') ? v.slice(v.indexOf('|') + 1) : v;
    if (!/^\$?[A-Za-z0-9._-]{1,63}$/.test(c)) throw badRequest('subtype: expected an interaction (search-type, read, …) or an operation ($verify, …)', 'subtype');
    return c;
  });
  query.requestIds = tokens('request-id', (v) => {
    if (!v || v.length > 64) throw badRequest('request-id: expected an X-Request-Id value', 'request-id');
    return v;
  });
  const outcomes = tokens('outcome', (v) => {
    if (!/^\d{1,2}$/.test(v) || !OUTCOMES.has(Number(v))) throw badRequest('outcome: expected 0, 4, 8 or 12', 'outcome');
    return v;
  });
  if (outcomes) query.outcomes = outcomes.map(Number);
  for (const k of ['patients', 'agents', 'purposes', 'subtypes', 'requestIds'] as const) if (query[k] === undefined) delete query[k];

  const dates = params['date'];
  if (dates?.length) query.dates = dates.map(parseDateParam);

  if (params._count?.length) query.count = parseCount([single(params, '_count')!]);
  const cursor = single(params, CURSOR_PARAM);
  if (cursor !== undefined) {
    if (!/^\d{1,15}$/.test(cursor)) throw badRequest(`${CURSOR_PARAM}: not a paging cursor from a next link`, CURSOR_PARAM);
    query.before = Number(cursor);
  }
  return ignored.length ? { query, empty, ignored } : { query, empty };
}


/** the largest value `recorded` can take, for ranges that end past year 9999 */
const BEYOND = '9999-12-31T23:59:59.999Z~';

/**
 * A FHIR date parameter: prefix eq (default) ne gt lt ge le, then a date or dateTime of any
 * precision; the value stands for the whole interval its precision names. Times without a zone
 * and plain dates are China time (+08:00), as in the result search: an auditor's `2025-03-02` is
 * that day in Fujian.
 */
export function parseDateParam(raw: string): DateClause {
  const m = /^([a-z]{2})?([\s\S]*)$/.exec(raw.trim())!; // [\s\S]: a value with a line break is refused, not a crash
  const prefix = m[1] ?? 'eq';
  if (!['eq', 'ne', 'gt', 'lt', 'ge', 'le'].includes(prefix)) {
    throw badRequest('date: the prefix must be one of eq, ne, gt, lt, ge, le', 'date', 'invalid-date');
  }
  const range = dateRange(m[2]);
  if (!range) throw badRequest('date: expected a real YYYY, YYYY-MM, YYYY-MM-DD or ISO 8601 date-time', 'date', 'invalid-date');
  const s = iso(new Date(range.lo));
  const e = iso(new Date(range.hi));
  switch (prefix) {
    case 'eq':
      return { op: 'range', start: s, end: e };
    case 'ne':
      return { op: 'outside', start: s, end: e };
    case 'gt':
      return { op: 'ge', value: e };
    case 'ge':
      return { op: 'ge', value: s };
    case 'lt':
      return { op: 'lt', value: s };
    default:
      return { op: 'lt', value: e };
  }
}

function iso(d: Date): string {
  const y = d.getUTCFullYear();
  if (y > 9999) return BEYOND;
  if (y < 0) return '0000-00';
  return d.toISOString();
}
