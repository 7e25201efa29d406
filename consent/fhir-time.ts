import { CHINA_ZONE, dateRange } from '../gateway/fhir/fhir-date';

/**
 * FHIR `date`/`dateTime`/`instant` values as instants for the consent rules (API.md §5).
 *
 * A value may be partial (`2025`, `2025-03`, `2025-03-01`) or carry a time. Partial values and
 * times without a zone are read in China Standard Time (UTC+8, no daylight saving), where every
 * member hospital is. As a period start a partial value means its first millisecond; as an end, its
 * last, so `"end": "2025-12-31"` covers the whole of that day.
 */
/** ms since the epoch, or NaN when the value is not a FHIR date/dateTime. */
export function parseFhirInstant(value: string, as: 'start' | 'end'): number {
  const r = dateRange(value, CHINA_ZONE);
  if (!r) return NaN;
  return as === 'start' ? r.lo : r.hi - 1;
}
