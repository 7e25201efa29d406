import type { Consent } from '@medplum/fhirtypes';
import { NATIONAL_ID_SYSTEM } from '../gateway/patient-index/national-id';
import type { PatientIndex } from '../gateway/services';
import type { ConsentStore } from './consent-store';

/**
 * Store the demo consents of fixtures/ (patients named by national id), idempotently: a consent
 * whose demo identifier is already stored for that patient is skipped, so restarts add nothing.
 */
export async function loadDemoConsents(
  deps: { services: { consent: unknown }; patientIndex: PatientIndex },
  consents: Consent[],
): Promise<{ loaded: number; skipped: number }> {
  const store = (deps.services.consent as { store?: ConsentStore }).store;
  if (!store) throw new Error('the consent service has no store');
  let loaded = 0;
  let skipped = 0;
  for (const c of consents) {
    const ident = (c.patient as { identifier?: { system?: string; value?: string } } | undefined)?.identifier;
    if (ident?.system !== NATIONAL_ID_SYSTEM || !ident.value) {
      skipped++;
      continue;
    }
    const patient = await deps.patientIndex.resolveNationalId(ident.value);
    const demoId = c.identifier?.[0];
    if (!patient || (demoId?.system && demoId.value && (await store.findByIdentifier(patient.id, demoId.system, demoId.value)))) {
      skipped++;
      continue;
    }
    const organization = c.organization?.[0]?.reference?.replace(/^Organization\//, '');
    await store.create({ ...c, patient: { reference: `Patient/${patient.id}` } }, patient.id, organization);
    loaded++;
  }
  return { loaded, skipped };
}
