/**
 * Times of the hospitals → FHIR `dateTime` / `instant`. The hospitals are in China: a time without
 * a zone is China Standard Time, `+08:00` (no daylight saving).
 */
export const CHINA_ZONE = '+08:00';
/** {@link CHINA_ZONE} as milliseconds east of UTC. */
export const CHINA_OFFSET_MS = 8 * 3_600_000;

const HL7_TS = /^(\d{4})(\d{2})?(\d{2})?(?:(\d{2})(\d{2})?(\d{2})?(?:\.(\d{1,4}))?)?([+-]\d{4})?$/;

/**
 * HL7 v2 TS/DTM (`YYYY[MM[DD[HH[MM[SS[.S…]]]]]][+/-ZZZZ]`) → FHIR dateTime, or undefined when the
 * text is not a timestamp. Date-only values stay dates; a time gets seconds and a zone.
 */
export function hl7ToFhirDateTime(ts: string | undefined): string | undefined {
  const t = ts?.trim();
  if (!t) return undefined;
  const m = HL7_TS.exec(t);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  if (!mo) return y;
  if (!valid(+mo, 1, 12)) return undefined;
  if (!d) return `${y}-${mo}`;
  if (!valid(+d, 1, 31)) return undefined;
  if (!h) return `${y}-${mo}-${d}`;
  if (!valid(+h, 0, 23) || (mi && !valid(+mi, 0, 59)) || (s && !valid(+s, 0, 60))) return undefined;
  const z = zone ? `${zone.slice(0, 3)}:${zone.slice(3)}` : CHINA_ZONE;
  return `${y}-${mo}-${d}T${h}:${mi ?? '00'}:${s ?? '00'}${frac ? '.' + frac : ''}${z}`;
}

const valid = (n: number, lo: number, hi: number) => n >= lo && n <= hi;

const ISO = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?)?)?$/;

/**
 * An ISO 8601 time from a database (text `2024-03-01 08:30`, `2024-03-01T08:30:00Z`, or a Date the
 * driver made) → FHIR dateTime; undefined when unreadable.
 */
export function isoToFhirDateTime(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  const t = String(value).trim();
  const m = ISO.exec(t);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  if (!mo) return y;
  if (!d) return `${y}-${mo}`;
  if (!h) return `${y}-${mo}-${d}`;
  let z = zone ?? CHINA_ZONE;
  if (z !== 'Z' && !z.includes(':')) z = `${z.slice(0, 3)}:${z.slice(3)}`;
  return `${y}-${mo}-${d}T${h}:${mi}:${s ?? '00'}${frac ?? ''}${z}`;
}

/** FHIR `instant` needs a full time: a date-only value becomes midnight in the hospital's zone. */
export function toInstant(dateTime: string | undefined): string | undefined {
  if (!dateTime) return undefined;
  if (/^\d{4}-\d{2}-\d{2}$/.test(dateTime)) return `${dateTime}T00:00:00${CHINA_ZONE}`;
  if (dateTime.includes('T')) return dateTime;
  return undefined; // year or year-month: not an instant
}

/** Milliseconds for ordering; NaN-safe (unknown times sort first). */
export function timeValue(dateTime: string | undefined): number {
  if (!dateTime) return 0;
  const ms = Date.parse(dateTime.length <= 10 ? toInstant(dateTime.padEnd(10, '-01').slice(0, 10)) ?? '' : dateTime);
  return Number.isNaN(ms) ? 0 : ms;
}
