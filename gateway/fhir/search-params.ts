import type { OperationOutcome } from '@medplum/fhirtypes';
import { dateRange } from './fhir-date';
import { badRequest, errorEntry, outcome } from './outcomes';

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
  const m = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)?([\s\S]*)$/.exec(raw)!; // [\s\S]: a value with a line break is refused, not a crash
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

/**
 * Parameters every search accepts besides its own, because every search applies them: `_count`.
 * (`_offset` is accepted by the searches that page by offset, and `_format` when it asks for JSON,
 * the one format the gateway writes.) Nothing is accepted that is not applied: `_summary`,
 * `_elements`, `_pretty` and the like are unknown parameters like any other.
 */
export const COMMON_PARAMS: ReadonlySet<string> = new Set(['_count']);

const JSON_FORMATS = new Set(['json', 'application/json', 'application/fhir+json']);
const asksForJson = (v: string) => JSON_FORMATS.has(v.split(';')[0].trim().toLowerCase());

/** The names in `query` that the search does not apply: neither in `known` nor common. */
export function unknownParams(query: Record<string, string[]>, known: ReadonlySet<string>): string[] {
  return Object.keys(query).filter((k) => !known.has(k) && !COMMON_PARAMS.has(k) && !(k === '_format' && query[k].every(asksForJson)));
}

const MAX_NAMED = 10;
const MAX_NAME = 40;

/**
 * A parameter name as the gateway reports it back: every character outside `A-Z a-z 0-9 _ . : -`
 * percent-encoded (UTF-8), so no control character, markup or line break is ever echoed and the
 * name reads as it would in the URL; at most 40 characters.
 */
export function parameterLabel(name: string): string {
  let out = '';
  for (const ch of name) {
    out += /^[A-Za-z0-9_.:-]$/.test(ch) ? ch : [...Buffer.from(ch, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
    if (out.length >= MAX_NAME) return `${out.slice(0, MAX_NAME)}…`;
  }
  return out || '(empty)';
}

/**
 * Parameters a search does not apply (unknown names, or a value it does not support such as an
 * `_include` it cannot follow), as FHIR search §3.1.1.5 wants them handled: under
 * `Prefer: handling=strict` a 400 `unknown-parameter` naming them; otherwise (lenient, the default
 * of API.md §4) the search goes on without them and the labels are returned, for the searchset to
 * report in one {@link ignoredParametersOutcome} entry.
 */
export function refuseOrIgnore(names: readonly string[], prefer: string | undefined): string[] {
  if (!names.length) return [];
  const labels = [...new Set(names.map(parameterLabel))];
  if (isStrict(prefer)) {
    throw badRequest(`Unknown or unsupported search parameter(s): ${listed(labels)}`, labels.slice(0, MAX_NAMED), 'unknown-parameter');
  }
  return labels;
}

/** Unknown parameters: a 400 under `handling=strict`, else their labels (see {@link refuseOrIgnore}). */
export function checkUnknownParams(query: Record<string, string[]>, known: ReadonlySet<string>, prefer: string | undefined): string[] {
  return refuseOrIgnore(unknownParams(query, known), prefer);
}

/**
 * The outcome entry of a searchset that went on without some parameters (lenient handling): a
 * warning `ignored-parameter` naming them (as {@link parameterLabel}s, never their values), so a
 * HIS learns that the answer is wider than it asked for.
 */
export function ignoredParametersOutcome(labels: readonly string[]): OperationOutcome {
  const { severity, issue } = errorEntry('ignored-parameter');
  return outcome(
    severity,
    issue,
    `Search parameter(s) not supported and ignored, so the answer is not narrowed by them: ${listed(labels)} (send Prefer: handling=strict to have them refused)`,
    { errorCode: 'ignored-parameter', expression: labels.slice(0, MAX_NAMED) },
  );
}

/** The outcome entries for ignored parameters: none, or one. */
export const ignoredOutcomes = (labels: readonly string[]): OperationOutcome[] => (labels.length ? [ignoredParametersOutcome(labels)] : []);

const listed = (labels: readonly string[]) =>
  labels.length > MAX_NAMED ? `${labels.slice(0, MAX_NAMED).join(', ')} and ${labels.length - MAX_NAMED} more` : labels.join(', ');

/**
 * The ids of an `_id` parameter: comma-separated values are alternatives (OR), a repeated `_id`
 * narrows (AND: the ids in every one). undefined when `_id` is not given; an empty set when the
 * repeats have no id in common.
 */
export function parseIds(query: Record<string, string[]>): Set<string> | undefined {
  const all = query._id;
  if (!all?.length) return undefined;
  let acc: Set<string> | undefined;
  for (const one of all) {
    const set = new Set(splitComma(one).map((v) => v.trim()).filter(Boolean));
    if (!set.size) throw badRequest('_id: empty value', '_id');
    acc = acc ? new Set([...acc].filter((v) => set.has(v))) : set;
  }
  return acc!;
}

/** The single value of a parameter, or undefined; repeated values are an error. */
export function single(query: Record<string, string[]>, name: string): string | undefined {
  const v = query[name];
  if (!v?.length) return undefined;
  if (v.length > 1) throw badRequest(`${name} may be given once`, name, 'duplicate-parameter');
  return v[0];
}
