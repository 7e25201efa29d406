import { randomUUID } from 'node:crypto';
import type { Consent } from '@medplum/fhirtypes';
import type { Clock } from '../gateway/context';
import type { Db } from '../gateway/storage/db';

/**
 * Consents in the database, every version kept (API.md §5: an auditor can see what was in force
 * when). Read on every judgement, never cached, so a withdrawal holds from the next request on in
 * every instance.
 */
export interface ConsentStore {
  create(consent: Consent, patientId: string, organization: string | undefined): Promise<Consent>;
  update(id: string, consent: Consent, expectedVersion?: string): Promise<Consent>;
  read(id: string): Promise<Consent | undefined>;
  readVersion(id: string, versionId: number): Promise<Consent | undefined>;
  history(id: string): Promise<Consent[]>;
  byPatient(patientId: string): Promise<Consent[]>;
  activeFor(patientId: string): Promise<Consent[]>;
  findByIdentifier(patientId: string, system: string, value: string): Promise<Consent | undefined>;
}

export function createConsentStore(db: Db, clock: Clock): ConsentStore {
  const parse = (row: { resource: string } | undefined) => (row ? (JSON.parse(row.resource) as Consent) : undefined);

  async function write(consent: Consent, id: string, version: number, patientId: string, organization: string | undefined) {
    const now = clock.now().toISOString();
    const stored: Consent = { ...consent, id, meta: { ...(consent.meta ?? {}), versionId: String(version), lastUpdated: now } };
    const json = JSON.stringify(stored);
    await db.transaction(async (trx) => {
      if (version === 1) {
        await trx('consents').insert({ id, patient_id: patientId, status: stored.status, version_id: 1, organization: organization ?? null, resource: json, updated_at: now });
      } else {
        // Optimistic: only the version we read may be replaced (two registrars at once → one wins).
        const n = await trx('consents').where({ id, version_id: version - 1 }).update({ status: stored.status, version_id: version, resource: json, updated_at: now });
        if (n !== 1) throw new VersionConflict();
      }
      await trx('consent_history').insert({ id, version_id: version, resource: json, recorded_at: now });
    });
    return stored;
  }

  return {
    create: (consent, patientId, organization) => write(consent, randomUUID(), 1, patientId, organization),
    async update(id, consent, expectedVersion) {
      const row = await db('consents').where({ id }).first('version_id', 'patient_id', 'organization');
      if (!row) throw new Error('not found');
      if (expectedVersion && String(row.version_id) !== expectedVersion) throw new VersionConflict();
      return write(consent, id, Number(row.version_id) + 1, row.patient_id, row.organization ?? undefined);
    },
    read: async (id) => parse(await db('consents').where({ id }).first('resource')),
    readVersion: async (id, v) => parse(await db('consent_history').where({ id, version_id: v }).first('resource')),
    history: async (id) => (await db('consent_history').where({ id }).orderBy('version_id', 'desc').select('resource')).map((r) => parse(r)!),
    byPatient: async (patientId) => (await db('consents').where({ patient_id: patientId }).orderBy('updated_at', 'desc').select('resource')).map((r) => parse(r)!),
    activeFor: async (patientId) => (await db('consents').where({ patient_id: patientId, status: 'active' }).select('resource')).map((r) => parse(r)!),
    async findByIdentifier(patientId, system, value) {
      for (const c of await this.byPatient(patientId)) if (c.identifier?.some((i) => i.system === system && i.value === value)) return c;
      return undefined;
    },
  };
}

export class VersionConflict extends Error {
  constructor() {
    super('version conflict');
  }
}
