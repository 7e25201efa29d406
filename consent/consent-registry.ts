import type { Consent } from '@medplum/fhirtypes';
import type { GatewayConfig } from '../gateway/config';
import type { PatientDirectory } from '../gateway/patient-index/contract';
import { badRequest } from '../gateway/fhir/outcomes';
import { invalidResource } from '../gateway/fhir/validator';
import { checkConsent, forbiddenField, type CheckedConsent } from './consent-validation';
import { ConsentNotFound, type ConsentStore } from './consent-store';

/**
 * Recording and changing consents (API.md §5), without HTTP: validation, the patient check, the
 * ownership rule and the store. The routes and the demo loader both come through here, so a
 * consent is never stored without the same checks.
 *
 * Ownership: the registering hospital (`organization`) alone may change a consent; a consent
 * loaded by the platform without an organization may be changed by any member hospital's
 * registrar, which then becomes its organization.
 */
export interface ConsentRegistry {
  readonly store: ConsentStore;
  /** validate (as for POST) without storing: the normalised consent and its patient */
  check(body: unknown, registrarHospital: string, method?: 'POST' | 'PUT'): CheckedConsent;
  /** POST: validate, check the patient is known, store version 1 */
  register(body: unknown, registrarHospital: string, opts?: { onPatient?: (patientId: string) => void }): Promise<Consent>;
  /** PUT: the owner stores a new version (status inactive withdraws) */
  revise(
    id: string,
    body: unknown,
    registrarHospital: string,
    opts?: { expectedVersion?: number; onPatient?: (patientId: string) => void },
  ): Promise<Consent>;
}

export function createConsentRegistry(deps: { config: GatewayConfig; store: ConsentStore; patientIndex: PatientDirectory }): ConsentRegistry {
  const { config, store, patientIndex } = deps;
  const hospitalIds = new Set(config.hospitals.map((h) => h.id));
  const check = (body: unknown, registrarHospital: string, method: 'POST' | 'PUT' = 'POST') =>
    checkConsent(body, { hospitalIds, canonicalBase: config.canonicalBase, registrarHospital, method });

  /** the regional patient as the index knows them now (a merged record answers with the survivor) */
  async function knownPatient(patientId: string): Promise<string> {
    const p = await patientIndex.get(patientId);
    if (!p) {
      throw invalidResource(
        [{ text: `Consent.patient: Patient/${patientId} is not a known regional patient`, expression: 'Consent.patient', code: 'value' }],
        'unknown-patient',
      );
    }
    return p.id;
  }

  return {
    store,
    check,

    async register(body, registrarHospital, opts = {}) {
      const { consent, patientId } = check(body, registrarHospital, 'POST');
      opts.onPatient?.(patientId);
      const regional = await knownPatient(patientId);
      return store.create({ ...consent, patient: { ...consent.patient, reference: `Patient/${regional}` } }, regional, registrarHospital);
    },

    async revise(id, body, registrarHospital, opts = {}) {
      const current = await store.readRecord(id);
      if (!current) throw new ConsentNotFound();
      opts.onPatient?.(current.patientId);
      if (current.organization && current.organization !== registrarHospital) {
        throw forbiddenField(
          'Only the hospital that recorded this consent may change it',
          'Consent.organization',
          'foreign-consent',
        );
      }
      const { consent, patientId } = check(body, registrarHospital, 'PUT');
      if ((body as { id?: unknown }).id !== id) {
        // FHIR update: the body carries the id of the URL (RESTful API §3.1.0.4)
        throw badRequest('The Consent in the body must carry the id of the URL', 'Consent.id', 'id-mismatch');
      }
      if (patientId !== current.patientId && (await patientIndex.get(patientId))?.id !== current.patientId) {
        throw invalidResource(
          [{ text: 'Consent.patient cannot change: record a new consent for another patient', expression: 'Consent.patient', code: 'value' }],
          'patient-changed',
        );
      }
      return store.update(
        id,
        { ...consent, patient: { ...consent.patient, reference: `Patient/${current.patientId}` } },
        opts.expectedVersion,
        registrarHospital,
      );
    },
  };
}
