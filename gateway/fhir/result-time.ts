import type { ResultResource } from '../../adapters/adapter';

/**
 * The clinically relevant time of a result, ISO 8601, or undefined: Observation/DiagnosticReport
 * `effective[x]` (a period's start, else its end — the earlier time, so a validity window never runs
 * longer than it should), else `issued`; ImagingStudy `started`. The one rule for sorting and
 * `date` search, for consent periods and for the recognition validity window (API.md §4–§6).
 */
export function resultTime(resource: ResultResource): string | undefined {
  switch (resource.resourceType) {
    case 'ImagingStudy':
      return resource.started;
    case 'DiagnosticReport':
      return resource.effectiveDateTime ?? resource.effectivePeriod?.start ?? resource.effectivePeriod?.end ?? resource.issued;
    case 'Observation':
      return resource.effectiveDateTime ?? resource.effectivePeriod?.start ?? resource.effectivePeriod?.end ?? resource.effectiveInstant ?? resource.issued;
    default:
      return undefined;
  }
}
