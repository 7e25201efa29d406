import { dateRange } from './fhir-date';
import { badRequest } from './outcomes';

/**
 * Search parameter parsing shared by every search (API.md §4). Pure: parameters in, a typed
 * request or a 400 OperationOutcomeError out. Dates without a zone are read in China time (+08:00).
 */

export const DEFAULT_COUNT = 50;
export const MAX_COUNT = 200;

export type DatePrefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le';
export interface DateCriterion {
  prefix: DatePrefix;
  /** inclusive lower bound, epoch ms */
  lo: number;
  /** exclusive upper bound, epoch ms */
  hi: number;
}

export interface TokenCriterion {
  system?: string;
  code: string;
}

export { dateRange };

export function parseDateParam(name: string, raw: string): DateCriterion {
  const m = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)?(.*)$/.exec(raw)!;
  const prefix = (m[1] ?? 'eq') as string;
  if (!['eq', 'ne', 'gt', 'lt', 'ge', 'le'].includes(prefix)) {
    throw badRequest(`${name}: the prefix "${prefix}" is not supported (use eq, ne, gt, lt, ge or le)`, name, 'invalid-date');
  }
  const range = dateRange(m[2]);
  if (!range) throw badRequest(`${name}: not a FHIR date or dateTime (e.g. ge2025-01-01)`, name, 'invalid-date');
  return { prefix: prefix as DatePrefix, ...range };
}

/** Whether an instant (epoch ms) satisfies a date criterion. */
export function matchesDate(t: number, c: DateCriterion): boolean {
  switch (c.prefix) {
    case 'eq':
      return t >= c.lo && t < c.hi;
    case 'ne':
      return t < c.lo || t >= c.hi;
    case 'gt':
      return t >= c.hi;
    case 'lt':
      return t < c.lo;
    case 'ge':
      return t >= c.lo;
    case 'le':
      return t < c.hi;
  }
}

/** A token parameter: `[system|]code`, comma-separated alternatives. */
export function parseTokenParam(name: string, raw: string): TokenCriterion[] {
  const out: TokenCriterion[] = [];
  for (const part of splitComma(raw)) {
    if (!part) throw badRequest(`${name}: empty value`, name);
    const bar = part.indexOf('|');
    if (bar < 0) out.push({ code: part });
    else {
      const system = part.slice(0, bar);
      const code = part.slice(bar + 1);
      if (!code) throw badRequest(`${name}: a code is required after "|"`, name);
      out.push(system ? { system, code } : { code });
    }
  }
  return out;
}

/** Comma-separated values, with `\,` as an escaped comma (FHIR search escaping). */
export function splitComma(raw: string): string[] {
  return raw.split(/(?<!\\),/).map((s) => s.replace(/\\,/g, ','));
}

export function parseCount(raw: string[] | undefined): number {
  if (!raw?.length) return DEFAULT_COUNT;
  const v = raw[raw.length - 1];
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > MAX_COUNT) {
    throw badRequest(`_count must be a whole number from 1 to ${MAX_COUNT}`, '_count', 'bad-count');
  }
  return Number(v);
}

export function parseOffset(raw: string[] | undefined): number {
  if (!raw?.length) return 0;
  const v = raw[raw.length - 1];
  if (!/^\d{1,7}$/.test(v)) throw badRequest('_offset must be a whole number', '_offset');
  return Number(v);
}

/** `Prefer: handling=strict` makes unknown parameters an error (FHIR search §3.1.1.5). */
export function isStrict(prefer: string | undefined): boolean {
  return /(^|[;,\s])handling\s*=\s*strict\b/i.test(prefer ?? '');
}

/** Parameters every search accepts besides its own. */
export const COMMON_PARAMS = new Set(['_count', '_offset', '_format', '_pretty', '_summary', '_elements']);

export function checkUnknownParams(query: Record<string, string[]>, known: ReadonlySet<string>, prefer: string | undefined): void {
  if (!isStrict(prefer)) return;
  const unknown = Object.keys(query).filter((k) => !known.has(k) && !COMMON_PARAMS.has(k));
  if (unknown.length) {
    // Names only (capped): values may carry identifiers.
    const names = unknown.map((n) => n.replace(/[^\w.:-]/g, '').slice(0, 40)).join(', ');
    throw badRequest(`Unknown search parameter(s): ${names}`, unknown.slice(0, 10), 'unknown-parameter');
  }
}

/** The single value of a parameter, or undefined; repeated values are an error. */
export function single(query: Record<string, string[]>, name: string): string | undefined {
  const v = query[name];
  if (!v?.length) return undefined;
  if (v.length > 1) throw badRequest(`${name} may be given once`, name, 'duplicate-parameter');
  return v[0];
}
