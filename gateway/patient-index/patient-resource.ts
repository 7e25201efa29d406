import type { Identifier, Patient } from '@medplum/fhirtypes';
import type { GatewayConfig } from '../config';
import type { PatientLink, RegionalPatient } from './contract';
import { NATIONAL_ID_SYSTEM, demographicsFromNationalId } from './national-id';

/** The identifier system of a hospital's medical record numbers. */
export const mrnSystem = (canonicalBase: string, hospitalId: string) => `${canonicalBase}/sid/mrn/${hospitalId}`;

/**
 * The regional patient as FHIR (API.md §4): the regional id, the national id and each hospital's
 * record numbers with that hospital as assigner. Birth date and sex come from the national id;
 * names stay with the hospitals (minimum necessary).
 */
export function patientResource(p: RegionalPatient, config: GatewayConfig): Patient {
  return minimalPatientResource(p, config, { links: p.links, nationalId: true });
}

/**
 * The regional patient with only the identifiers given: the regional id always, the national id
 * (and the birth date and sex it encodes) when `nationalId`, record numbers of `links` only. What an
 * asker without consent is shown (docs/patient-data.md).
 */
export function minimalPatientResource(p: RegionalPatient, config: GatewayConfig, show: { links: readonly PatientLink[]; nationalId: boolean }): Patient {
  const names = new Map(config.hospitals.map((h) => [h.id, h.name]));
  const identifier: Identifier[] = [];
  if (show.nationalId) {
    identifier.push({
      use: 'official',
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'NI', display: 'National unique individual identifier' }] },
      system: NATIONAL_ID_SYSTEM,
      value: p.nationalId,
    });
  }
  for (const l of show.links) {
    for (const mrn of l.mrns) {
      identifier.push({
        use: 'usual',
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR', display: 'Medical record number' }] },
        system: mrnSystem(config.canonicalBase, l.hospitalId),
        value: mrn,
        assigner: { reference: `Organization/${l.hospitalId}`, display: names.get(l.hospitalId) },
      });
    }
  }
  const patient: Patient = { resourceType: 'Patient', id: p.id, meta: { source: config.publicBaseUrl } };
  if (identifier.length) patient.identifier = identifier;
  // A merged identity is inactive and names its survivor; the survivor names what it replaces (R4 Patient.link).
  patient.active = !p.mergedInto;
  const link: NonNullable<Patient['link']> = [];
  if (p.mergedInto) link.push({ other: { reference: `Patient/${p.mergedInto}` }, type: 'replaced-by' });
  for (const r of p.replaces ?? []) link.push({ other: { reference: `Patient/${r}` }, type: 'replaces' });
  if (link.length) patient.link = link;
  if (show.nationalId) {
    const { birthDate, gender } = demographicsFromNationalId(p.nationalId);
    patient.gender = gender;
    patient.birthDate = birthDate;
  }
  return patient;
}
