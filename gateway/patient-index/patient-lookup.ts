import type { GatewayConfig } from '../config';
import { badRequest } from '../fhir/outcomes';
import type { PatientIndex, PatientLookup, RegionalPatient } from './contract';
import { NATIONAL_ID_SYSTEM, validateNationalId } from './national-id';
import { mrnSystem } from './patient-resource';

const PROBLEM_TEXT = {
  format: 'is not 18 characters (17 digits and a check digit or X)',
  'birth-date': 'does not hold a valid birth date',
  'check-digit': 'has a wrong check digit',
};

/**
 * Find the regional patient for an identifier: the national id (check digit validated first, so
 * a typo never reaches a hospital) or a hospital's record number. Null when nobody knows them.
 */
export async function lookupPatientByIdentifier(
  index: PatientIndex,
  config: GatewayConfig,
  ident: { system?: string; value: string },
  param: string,
  opts: { refresh?: boolean; firstFound?: boolean } = {},
): Promise<{ patient: RegionalPatient | null; lookup?: PatientLookup }> {
  const system = ident.system;
  if (!system || system === NATIONAL_ID_SYSTEM) {
    const v = validateNationalId(ident.value);
    if (!v.ok) throw badRequest(`${param}: the national id ${PROBLEM_TEXT[v.problem]}`, param, `national-id-${v.problem}`);
    return index.lookupNationalId(v.id, opts);
  }
  const hospital = config.hospitals.find((h) => system === mrnSystem(config.canonicalBase, h.id));
  if (!hospital) {
    throw badRequest(`${param}: unknown identifier system (use ${NATIONAL_ID_SYSTEM} or a hospital's record number system)`, param, 'unknown-system');
  }
  return { patient: await index.findByMrn(hospital.id, ident.value) };
}

/** `system|value` → parts; a bare value has no system. */
export function splitIdentifier(raw: string): { system?: string; value: string } {
  const bar = raw.indexOf('|');
  return bar < 0 ? { value: raw } : { system: raw.slice(0, bar) || undefined, value: raw.slice(bar + 1) };
}
