import type { DiagnosticReport, ImagingStudy, Observation } from '@medplum/fhirtypes';

/**
 * One interface for every kind of hospital system (API.md §2 "Adapters"). An adapter turns the
 * hospital's native form into FHIR R4 results; it knows nothing of consent, audit or recognition.
 *
 * Ids in what an adapter returns are the hospital's local ids, already valid FHIR ids
 * (`[A-Za-z0-9.-]{1,64}`, see {@link encodeLocalId}); references between them are relative
 * (`Observation/<local id>`). The gateway prefixes ids with the hospital, points `subject` at the
 * regional patient and sets `meta.source` (gateway/federation/result-ids.ts).
 *
 * Adapters throw {@link AdapterError} (or anything; the caller classifies) when the hospital fails.
 */
export type ResultType = 'DiagnosticReport' | 'Observation' | 'ImagingStudy';
export const RESULT_TYPES: readonly ResultType[] = ['DiagnosticReport', 'Observation', 'ImagingStudy'];

export interface LocalPatient {
  /** the key the adapter uses to fetch this patient's results (FHIR Patient id, national id, …) */
  localId: string;
  /** the hospital's medical record numbers for the patient */
  mrns: string[];
}

export interface HospitalResults {
  DiagnosticReport: DiagnosticReport[];
  Observation: Observation[];
  ImagingStudy: ImagingStudy[];
}

export type ResultResource = DiagnosticReport | Observation | ImagingStudy;

export interface FetchOptions {
  /** aborted when the hospital's timeout passes or the request is gone */
  signal: AbortSignal;
}

export interface AdapterStatus {
  state: 'up' | 'down';
  /** the last failure, without patient data */
  lastError?: string;
  lastErrorAt?: string;
  /** kind-specific figures (e.g. hl7v2: files read, files rejected) */
  details?: Record<string, number | string>;
}

export interface HospitalAdapter {
  readonly hospitalId: string;
  readonly kind: 'fhir' | 'hl7v2' | 'sql' | 'cda';
  /** open connections, start watching an inbox; called once before use */
  start(): Promise<void>;
  close(): Promise<void>;
  /** the hospital's record of a resident, or null when the hospital does not know them */
  findPatient(nationalId: string, opts: FetchOptions): Promise<LocalPatient | null>;
  /**
   * The patient's results of the types asked for (others may be left out). Asking for
   * DiagnosticReport also returns the reports' member Observations (in `Observation`), so a report
   * search costs one query and reports can be matched to catalogue items through their members.
   * The caller owns what is returned: fresh objects, each returned once, whose top-level fields the
   * gateway rewrites in place.
   */
  fetchResults(patient: LocalPatient, types: readonly ResultType[], opts: FetchOptions): Promise<Partial<HospitalResults>>;
  /**
   * One result by local id, with the national id of its patient (so consent can be judged), and
   * for a DiagnosticReport its member Observations. Null when the hospital has no such result.
   */
  readResult(type: ResultType, localId: string, opts: FetchOptions): Promise<ReadResult | null>;
  /**
   * The national ids of the residents the hospital knows under exactly this name and birth date
   * (YYYY-MM-DD). Optional: only systems that hold names can answer (a front-end view of results
   * has none); the gateway says which hospitals could not be asked.
   */
  findNationalIdsByName?(name: string, birthDate: string, opts: FetchOptions): Promise<string[]>;
  status(): AdapterStatus;
}

/** One result read by local id, with what consent needs to judge it. */
export interface ReadResult {
  resource: ResultResource;
  nationalId: string;
  contained?: Observation[];
}

/**
 * How a hospital failed to answer — the one union for adapters, the caller's circuit and the
 * partial-results outcome (API.md §4): `timeout`: no answer in time; `transient`: refused/5xx, may
 * work later; `exception`: nonsense.
 */
export type HospitalFailureKind = 'timeout' | 'transient' | 'exception';

export class AdapterError extends Error {
  constructor(
    message: string,
    readonly kind: HospitalFailureKind,
  ) {
    super(message);
    this.name = 'AdapterError';
  }
}

/**
 * Turn any local key (report number, accession number, …) into a FHIR id, reversibly: letters and
 * digits stay, every other character becomes `-` + two hex digits (UTF-8 bytes), `-` included.
 */
export function encodeLocalId(key: string): string {
  let out = '';
  for (const byte of Buffer.from(key, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9]/.test(c) ? c : '-' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

export function decodeLocalId(id: string): string | null {
  if (!/^(?:[A-Za-z0-9]|-[0-9A-F]{2})*$/.test(id)) return null;
  const bytes: number[] = [];
  for (let i = 0; i < id.length; i++) {
    if (id[i] === '-') {
      bytes.push(parseInt(id.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(id.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * What adapters count, handed in by whoever makes them (the gateway passes its Prometheus
 * counters), so adapters depend on nothing of the gateway's.
 */
export interface AdapterMetrics {
  hl7FilesRejected: { inc(labels: { hospital: string }): void };
  /** MLLP messages by what they were answered (`AA`, `AE`, `AR`, `duplicate`) */
  mllpMessages?: { inc(labels: { hospital: string; outcome: string }): void };
  /** CDA documents skipped as unusable */
  cdaDocumentsRejected?: { inc(labels: { hospital: string }): void };
}
