import type { CatalogItem } from './contract';

/**
 * The recognition rule of API.md §6 as one pure function: for a result from hospital P asked for
 * by hospital R, the first status that applies, in this order:
 * `own` → `not-in-catalog` → `not-final` → `not-accredited` → `grade-below` → `expired` →
 * `recognizable` (with the last instant it stays valid).
 *
 * Decisions (docs/recognition.md "The rules"):
 * - the validity window is closed at its end: a result taken at t with a window of d days is
 *   recognizable up to and including t + d×24 h (`validUntil`), expired one millisecond later;
 * - the result time is the clinically relevant one (gateway/fhir/result-time.ts); a result with no
 *   usable time cannot be shown to be in its window and is `expired`;
 * - final statuses: `final`, `amended`, `corrected`, `appended` (a kind of amended) and, for
 *   ImagingStudy (which has no "final"), `available`;
 * - a requester with no hospital (an auditor) is never `own` and has no grade to be below: the
 *   status then says whether the result is recognizable at all.
 */

export const RECOGNITION_STATUSES = ['own', 'not-in-catalog', 'not-final', 'not-accredited', 'grade-below', 'expired', 'recognizable'] as const;
export type RecognitionStatus = (typeof RECOGNITION_STATUSES)[number];

const FINAL_STATUSES = new Set(['final', 'amended', 'corrected', 'appended']);
const DAY_MS = 86_400_000;

/** The level of a grade: the digit of `3A`, `2B`, … (3 = tertiary). NaN when the grade is not one. */
export function gradeLevel(grade: string | undefined): number {
  const m = grade ? /^([123])[ABC]$/.exec(grade) : null;
  return m ? Number(m[1]) : NaN;
}

/** True when a result in `status` (of `resourceType`) is final enough to be recognised. */
export function isFinalStatus(status: string | undefined, resourceType?: string): boolean {
  if (!status) return false;
  return FINAL_STATUSES.has(status) || (resourceType === 'ImagingStudy' && status === 'available');
}

export interface RecognitionHospital {
  id: string;
  grade?: string;
  recognizedItems?: readonly string[];
}

export interface RecognitionInput {
  /** P: the hospital the result comes from (unknown to the configuration: no grade, no items) */
  source: RecognitionHospital;
  /** R: the requesting hospital; undefined for a requester with no hospital (auditor) */
  requester?: RecognitionHospital;
  resultType?: string;
  resultStatus: string | undefined;
  /** the result time, ISO 8601 */
  resultTime: string | undefined;
  item: Pick<CatalogItem, 'code' | 'validityDays'> | undefined;
  now: Date;
}

export interface RecognitionVerdict {
  status: RecognitionStatus;
  /** recognizable only: the last instant the result stays valid */
  validUntil?: Date;
}

/** The recognition status of one result for one requesting hospital (API.md §6). */
export function recognitionStatus(input: RecognitionInput): RecognitionVerdict {
  const { source, requester, item } = input;
  if (requester && requester.id === source.id) return { status: 'own' };
  if (!item) return { status: 'not-in-catalog' };
  if (!isFinalStatus(input.resultStatus, input.resultType)) return { status: 'not-final' };
  if (!source.recognizedItems?.includes(item.code)) return { status: 'not-accredited' };
  if (requester) {
    const p = gradeLevel(source.grade);
    const r = gradeLevel(requester.grade);
    // An unknown source grade cannot be shown to be at the requester's level.
    if (Number.isNaN(p) ? !Number.isNaN(r) : p < r) return { status: 'grade-below' };
  }
  const taken = input.resultTime ? Date.parse(input.resultTime) : NaN;
  if (Number.isNaN(taken)) return { status: 'expired' };
  const validUntil = new Date(taken + item.validityDays * DAY_MS);
  if (input.now.getTime() > validUntil.getTime()) return { status: 'expired' };
  return { status: 'recognizable', validUntil };
}
