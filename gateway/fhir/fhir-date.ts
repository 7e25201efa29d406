/**
 * FHIR date, dateTime and instant values as the interval of instants they stand for (FHIR search
 * §3.1.1.4.2: a value covers its whole precision). The one parser for search parameters, audit
 * search and consent periods. Values without a zone are read in `defaultZone`.
 */

import { CHINA_ZONE } from '../../adapters/common/datetime';

export { CHINA_OFFSET_MS, CHINA_ZONE } from '../../adapters/common/datetime';

/**
 * A dateTime with a time and a zone (`2025-06-01T08:30[:00[.000]]+08:00` or `Z`): what a record of
 * when something happened must carry, so no reader has to guess the zone.
 */
export const ZONED_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** True for a {@link ZONED_DATE_TIME} that is a real instant (no 25:00, no February 30). */
export function isZonedDateTime(value: unknown): value is string {
  return typeof value === 'string' && ZONED_DATE_TIME.test(value) && dateRange(value) !== null;
}

/** A plain date of some precision: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`. */
export const PLAIN_DATE = /^\d{4}(-\d{2}(-\d{2})?)?$/;

const FHIR_DATE_TIME =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** [lo, hi) in epoch ms, or null when the value is not a real FHIR date/dateTime. */
export function dateRange(value: string, defaultZone: string = CHINA_ZONE): { lo: number; hi: number } | null {
  const m = FHIR_DATE_TIME.exec(value);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = mo ? Number(mo) : 1;
  const day = d ? Number(d) : 1;
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return null;
  if (h !== undefined && (Number(h) > 23 || Number(mi) > 59 || (s !== undefined && Number(s) > 59))) return null;
  const offset = zoneMs(zone ?? defaultZone);
  if (offset === null) return null;
  const ms = frac ? Number(frac.padEnd(3, '0').slice(0, 3)) : 0;
  const local = utc(year, month - 1, day, h ? Number(h) : 0, mi ? Number(mi) : 0, s ? Number(s) : 0, ms);
  const lo = local - offset;
  let hi: number;
  if (frac) hi = lo + 1;
  else if (s !== undefined) hi = lo + 1000;
  else if (h !== undefined) hi = lo + 60_000;
  else if (d) hi = lo + 86_400_000;
  else if (mo) hi = utc(month === 12 ? year + 1 : year, month === 12 ? 0 : month, 1) - offset;
  else hi = utc(year + 1, 0, 1) - offset;
  return { lo, hi };
}

/** Date.UTC without its two-digit-year quirk. */
function utc(year: number, month: number, day: number, h = 0, mi = 0, s = 0, ms = 0): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month, day);
  d.setUTCHours(h, mi, s, ms);
  return d.getTime();
}

function daysIn(year: number, month: number): number {
  return new Date(utc(year, month, 0)).getUTCDate();
}

/** `Z` or ±hh:mm as ms east of UTC; null for an impossible zone. */
function zoneMs(zone: string): number | null {
  if (zone === 'Z') return 0;
  const hours = Number(zone.slice(1, 3));
  const minutes = Number(zone.slice(4, 6));
  if (hours > 14 || minutes > 59) return null;
  return (zone[0] === '-' ? -1 : 1) * (hours * 3_600_000 + minutes * 60_000);
}
