import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../context';
import { HospitalCallError, type HospitalCaller } from '../federation/hospital-caller';
import { hospitalFailureOutcome } from '../fhir/outcomes';
import type { PatientIndex, PatientLink, PatientLookup, RegionalPatient } from './contract';
import type { Db } from '../storage/db';

/**
 * The regional master patient index (EMPI). A resident is known by national id; the regional id is
 * made once and kept in the database, so it is stable across restarts and shared by every instance.
 * Hospitals are asked only for the links not yet known.
 */
export function createPatientIndex(deps: {
  db: Db;
  clock: Clock;
  log: Logger;
  callers: () => ReadonlyMap<string, HospitalCaller>;
}): PatientIndex {
  const { db, clock } = deps;
  // Residents and their links change rarely and only grow, so a short-lived cache is safe across
  // instances: a stale entry can only mean asking a hospital once more for a link another
  // instance already stored. It saves three queries on every search.
  const cache = new Map<string, { at: number; patient: RegionalPatient }>();
  const CACHE_MS = 30_000;
  const CACHE_MAX = 50_000;
  const cached = async (id: string) => {
    const hit = cache.get(id);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.patient;
    const p = await load({ id });
    if (p) {
      if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
      cache.set(id, { at: Date.now(), patient: p });
    }
    return p;
  };

  async function load(where: { id?: string; national_id?: string }): Promise<RegionalPatient | null> {
    const row = await db('patients').where(where).first();
    if (!row) return null;
    const [links, mrns] = await Promise.all([
      db('patient_links').where({ patient_id: row.id }).orderBy('hospital_id'),
      db('patient_mrns').where({ patient_id: row.id }).orderBy(['hospital_id', 'mrn']),
    ]);
    return {
      id: row.id,
      nationalId: row.national_id,
      links: links.map((l: { hospital_id: string; local_id: string }) => ({
        hospitalId: l.hospital_id,
        localId: l.local_id,
        mrns: mrns.filter((m: { hospital_id: string }) => m.hospital_id === l.hospital_id).map((m: { mrn: string }) => m.mrn),
      })),
    };
  }

  async function ensurePatient(nationalId: string): Promise<string> {
    // Insert-or-ignore then read: two instances registering the same resident end with one id.
    await db('patients')
      .insert({ id: randomUUID(), national_id: nationalId, created_at: clock.now().toISOString() })
      .onConflict('national_id')
      .ignore();
    const row = await db('patients').where({ national_id: nationalId }).first('id');
    return row.id;
  }

  async function link(patientId: string, l: PatientLink): Promise<void> {
    cache.delete(patientId);
    const now = clock.now().toISOString();
    await db.transaction(async (trx) => {
      await trx('patient_links')
        .insert({ patient_id: patientId, hospital_id: l.hospitalId, local_id: l.localId, updated_at: now })
        .onConflict(['patient_id', 'hospital_id'])
        .merge(['local_id', 'updated_at']);
      if (l.mrns.length) {
        await trx('patient_mrns')
          .insert([...new Set(l.mrns)].map((mrn) => ({ hospital_id: l.hospitalId, mrn, patient_id: patientId })))
          .onConflict(['hospital_id', 'mrn'])
          .merge(['patient_id']);
      }
    });
    cache.delete(patientId);
  }

  /**
   * Known residents are answered from the database alone; hospitals are asked only about a resident
   * not yet known, or, with `refresh`, for the links still missing.
   */
  async function lookupNationalId(nationalId: string, opts: { refresh?: boolean; firstFound?: boolean; hospitals?: readonly string[] } = {}) {
    const existing = await load({ national_id: nationalId });
    const lookup: PatientLookup = { unknownAt: new Set(), failedAt: new Map() };
    if (existing && !opts.refresh) return { patient: existing, lookup };
    const linked = new Set(existing?.links.map((l) => l.hospitalId));
    const callers = [...deps.callers().values()].filter((c) => !linked.has(c.hospitalId) && (!opts.hospitals || opts.hospitals.includes(c.hospitalId)));
    let id = existing?.id;
    const stored: Array<Promise<void>> = [];
    const linkedNow = new Set<string>();
    let onFound: () => void = () => undefined;
    const firstFound = new Promise<void>((resolve) => (onFound = resolve));
    const answers = new Map(callers.map((c) => [c.hospitalId, c.call('find-patient', (adapter, o) => adapter.findPatient(nationalId, o))]));
    for (const a of answers.values()) a.catch(() => undefined);
    const asks = callers.map(async (c) => {
      try {
        const p = await answers.get(c.hospitalId)!;
        if (!p) return void lookup.unknownAt.add(c.hospitalId);
        linkedNow.add(c.hospitalId);
        const store = (async () => {
          id ??= await ensurePatient(nationalId);
          await link(id, { hospitalId: c.hospitalId, localId: p.localId, mrns: p.mrns });
        })();
        stored.push(store);
        await store;
        onFound();
      } catch (e) {
        lookup.failedAt.set(
          c.hospitalId,
          e instanceof HospitalCallError ? hospitalFailureOutcome(c.hospitalId, e.kind, e.reason) : hospitalFailureOutcome(c.hospitalId, 'exception', 'error'),
        );
      }
    });
    const all = Promise.all(asks);
    // A search need not wait for the slowest hospital to learn who the resident is: it goes on as
    // soon as one hospital knows them, and asks the others itself, within their own deadlines.
    if (opts.firstFound) await Promise.race([all, firstFound]);
    else await all;
    await Promise.all(stored);
    if (!id) return { patient: null, lookup };
    all.catch(() => undefined);
    if (!opts.firstFound) return { patient: await load({ id }), lookup };
    const now = snapshot(lookup);
    now.pendingAt = new Map([...answers].filter(([h]) => !now.unknownAt.has(h) && !now.failedAt.has(h) && !linkedNow.has(h)));
    return { patient: await load({ id }), lookup: now };
  }


  return {
    get: cached,
    link,
    async resolveNationalId(nationalId, opts = {}) {
      return (await lookupNationalId(nationalId, opts)).patient;
    },
    lookupNationalId,
    async findByMrn(hospitalId: string, mrn: string) {
      const row = await db('patient_mrns').where({ hospital_id: hospitalId, mrn }).first('patient_id');
      return row ? load({ id: row.patient_id }) : null;
    },
  };
}

/** A copy, so hospitals that answer later do not change what the caller already acted on. */
function snapshot(l: PatientLookup): PatientLookup {
  return { unknownAt: new Set(l.unknownAt), failedAt: new Map(l.failedAt) };
}
