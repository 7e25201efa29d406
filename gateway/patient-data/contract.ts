import type { Observation, OperationOutcome, Patient } from '@medplum/fhirtypes';
import type { ResultResource, ResultType } from '../../adapters/adapter';
import type { AccessRecord, Requester } from '../context';
import type { CatalogItem } from '../recognition/contract';
import type { ImagingStudyFilter, ImagingStudySearch, PacsAnswer, WadoRequest } from '../dicomweb/contract';

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
  /** consent withheld some of `results` (members withheld later mark the access record only) */
  suppressed: boolean;
  /**
   * The member Observations of one of `results`' DiagnosticReports, released when first asked for
   * — each judged as any result is (gateway form, consent and labels, recognition annotated,
   * recorded, marked released), those consent withholds left out and the access record marked
   * suppressed — in the report's order, each once; none for any other result. A member several
   * reports name is released once and given to each. For an answer that shows the members of a
   * few reports only (a CDS card), where `includeMembers` would release every Observation of every
   * report found (with it, this gives those same Observations). Ask before the answer is returned:
   * the access record is written after it.
   */
  membersOf(result: FoundResult): Observation[];
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
  /**
   * DICOMweb QIDO-RS (docs/adapters.md "DICOMweb"): the PACS's descriptions of the patient's studies
   * whose ImagingStudy consent releases to the requester, merged over hospitals; null when no
   * hospital knows the patient.
   */
  imagingStudies(access: Access, subject: Subject, filter: ImagingStudyFilter): Promise<ImagingStudySearch | null>;
  /**
   * DICOMweb WADO-RS: one retrieval of the images of the study an ImagingStudy (gateway id)
   * describes, judged exactly as a read of that ImagingStudy; 404 for a UID that is not its study's,
   * 403 withheld, 502 PACS down. The answer streams; it is the caller's to send or destroy.
   */
  retrieveImages(access: Access, imagingStudyId: string, req: WadoRequest): Promise<PacsAnswer>;
  /**
   * Residents by exact name and birth date (docs/patient-data.md §7), asked of the hospitals whose
   * systems hold names; each shown by the identity rule (consent: all; else only the asker's own
   * patients, minimally). `unsearchable`: hospitals that hold no names; `failures`: those that did
   * not answer, as Bundle outcomes.
   */
  findPatientsByName(access: Access, name: string, birthDate: string): Promise<{ views: PatientView[]; withheld: boolean; unsearchable: string[]; failures: OperationOutcome[] }>;
  /**
   * Merge one resident's identity into another's (docs/patient-data.md §5), or with `preview` only
   * say whether it would be done; answers the survivor as the asker may see it. A registrar of a
   * hospital that knows one of the two; throws a 4xx OperationOutcomeError.
   */
  merge(access: Access, m: { source: Subject; target: Subject; reason: string; preview: boolean }): Promise<PatientView>;
  /**
   * The identity feed (docs/patient-data.md §6): a registrar's hospital records or corrects the
   * resident it knows under its record numbers; answers the identity as the asker may see it.
   */
  feed(access: Access, f: { conditional: boolean; identifier?: string; body: unknown }): Promise<{ view: PatientView; created: boolean }>;
  /**
   * The regional ids that answer together for `patientId` (its survivor and every identity merged
   * into it): no data, only ids, for the audit trail's search under either id.
   */
  identityGroup(patientId: string): Promise<string[]>;
  /**
   * The identities whose access history a resident's report covers (docs/audit.md §6): recorded as
   * concerned; a registrar only for a resident with a record at their hospital. Throws 403/404.
   */
  reportSubject(access: Access, patientId: string): Promise<{ ids: string[]; label: string }>;
  /** Undo a merge, restoring the state before it; answers the restored identity as the asker may see it. */
  unmerge(access: Access, m: { source: Subject; reason: string }): Promise<PatientView>;
}
