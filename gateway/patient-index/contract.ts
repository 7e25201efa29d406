import type { OperationOutcome } from '@medplum/fhirtypes';
import type { LocalPatient } from '../../adapters/adapter';

export interface PatientLink {
  hospitalId: string;
  localId: string;
  mrns: string[];
}

export interface RegionalPatient {
  id: string;
  nationalId: string;
  links: PatientLink[];
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
}
