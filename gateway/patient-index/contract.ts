import type { OperationOutcome } from '@medplum/fhirtypes';
import type { LocalPatient } from '../../adapters/adapter';

export interface PatientLink {
  hospitalId: string;
  localId: string;
  mrns: string[];
  /** the identity the link was made for, when it is one merged into this patient (docs/patient-data.md §5) */
  viaMerged?: string;
}

export interface RegionalPatient {
  id: string;
  nationalId: string;
  /** its own links, then those of every identity merged into it */
  links: PatientLink[];
  /** set when this identity was merged into another: that survivor answers for it */
  mergedInto?: string;
  /** identities merged into this one, directly or through another */
  replaces?: string[];
}

/** Who merges or unmerges, and why: kept with the merge and in the audit trail. */
export interface MergeActor {
  by: string;
  reason?: string;
}

/**
 * What asking the hospitals about a resident found out, so a search made right after does not ask
 * (and wait for) the same hospitals twice.
 */
export interface PatientLookup {
  /** hospitals that answered that they do not know the resident */
  unknownAt: Set<string>;
  /** hospitals that failed to answer, with the failure as a Bundle outcome */
  failedAt: Map<string, OperationOutcome>;
  /** hospitals still being asked (their answer, or their failure as a HospitalCallError) */
  pendingAt?: Map<string, Promise<LocalPatient | null>>;
}

/** The index as stored: no hospital is asked. What consent and the demo loader may use. */
export interface PatientDirectory {
  get(regionalId: string): Promise<RegionalPatient | null>;
  /**
   * The identities that answer together for `regionalId`: the active survivor first, then every
   * identity merged into it. Read from the database each time (consent judges all of them).
   */
  identityGroup(regionalId: string): Promise<string[]>;
}

export interface PatientIndex extends PatientDirectory {
  /** the regional patient for a national id (already check-digit-validated), asking hospitals when needed; null when no hospital knows them */
  resolveNationalId(nationalId: string, opts?: { refresh?: boolean }): Promise<RegionalPatient | null>;
  /** the resident and what asking the hospitals found out (see {@link PatientLookup}) */
  lookupNationalId(
    nationalId: string,
    /** `hospitals`: ask only these (the others' links are left as they are) */
    opts?: { refresh?: boolean; firstFound?: boolean; hospitals?: readonly string[] },
  ): Promise<{ patient: RegionalPatient | null; lookup: PatientLookup }>;
  /** the patient a hospital knows under a record number (PIXm by MR identifier); asks no hospital */
  findByMrn(hospitalId: string, mrn: string): Promise<RegionalPatient | null>;
  /** remember that a hospital knows the patient under a local id */
  link(patientId: string, link: PatientLink): Promise<void>;
  /** the active identity that answers for `regionalId` (itself when not merged) */
  survivorOf(regionalId: string): Promise<RegionalPatient | null>;
  /** merge `sourceId` into `targetId` (both active, not the same); throws a 4xx OperationOutcomeError */
  merge(sourceId: string, targetId: string, actor: MergeActor): Promise<void>;
  /** undo the merge of `sourceId`; throws a 4xx OperationOutcomeError when it is not merged */
  unmerge(sourceId: string, actor: MergeActor): Promise<{ formerTarget: string }>;
  /**
   * The identity feed (docs/patient-data.md §6): a hospital says it knows the resident of
   * `nationalId` under `mrns`; with `conditionMrn` (a conditional update) the record it knew under
   * that number is the one changed (its national id corrected, its numbers replaced). Throws 409 for
   * a number of another resident or a national id another identity holds.
   */
  feed(input: { hospitalId: string; conditionMrn?: string; nationalId: string; mrns: string[] }): Promise<{ patientId: string; created: boolean }>;
  /** why a merge of `sourceId` into `targetId` would be refused, or undefined (preview and merge share it) */
  mergeProblem(sourceId: string, targetId: string): Promise<MergeProblem | undefined>;
}

export type MergeProblem = 'unknown-source' | 'unknown-target' | 'merge-into-self' | 'source-merged' | 'target-merged';
