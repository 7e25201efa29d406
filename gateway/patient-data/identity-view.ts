import type { PatientLink, RegionalPatient } from '../patient-index/contract';

/**
 * What an identity answer shows (docs/patient-data.md §3), as one pure rule: with consent, all of
 * it; without, the minimum — the regional id, the national id the asker gave or its own hospital
 * knows, the asker's own record numbers — and nothing at all to an asker who named the resident by
 * another hospital's record number, or by name and birth date without a record of its own, or the
 * answer would tell it where (or that) the resident was treated.
 */
export type IdentityView =
  | { kind: 'full' }
  | { kind: 'minimal'; links: PatientLink[]; nationalId: boolean }
  | { kind: 'unknown' };

/** How the asker named the resident. */
export type AskedBy = { nationalId: true } | { mrn: string } | { regionalId: true } | { nameAndBirthDate: true };

export function identityView(p: { patient: RegionalPatient; permitted: boolean; askerHospital: string | undefined; askedBy: AskedBy }): IdentityView {
  if (p.permitted) return { kind: 'full' };
  const ownLinks = p.patient.links.filter((l) => l.hospitalId === p.askerHospital);
  const askedBy = p.askedBy;
  if ('mrn' in askedBy && !ownLinks.some((l) => l.mrns.includes(askedBy.mrn))) return { kind: 'unknown' };
  // By name and birth date, a match the asker's own hospital does not know would tell it that a
  // resident of that name was treated somewhere in the region: without consent, only its own patients.
  if ('nameAndBirthDate' in askedBy && ownLinks.length === 0) return { kind: 'unknown' };
  return { kind: 'minimal', links: ownLinks, nationalId: 'nationalId' in askedBy || ownLinks.length > 0 };
}
