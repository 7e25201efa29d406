import { randomUUID } from 'node:crypto';
import type { Db } from '../../gateway/storage/db';

/**
 * Fill the store with `n` consents for `n` patients (one each) straight through knex in large
 * batches, in the layout consent/consent-store.ts writes: what the consent decision then has to
 * find its way through. Returns the patient ids.
 */
export async function seedConsents(db: Db, n: number, hospital: string): Promise<string[]> {
  const now = new Date().toISOString();
  const ids: string[] = [];
  const batch = 500;
  for (let i = 0; i < n; i += batch) {
    const patients: object[] = [];
    const consents: object[] = [];
    for (let j = i; j < Math.min(n, i + batch); j++) {
      const pid = randomUUID();
      ids.push(pid);
      // Unique placeholders: the bench never asks hospitals about these residents.
      patients.push({ id: pid, national_id: `B${String(j).padStart(17, '0')}`, created_at: now });
      const cid = randomUUID();
      const resource = {
        resourceType: 'Consent',
        id: cid,
        meta: { versionId: '1', lastUpdated: now },
        status: 'active',
        scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
        category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
        patient: { reference: `Patient/${pid}` },
        organization: [{ reference: `Organization/${hospital}` }],
        provision: { type: 'permit', provision: j % 3 === 0 ? [{ type: 'deny', class: [{ system: 'http://hl7.org/fhir/resource-types', code: 'ImagingStudy' }] }] : undefined },
      };
      consents.push({ id: cid, patient_id: pid, status: 'active', version_id: 1, organization: hospital, resource: JSON.stringify(resource), updated_at: now });
    }
    await db.transaction(async (trx) => {
      await trx.batchInsert('patients', patients, 250);
      await trx.batchInsert('consents', consents, 100);
    });
  }
  return ids;
}
