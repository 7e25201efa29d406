import type { OperationOutcome, Patient } from '@medplum/fhirtypes';
import type { ResultResource, ResultType } from '../../adapters/adapter';
import type { AccessRecord, Requester } from '../context';
import type { CatalogItem } from '../recognition/contract';

/**
 * Who asks and what their request touched: given to every read of patient data, which judges the
 * requester's consent and writes what it released into the record for the audit trail.
 */
export interface Access {
  readonly requester: Requester;
  readonly record: AccessRecord;
}

/** A result as released: in gateway form, permitted by consent, annotated for recognition. */
export interface FoundResult {
  resource: ResultResource;
  hospitalId: string;
  item?: CatalogItem;
}

export interface PatientResults {
  patientId: string;
  results: FoundResult[];
  /** one OperationOutcome per hospital that failed */
  failures: OperationOutcome[];
  /** consent withheld something */
  suppressed: boolean;
}

/** Whose results: a regional id, or an identifier (national id or a hospital's record number). */
export type Subject = { patientId: string } | { identifier: { system?: string; value: string }; param: string };

/** A patient as released to this requester: the full identity, or the minimum consent allows. */
export interface PatientView {
  resource: Patient;
  /** consent withheld identifiers (API.md §4 as refined in docs/patient-data.md) */
  withheld: boolean;
}

/**
 * The one path to patient data (docs/patient-data.md). Every read of results and patients goes
 * through it; it alone holds the hospitals' callers and the patient index, and every resource it
 * returns is marked released, which the HTTP layer checks before it sends anything.
 */
export interface PatientData {
  /** the patient's results of the given types; null when no hospital knows the patient */
  results(
    access: Access,
    subject: Subject,
    types: readonly ResultType[],
    opts?: {
      hospitals?: readonly string[];
      includeMembers?: boolean;
      /** answer within this many ms with what has arrived (CDS Hooks); hospitals still out count as timeouts */
      budgetMs?: number;
    },
  ): Promise<PatientResults | null>;
  /**
   * Note that the request concerns a patient named by regional id (recorded for the audit trail);
   * false when the index does not know them. Releases nothing and asks no hospital.
   */
  concerns(access: Access, patientId: string): Promise<boolean>;
  /** one result by gateway id; 404 unknown, 403 withheld, 503 hospital down */
  readResult(access: Access, type: ResultType, id: string): Promise<FoundResult>;
  /** the patient found by identifier (asking hospitals only about a resident the index does not know) or by regional id */
  findPatient(access: Access, subject: Subject, opts?: { completeLinks?: boolean }): Promise<PatientView | null>;
}
