/**
 * FHIR `date`/`dateTime`/`instant` values as instants for the consent rules (API.md §5).
 *
 * A value may be partial (`2025`, `2025-03`, `2025-03-01`) or carry a time. Partial values and
 * times without a zone are read in China Standard Time (UTC+8, no daylight saving), where every
 * member hospital is. As a period start a partial value means its first millisecond; as an end, its
 * last, so `"end": "2025-12-31"` covers the whole of that day.
 */
const CHINA_OFFSET_MS = 8 * 3600_000;

const FHIR_DATE_TIME =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** ms since the epoch, or NaN when the value is not a FHIR date/dateTime. */
export function parseFhirInstant(value: string, as: 'start' | 'end'): number {
  const m = FHIR_DATE_TIME.exec(value);
  if (!m) return NaN;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = mo ? Number(mo) : undefined;
  const day = d ? Number(d) : undefined;
  if (month !== undefined && (month < 1 || month > 12)) return NaN;
  if (day !== undefined) {
    const probe = new Date(Date.UTC(year, month! - 1, day));
    if (probe.getUTCMonth() !== month! - 1) return NaN;
  }
  if (h !== undefined) {
    if (Number(h) > 23 || Number(mi) > 59 || (s !== undefined && Number(s) > 60)) return NaN;
    const ms = frac ? Number(`0.${frac}`) * 1000 : 0;
    const local = Date.UTC(year, month! - 1, day!, Number(h), Number(mi), s ? Number(s) : 0, ms);
    const offset = zone === undefined ? CHINA_OFFSET_MS : zone === 'Z' ? 0 : zoneMs(zone);
    const start = local - offset;
    if (as === 'start') return start;
    // the last millisecond of the stated precision
    const step = s !== undefined ? (frac ? 0 : 999) : 59_999;
    return start + step;
  }
  // partial date: the whole year / month / day, in China time
  const begin = Date.UTC(year, (month ?? 1) - 1, day ?? 1) - CHINA_OFFSET_MS;
  if (as === 'start') return begin;
  const next =
    day !== undefined
      ? Date.UTC(year, month! - 1, day + 1)
      : month !== undefined
        ? Date.UTC(year, month, 1)
        : Date.UTC(year + 1, 0, 1);
  return next - CHINA_OFFSET_MS - 1;
}

function zoneMs(zone: string): number {
  const sign = zone[0] === '-' ? -1 : 1;
  return sign * (Number(zone.slice(1, 3)) * 3600_000 + Number(zone.slice(4, 6)) * 60_000);
}
