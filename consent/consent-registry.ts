import type { Consent } from '@medplum/fhirtypes';
import type { GatewayConfig } from '../gateway/config';
import type { Clock } from '../gateway/context';
import type { PatientDirectory, RegionalPatient } from '../gateway/patient-index/contract';
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
 *
 * Who may record (docs/consent.md §2): a consent is evidence of the resident's will, taken where
 * the resident is cared for, so a registrar records or re-activates one only for a resident who has
 * an identity at the registrar's hospital — a record number its own systems gave the regional
 * index. Anyone may be withdrawn by its owner. Dates are checked against the clock.
 */
export interface ConsentRegistry {
  readonly store: ConsentStore;
  /** validate (as for POST) without storing: the normalised consent and its patient */
  check(body: unknown, registrarHospital: string, method?: 'POST' | 'PUT', opts?: RecordingOptions): CheckedConsent;
  /** POST: validate, check the patient is known, store version 1 */
  register(body: unknown, registrarHospital: string, opts?: { onPatient?: (patientId: string) => void; recordedAt?: Date }): Promise<Consent>;
  /** PUT: the owner stores a new version (status inactive withdraws) */
  revise(
    id: string,
    body: unknown,
    registrarHospital: string,
    opts?: { expectedVersion?: number; onPatient?: (patientId: string) => void; recordedAt?: Date },
  ): Promise<Consent>;
}

export interface RecordingOptions {
  /** PUT: the version being replaced (dates it already had are not checked again) */
  previous?: Consent;
  /**
   * When the consent was recorded, if not now: only for loading records kept elsewhere before
   * (the demo consents); no HTTP route passes it.
   */
  recordedAt?: Date;
}

export function createConsentRegistry(deps: { config: GatewayConfig; store: ConsentStore; patientIndex: PatientDirectory; clock: Clock }): ConsentRegistry {
  const { config, store, patientIndex, clock } = deps;
  const hospitalIds = new Set(config.hospitals.map((h) => h.id));
  const check = (body: unknown, registrarHospital: string, method: 'POST' | 'PUT' = 'POST', opts: RecordingOptions = {}) =>
    checkConsent(body, { hospitalIds, canonicalBase: config.canonicalBase, registrarHospital, method, now: opts.recordedAt ?? clock.now(), previous: opts.previous });

  /** the regional patient as the index knows them now (a merged record answers with the survivor) */
  async function knownPatient(patientId: string): Promise<RegionalPatient> {
    const p = await patientIndex.get(patientId);
    if (!p) {
      throw invalidResource(
        [{ text: `Consent.patient: Patient/${patientId} is not a known regional patient`, expression: 'Consent.patient', code: 'value' }],
        'unknown-patient',
      );
    }
    return p;
  }

  function requireOwnPatient(p: RegionalPatient, registrarHospital: string): void {
    if (!p.links.some((l) => l.hospitalId === registrarHospital)) {
      throw forbiddenField(
        "A registrar records consents only for its hospital's own patients: the resident has no record at this hospital (look them up by national id first, so the index learns your hospital's record)",
        'Consent.patient',
        'not-registrar-patient',
      );
    }
  }

  return {
    store,
    check,

    async register(body, registrarHospital, opts = {}) {
      const { consent, patientId } = check(body, registrarHospital, 'POST', { recordedAt: opts.recordedAt });
      opts.onPatient?.(patientId);
      const patient = await knownPatient(patientId);
      requireOwnPatient(patient, registrarHospital);
      return store.create({ ...consent, patient: { ...consent.patient, reference: `Patient/${patient.id}` } }, patient.id, registrarHospital);
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
      const { consent, patientId } = check(body, registrarHospital, 'PUT', { previous: current.consent, recordedAt: opts.recordedAt });
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
      // Withdrawing is always the owner's right; keeping or taking over an active consent is recording one.
      if (consent.status === 'active') requireOwnPatient(await knownPatient(current.patientId), registrarHospital);
      return store.update(
        id,
        { ...consent, patient: { ...consent.patient, reference: `Patient/${current.patientId}` } },
        opts.expectedVersion,
        registrarHospital,
      );
    },
  };
}
