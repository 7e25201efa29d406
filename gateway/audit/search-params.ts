import { badRequest } from '../fhir/outcomes';
import type { AuditQuery, DateClause } from './audit-store';

/**
 * The search parameters of `GET /AuditEvent` (API.md §7) turned into an {@link AuditQuery}. Pure.
 * Repeated parameters AND together; comma-separated values OR (FHIR search). Unknown parameters
 * are ignored unless `Prefer: handling=strict` (API.md §4).
 */

export const DEFAULT_COUNT = 50;
export const MAX_COUNT = 200;
/** the keyset cursor the `next` link carries: the seq of the last event on the page */
export const CURSOR_PARAM = '_cursor';

const KNOWN = new Set(['patient', 'agent', 'date', 'outcome', 'purpose', 'subtype', 'request-id', '_count', CURSOR_PARAM]);
/** rendering hints: accepted and ignored even in strict mode */
const IGNORED = new Set(['_format', '_pretty']);

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const OUTCOMES = new Set([0, 4, 8, 12]);

export interface ParsedAuditSearch {
  query: AuditQuery;
  /** no event can match (e.g. two different patients ANDed) */
  empty: boolean;
}

export function isStrict(headers: Record<string, string | undefined>): boolean {
  return /(^|[;,\s])handling\s*=\s*strict\b/i.test(headers['prefer'] ?? '');
}

export function parseAuditSearch(params: Record<string, string[]>, headers: Record<string, string | undefined> = {}): ParsedAuditSearch {
  if (isStrict(headers)) {
    const unknown = Object.keys(params).filter((k) => !KNOWN.has(k) && !IGNORED.has(k));
    if (unknown.length) throw badRequest(`Unknown search parameter: ${unknown.map((u) => u.slice(0, 40)).join(', ')}`, unknown.slice(0, 5));
  }
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

  const count = single(params, '_count');
  if (count !== undefined) {
    if (!/^\d{1,4}$/.test(count) || Number(count) < 1 || Number(count) > MAX_COUNT) {
      throw badRequest(`_count: expected a whole number from 1 to ${MAX_COUNT}`, '_count');
    }
    query.count = Number(count);
  }
  const cursor = single(params, CURSOR_PARAM);
  if (cursor !== undefined) {
    if (!/^\d{1,15}$/.test(cursor)) throw badRequest(`${CURSOR_PARAM}: not a paging cursor from a next link`, CURSOR_PARAM);
    query.before = Number(cursor);
  }
  return { query, empty };
}

function single(params: Record<string, string[]>, name: string): string | undefined {
  const v = params[name];
  if (!v?.length) return undefined;
  if (v.length > 1) throw badRequest(`${name}: give it once`, name);
  return v[0];
}

const DATE_RE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;
/** the largest value `recorded` can take, for ranges that end past year 9999 */
const BEYOND = '9999-12-31T23:59:59.999Z~';

/**
 * A FHIR date parameter: prefix eq (default) ne gt lt ge le, then a date or dateTime of any
 * precision; the value stands for the whole interval its precision names. Times without a zone
 * and plain dates are taken as UTC.
 */
export function parseDateParam(raw: string): DateClause {
  const m = /^([a-z]{2})?(.*)$/.exec(raw.trim())!;
  const prefix = m[1] ?? 'eq';
  if (!['eq', 'ne', 'gt', 'lt', 'ge', 'le'].includes(prefix)) {
    throw badRequest('date: the prefix must be one of eq, ne, gt, lt, ge, le', 'date');
  }
  const d = DATE_RE.exec(m[2]);
  if (!d) throw badRequest('date: expected YYYY, YYYY-MM, YYYY-MM-DD or an ISO 8601 date-time', 'date');
  const [, y, mo, da, hh, mi, ss, frac, tz] = d;
  const year = Number(y);
  const month = mo ? Number(mo) : 1;
  const day = da ? Number(da) : 1;
  const hour = hh ? Number(hh) : 0;
  const minute = mi ? Number(mi) : 0;
  const second = ss ? Number(ss) : 0;
  const ms = frac ? Number(frac.padEnd(3, '0').slice(0, 3)) : 0;
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) {
    throw badRequest('date: not a real date or time', 'date');
  }
  const base = new Date(0);
  base.setUTCFullYear(year, month - 1, day);
  base.setUTCHours(hour, minute, second, ms);
  let offsetMin = 0;
  if (tz && tz !== 'Z') {
    const sign = tz[0] === '-' ? -1 : 1;
    const [oh, om] = tz.slice(1).split(':').map(Number);
    if (oh > 14 || om > 59) throw badRequest('date: not a real time zone', 'date');
    offsetMin = sign * (oh * 60 + om);
  }
  const start = new Date(base.getTime() - offsetMin * 60_000);
  const end = new Date(start);
  if (frac) end.setUTCMilliseconds(end.getUTCMilliseconds() + 1);
  else if (ss) end.setUTCSeconds(end.getUTCSeconds() + 1);
  else if (mi) end.setUTCMinutes(end.getUTCMinutes() + 1);
  else if (da) end.setUTCDate(end.getUTCDate() + 1);
  else if (mo) end.setUTCMonth(end.getUTCMonth() + 1);
  else end.setUTCFullYear(end.getUTCFullYear() + 1);
  const s = iso(start);
  const e = iso(end);
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

function daysIn(year: number, month: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month, 0);
  return d.getUTCDate();
}

function iso(d: Date): string {
  const y = d.getUTCFullYear();
  if (y > 9999) return BEYOND;
  if (y < 0) return '0000-00';
  return d.toISOString();
}
