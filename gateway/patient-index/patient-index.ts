import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../context';
import { HospitalCallError, type HospitalCaller } from '../federation/hospital-caller';
import { hospitalFailureOutcome } from '../fhir/outcomes';
import type { MergeProblem, PatientIndex, PatientLink, PatientLookup, RegionalPatient } from './contract';
import { conflict, unprocessable } from '../fhir/outcomes';
import type { Db } from '../storage/db';
import { advanceConsentEpoch } from '../../consent/consent-epoch';

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

  /** Identities merged into `id`, directly or through one another (merges never form a cycle). */
  async function mergedInto(id: string): Promise<string[]> {
    const out: string[] = [];
    let frontier = [id];
    while (frontier.length && out.length < 1000) {
      const rows: Array<{ id: string }> = await db('patients').whereIn('merged_into', frontier).select('id').orderBy('id');
      frontier = rows.map((r) => r.id).filter((x) => !out.includes(x) && x !== id);
      out.push(...frontier);
    }
    return out;
  }

  async function load(where: { id?: string; national_id?: string }): Promise<RegionalPatient | null> {
    const row = await db('patients').where(where).first();
    if (!row) return null;
    const replaces = row.merged_into ? [] : await mergedInto(row.id);
    const ids = [row.id, ...replaces];
    const [links, mrns] = await Promise.all([
      db('patient_links').whereIn('patient_id', ids).orderBy('hospital_id'),
      db('patient_mrns').whereIn('patient_id', ids).orderBy(['hospital_id', 'mrn']),
    ]);
    type LinkRow = { patient_id: string; hospital_id: string; local_id: string };
    // Record numbers a hospital fed before its system was asked (docs/patient-data.md §6): a link
    // with no local id yet, so the numbers show and PIXm finds them; the federation skips it.
    const linked = new Set((links as LinkRow[]).map((l) => `${l.patient_id}|${l.hospital_id}`));
    const fedOnly: LinkRow[] = [];
    for (const m of mrns as Array<{ patient_id: string; hospital_id: string }>) {
      const key = `${m.patient_id}|${m.hospital_id}`;
      if (!linked.has(key)) {
        linked.add(key);
        fedOnly.push({ patient_id: m.patient_id, hospital_id: m.hospital_id, local_id: '' });
      }
    }
    const all = [...(links as LinkRow[]), ...fedOnly];
    const own = all.filter((l) => l.patient_id === row.id);
    const merged = all.filter((l) => l.patient_id !== row.id);
    return {
      id: row.id,
      nationalId: row.national_id,
      links: [...own, ...merged].map((l) => ({
        hospitalId: l.hospital_id,
        localId: l.local_id,
        mrns: mrns
          .filter((m: { hospital_id: string; patient_id: string }) => m.hospital_id === l.hospital_id && m.patient_id === l.patient_id)
          .map((m: { mrn: string }) => m.mrn),
        ...(l.patient_id !== row.id ? { viaMerged: l.patient_id } : {}),
      })),
      ...(row.merged_into ? { mergedInto: row.merged_into as string } : {}),
      ...(replaces.length ? { replaces } : {}),
    };
  }

  /** Follow merges to the active identity (a short chain: a merge target is always active). */
  async function survivorOf(id: string): Promise<RegionalPatient | null> {
    let p = await load({ id });
    for (let hops = 0; p?.mergedInto && hops < 100; hops++) p = await load({ id: p.mergedInto });
    return p;
  }

  const mergeProblem = (sourceId: string, targetId: string) => mergeProblemIn(db, sourceId, targetId);
  async function mergeProblemIn(q: Db, sourceId: string, targetId: string): Promise<MergeProblem | undefined> {
    if (sourceId === targetId) return 'merge-into-self';
    const source = await q('patients').where({ id: sourceId }).first();
    const target = await q('patients').where({ id: targetId }).first();
    if (!source) return 'unknown-source';
    if (!target) return 'unknown-target';
    if (source.merged_into) return 'source-merged';
    if (target.merged_into) return 'target-merged';
    return undefined;
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
    const linked = new Set(existing?.links.filter((l) => l.localId).map((l) => l.hospitalId));
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


  // On every consent judgement: one query for a resident never merged (their row and any merged into it).
  async function identityGroup(id: string): Promise<string[]> {
    let survivor = id;
    let rows: Array<{ id: string; merged_into: string | null }> = await db('patients').where({ id }).orWhere({ merged_into: id }).select('id', 'merged_into');
    let self = rows.find((r) => r.id === id);
    if (!self) return [id];
    for (let hops = 0; self?.merged_into && hops < 100; hops++) {
      survivor = self.merged_into;
      rows = await db('patients').where({ id: survivor }).orWhere({ merged_into: survivor }).select('id', 'merged_into');
      self = rows.find((r) => r.id === survivor);
    }
    const direct = rows.filter((r) => r.merged_into === survivor);
    return direct.length ? [survivor, ...(await mergedInto(survivor))] : [survivor];
  }

  return {
    get: cached,
    link,
    survivorOf,
    identityGroup,
    mergeProblem,
    async merge(sourceId, targetId, actor) {
      const at = clock.now().toISOString();
      await db.transaction(async (trx) => {
        // Checked and written under one transaction with the source's row updated only while still
        // active: two registrars merging at once cannot both win, nor make a cycle.
        const problem = await mergeProblemIn(trx, sourceId, targetId);
        if (problem) throw mergeRefusal(problem);
        const n = await trx('patients').where({ id: sourceId }).whereNull('merged_into').update({ merged_into: targetId });
        if (n !== 1) throw mergeRefusal('source-merged');
        const stillActive = await trx('patients').where({ id: targetId }).whereNull('merged_into').first('id');
        if (!stillActive) throw mergeRefusal('target-merged');
        await trx('patient_merges').insert({ id: randomUUID(), source_id: sourceId, target_id: targetId, merged_at: at, merged_by: actor.by.slice(0, 200), reason: actor.reason ?? null });
        // the identity group is a consent judgement's input: cached judgements must be read again
        await advanceConsentEpoch(trx);
      });
      cache.clear();
    },
    async feed({ hospitalId, conditionMrn, nationalId, mrns }) {
      const at = clock.now().toISOString();
      const result = await db.transaction(async (trx) => {
        const owner = async (mrn: string) => (await trx('patient_mrns').where({ hospital_id: hospitalId, mrn }).first('patient_id'))?.patient_id as string | undefined;
        const byNid = (await trx('patients').where({ national_id: nationalId }).first('id'))?.id as string | undefined;
        let patientId: string | undefined;
        let created = false;
        const conditioned = conditionMrn ? await owner(conditionMrn) : undefined;
        if (conditioned) {
          patientId = conditioned;
          const row = await trx('patients').where({ id: patientId }).first('national_id');
          if (row.national_id !== nationalId) {
            if (byNid) throw conflict('Another regional patient has this national id: merge the two identities (Patient/$merge)', 'identity-conflict');
            // the national id was wrong at registration: corrected on the identity the hospital knew
            await trx('patients').where({ id: patientId }).update({ national_id: nationalId });
          }
          if (!mrns.includes(conditionMrn!)) await trx('patient_mrns').where({ hospital_id: hospitalId, mrn: conditionMrn }).delete();
        } else if (byNid) {
          patientId = byNid;
        } else {
          patientId = randomUUID();
          await trx('patients').insert({ id: patientId, national_id: nationalId, created_at: at });
          created = true;
        }
        for (const mrn of mrns) {
          const o = await owner(mrn);
          if (o && o !== patientId) throw conflict(`Record number ${mrn.slice(0, 64)} is already another resident's at this hospital`, 'duplicate-mrn');
          if (!o) await trx('patient_mrns').insert({ hospital_id: hospitalId, mrn, patient_id: patientId });
        }
        return { patientId, created };
      });
      cache.delete(result.patientId);
      return result;
    },

    async unmerge(sourceId, actor) {
      const at = clock.now().toISOString();
      const formerTarget = await db.transaction(async (trx) => {
        const row = await trx('patients').where({ id: sourceId }).first();
        if (!row) throw unprocessable('The patient is not known', undefined, 'unknown-patient');
        if (!row.merged_into) throw unprocessable('The patient is not merged', undefined, 'not-merged');
        const n = await trx('patients').where({ id: sourceId, merged_into: row.merged_into }).update({ merged_into: null });
        if (n !== 1) throw unprocessable('The patient is not merged', undefined, 'not-merged');
        await trx('patient_merges')
          .where({ source_id: sourceId, target_id: row.merged_into })
          .whereNull('unmerged_at')
          .update({ unmerged_at: at, unmerged_by: actor.by.slice(0, 200), unmerge_reason: actor.reason ?? null });
        await advanceConsentEpoch(trx);
        return row.merged_into as string;
      });
      cache.clear();
      return { formerTarget };
    },
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

/** The refusal of each merge problem (the merge and its preview answer the same). */
export function mergeRefusal(problem: MergeProblem) {
  switch (problem) {
    case 'unknown-source':
    case 'unknown-target':
      return unprocessable(`The ${problem === 'unknown-source' ? 'source' : 'target'} patient is not known`, undefined, 'unknown-patient');
    case 'merge-into-self':
      return unprocessable('A patient cannot be merged into itself', undefined, 'merge-into-self');
    case 'source-merged':
      return unprocessable('The source patient is merged already; unmerge it first', undefined, 'patient-merged');
    default:
      return unprocessable('The target patient is merged into another; merge into the surviving patient', undefined, 'patient-merged');
  }
}
