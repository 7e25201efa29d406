import type { Identifier, Patient } from '@medplum/fhirtypes';
import type { GatewayConfig } from '../config';
import type { RegionalPatient } from '../services';
import { NATIONAL_ID_SYSTEM, demographicsFromNationalId } from './national-id';

/** The identifier system of a hospital's medical record numbers. */
export const mrnSystem = (canonicalBase: string, hospitalId: string) => `${canonicalBase}/sid/mrn/${hospitalId}`;

/**
 * The regional patient as FHIR (API.md §4): the regional id, the national id and each hospital's
 * record numbers with that hospital as assigner. Birth date and sex come from the national id;
 * names stay with the hospitals (minimum necessary).
 */
export function patientResource(p: RegionalPatient, config: GatewayConfig): Patient {
  const names = new Map(config.hospitals.map((h) => [h.id, h.name]));
  const identifier: Identifier[] = [
    {
      use: 'official',
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'NI', display: 'National unique individual identifier' }] },
      system: NATIONAL_ID_SYSTEM,
      value: p.nationalId,
    },
  ];
  for (const l of p.links) {
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
  const { birthDate, gender } = demographicsFromNationalId(p.nationalId);
  return {
    resourceType: 'Patient',
    id: p.id,
    meta: { source: config.publicBaseUrl },
    identifier,
    active: true,
    gender,
    birthDate,
  };
}
