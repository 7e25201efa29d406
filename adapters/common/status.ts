import type { DiagnosticReport, ImagingStudy, Observation } from '@medplum/fhirtypes';

/**
 * Result status of the hospital (SQL words `final` `corrected` `preliminary` `cancelled`, HL7 v2
 * OBR-25 / OBX-11 codes of tables 0123 / 0085) → FHIR status. Unknown input → `unknown`, never a
 * guess that would make a result look final.
 */
export type ReportStatus = DiagnosticReport['status'];
export type ObservationStatus = Observation['status'];

const REPORT: Record<string, ReportStatus> = {
  final: 'final',
  corrected: 'corrected',
  amended: 'amended',
  preliminary: 'preliminary',
  partial: 'partial',
  cancelled: 'cancelled',
  canceled: 'cancelled',
  registered: 'registered',
  'entered-in-error': 'entered-in-error',
  // HL7 v2 table 0123 (OBR-25) and 0085 (OBX-11)
  f: 'final',
  c: 'corrected',
  p: 'preliminary',
  r: 'preliminary', // results stored, not yet verified
  a: 'partial', // some, not all, results available
  x: 'cancelled',
  i: 'registered',
  o: 'registered',
  s: 'registered',
  d: 'entered-in-error', // OBX-11 D: delete the result
  w: 'entered-in-error', // OBX-11 W: the original was wrong
};

export function reportStatus(source: string | undefined | null): ReportStatus {
  return REPORT[(source ?? '').trim().toLowerCase()] ?? 'unknown';
}

export function observationStatus(source: string | undefined | null): ObservationStatus {
  const s = reportStatus(source);
  // Observation has no `partial` or `appended`; a partial report's analytes are preliminary.
  if (s === 'partial') return 'preliminary';
  if (s === 'appended') return 'amended';
  return s;
}

/** ImagingStudy knows only whether the images are there: cancelled studies are `cancelled`. */
export function imagingStudyStatus(source: string | undefined | null): ImagingStudy['status'] {
  const s = reportStatus(source);
  if (s === 'cancelled') return 'cancelled';
  if (s === 'entered-in-error') return 'entered-in-error';
  return 'available';
}

/**
 * Precedence among versions of one report (same filler order / report number): corrections and
 * cancellations supersede finals, finals supersede preliminaries; equals are decided by report time.
 */
export function statusPrecedence(status: ReportStatus): number {
  switch (status) {
    case 'corrected':
    case 'amended':
    case 'cancelled':
    case 'entered-in-error':
      return 3;
    case 'final':
      return 2;
    case 'preliminary':
    case 'partial':
      return 1;
    default:
      return 0;
  }
}
