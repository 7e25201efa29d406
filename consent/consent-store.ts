import { randomUUID } from 'node:crypto';
import type { Consent } from '@medplum/fhirtypes';
import type { Clock } from '../gateway/context';
import type { Db } from '../gateway/storage/db';
import { advanceConsentEpoch } from './consent-epoch';

/**
 * Consents in the gateway's database (API.md §5), every version kept in `consent_history` (the
 * auditor can see what was in force when; nothing is ever deleted). The current version of each
 * consent sits in `consents`, indexed by (patient_id, status), so the judgement of a request reads
 * a patient's active consents in one indexed query. Every change moves the consent epoch in its own
 * transaction (consent-epoch.ts), which is what lets instances cache judgement inputs safely.
 *
 * Portable knex only (SQLite and PostgreSQL). `meta.versionId` and `meta.lastUpdated` are set here.
 */
export interface ConsentRecord {
  consent: Consent;
  patientId: string;
  /** the hospital that recorded it (may update it); absent for consents loaded by the platform */
  organization?: string;
  versionId: number;
}

export interface ConsentStore {
  /** store version 1 under a new id */
  create(consent: Consent, patientId: string, organization: string | undefined): Promise<Consent>;
  /**
   * Store a new version. With `expectedVersion` (If-Match) the update fails with
   * {@link VersionConflict} unless that is the current version; without, concurrent writers are
   * serialised (each gets the next version number). Throws {@link ConsentNotFound}. `organization`
   * (when given) becomes the consent's recording hospital.
   */
  update(id: string, consent: Consent, expectedVersion?: number, organization?: string): Promise<Consent>;
  read(id: string): Promise<Consent | undefined>;
  readRecord(id: string): Promise<ConsentRecord | undefined>;
  readVersion(id: string, versionId: number): Promise<Consent | undefined>;
  /** every version, newest first; empty when the id is unknown */
  history(id: string): Promise<Consent[]>;
  /** the patient's consents (current versions), newest change first */
  byPatient(patientId: string, opts?: { status?: string }): Promise<Consent[]>;
  /** the patient's active consents: what every judgement reads */
  activeFor(patientId: string): Promise<Consent[]>;
}

export class VersionConflict extends Error {
  constructor() {
    super('version conflict');
    this.name = 'VersionConflict';
  }
}

export class ConsentNotFound extends Error {
  constructor() {
    super('consent not found');
    this.name = 'ConsentNotFound';
  }
}

/** How often an update without If-Match retries when another writer got in first. */
const UPDATE_ATTEMPTS = 5;

interface ConsentRow {
  id: string;
  patient_id: string;
  status: string;
  version_id: number | string;
  organization: string | null;
  resource: string;
  updated_at: string;
}

/** `reader` serves the plain reads (storage/db.ts createReader); version checks and writes use `db`. */
export function createConsentStore(db: Db, clock: Clock, reader: Db = db): ConsentStore {
  const parse = (json: string) => JSON.parse(json) as Consent;

  function stamp(consent: Consent, id: string, version: number, now: string): Consent {
    const { meta, ...rest } = consent;
    const kept = meta ? { ...meta } : {};
    delete kept.versionId;
    delete kept.lastUpdated;
    return { ...rest, resourceType: 'Consent', id, meta: { ...kept, versionId: String(version), lastUpdated: now } };
  }

  async function tryUpdate(id: string, consent: Consent, expected: number | undefined, organization: string | undefined): Promise<Consent | 'conflict'> {
    const row = await db<ConsentRow>('consents').where({ id }).first('version_id');
    if (!row) throw new ConsentNotFound();
    const current = Number(row.version_id);
    if (expected !== undefined && expected !== current) throw new VersionConflict();
    const version = current + 1;
    const now = clock.now().toISOString();
    const stored = stamp(consent, id, version, now);
    const json = JSON.stringify(stored);
    return db.transaction(async (trx) => {
      // Optimistic: only the version read may be replaced, so two writers never share a number.
      const n = await trx('consents')
        .where({ id, version_id: current })
        .update({ status: stored.status, version_id: version, resource: json, updated_at: now, ...(organization ? { organization } : {}) });
      if (n !== 1) return 'conflict' as const;
      await trx('consent_history').insert({ id, version_id: version, resource: json, recorded_at: now });
      await advanceConsentEpoch(trx);
      return stored;
    });
  }

  return {
    async create(consent, patientId, organization) {
      const id = randomUUID();
      const now = clock.now().toISOString();
      const stored = stamp(consent, id, 1, now);
      const json = JSON.stringify(stored);
      await db.transaction(async (trx) => {
        await trx('consents').insert({
          id,
          patient_id: patientId,
          status: stored.status,
          version_id: 1,
          organization: organization ?? null,
          resource: json,
          updated_at: now,
        });
        await trx('consent_history').insert({ id, version_id: 1, resource: json, recorded_at: now });
        await advanceConsentEpoch(trx);
      });
      return stored;
    },

    async update(id, consent, expectedVersion, organization) {
      for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
        const r = await tryUpdate(id, consent, expectedVersion, organization);
        if (r !== 'conflict') return r;
        if (expectedVersion !== undefined) throw new VersionConflict();
      }
      throw new VersionConflict();
    },

    async read(id) {
      const row = await reader<ConsentRow>('consents').where({ id }).first('resource');
      return row ? parse(row.resource) : undefined;
    },

    async readRecord(id) {
      const row = await db<ConsentRow>('consents').where({ id }).first();
      if (!row) return undefined;
      return {
        consent: parse(row.resource),
        patientId: row.patient_id,
        organization: row.organization ?? undefined,
        versionId: Number(row.version_id),
      };
    },

    async readVersion(id, versionId) {
      const row = await reader('consent_history').where({ id, version_id: versionId }).first('resource');
      return row ? parse(row.resource as string) : undefined;
    },

    async history(id) {
      const rows = await reader('consent_history').where({ id }).orderBy('version_id', 'desc').select('resource');
      return rows.map((r: { resource: string }) => parse(r.resource));
    },

    async byPatient(patientId, opts = {}) {
      const q = reader<ConsentRow>('consents').where({ patient_id: patientId });
      if (opts.status) q.andWhere({ status: opts.status });
      const rows = await q.orderBy([{ column: 'updated_at', order: 'desc' }, { column: 'id' }]).select('resource');
      return rows.map((r) => parse(r.resource));
    },

    async activeFor(patientId) {
      const rows = await reader<ConsentRow>('consents').where({ patient_id: patientId, status: 'active' }).select('resource');
      return rows.map((r) => parse(r.resource));
    },
  };
}
