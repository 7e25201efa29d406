import type { Patient } from '@medplum/fhirtypes';
import { orgId } from './hospitals';
import { NATIONAL_ID_SYSTEM } from './national-id';

/**
 * A regional patient as the gateway shows them to this hospital (docs/patient-data.md §3): with
 * consent, the national id and every hospital's record number; without, the regional id and at
 * most the national id given and the asker's own record numbers. Names stay with the hospitals.
 */

export interface PatientSummary {
  regionalId: string;
  nationalId?: string;
  gender?: string;
  birthDate?: string;
  records: Array<{ hospitalId: string; hospitalName?: string; value: string }>;
}

export function summarisePatient(p: Patient): PatientSummary {
  const ids = p.identifier ?? [];
  const national = ids.find((i) => i.system === NATIONAL_ID_SYSTEM)?.value;
  return {
    regionalId: p.id ?? '',
    ...(national ? { nationalId: national } : {}),
    ...(p.gender ? { gender: p.gender } : {}),
    ...(p.birthDate ? { birthDate: p.birthDate } : {}),
    records: ids
      .filter((i) => i.system !== NATIONAL_ID_SYSTEM && i.value)
      .map((i) => ({
        hospitalId: orgId(i.assigner?.reference) ?? /\/mrn\/([^/]+)$/.exec(i.system ?? '')?.[1] ?? '',
        ...(i.assigner?.display ? { hospitalName: i.assigner.display } : {}),
        value: i.value!,
      })),
  };
}

/** A national id shown with its middle masked, as on a printed form: 350203********1595 */
export const maskNationalId = (id: string) => (id.length === 18 ? `${id.slice(0, 6)}********${id.slice(14)}` : id);
