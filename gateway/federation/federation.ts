import type { OperationOutcome } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import type { HospitalResults, LocalPatient, ReadResult, ResultType } from '../../adapters/adapter';
import { hospitalFailureOutcome, serviceUnavailable } from '../fhir/outcomes';
import type { PatientIndex, PatientLookup, RegionalPatient } from '../patient-index/contract';
import { HospitalCallError, type HospitalCaller } from './hospital-caller';
import { errorForLog } from '../log-safe';

/** One hospital's answer to a results request, as its adapter gave it (not yet released to anyone). */
export interface HospitalAnswer {
  hospitalId: string;
  results: Partial<HospitalResults>;
}

/**
 * Asking the hospitals (API.md §4): every hospital in parallel within its deadline, the resident
 * found by national id where the index has no link yet. It judges nothing: consent, labels and
 * the access record are the guarded patient data's (gateway/patient-data), its only user.
 */
export interface Federation {
  /**
   * The patient's results from every hospital (or those named); `onAnswer` sees each hospital's
   * answer as soon as it arrives, so the slowest hospital alone adds to the latency. Failures come
   * back as Bundle outcomes, one per hospital.
   */
  fanOut<T>(
    patient: RegionalPatient,
    types: readonly ResultType[],
    opts: {
      hospitals?: readonly string[];
      preflight?: PatientLookup;
      /** answer within this many ms with what has arrived; later hospitals count as timeouts (CDS Hooks' budget) */
      budgetMs?: number;
    },
    onAnswer: (answer: HospitalAnswer) => T,
  ): Promise<{ answers: T[]; failures: OperationOutcome[] }>;
  /** one result by the hospital's local id; null when the hospital does not have it; 503 when it does not answer */
  read(hospitalId: string, type: ResultType, localId: string): Promise<ReadResult | null>;
  has(hospitalId: string): boolean;
  /**
   * National ids the hospitals that hold names know under exactly this name and birth date, and
   * the hospitals that could not be asked (no names) or did not answer, as Bundle outcomes.
   */
  findByName(name: string, birthDate: string): Promise<{ nationalIds: string[]; unsearchable: string[]; failures: OperationOutcome[] }>;
}

export function createFederation(deps: { callers: ReadonlyMap<string, HospitalCaller>; patientIndex: PatientIndex; log: Logger }): Federation {
  const { callers, patientIndex } = deps;

  // Hospitals that said they do not know a resident are not asked again for a minute: a search of
  // a patient known in 3 of 10 hospitals would otherwise ask 7 hospitals in vain every time.
  const unknownUntil = new Map<string, number>();
  const UNKNOWN_TTL_MS = 60_000;

  async function fromHospital(
    caller: HospitalCaller,
    patient: RegionalPatient,
    types: readonly ResultType[],
    pending?: Promise<LocalPatient | null>,
  ): Promise<HospitalAnswer | null> {
    const hospitalId = caller.hospitalId;
    // a link without a local id is a fed record number (docs/patient-data.md §6): the hospital is asked who the resident is
    const links = patient.links.filter((l) => l.hospitalId === hospitalId && l.localId);
    const known = links[0];
    if (links.length > 1) {
      // Merged identities (docs/patient-data.md §5): the hospital holds a record for each; all are asked.
      return caller.call('results', async (adapter, opts) => {
        const each = await Promise.all(links.map((l) => adapter.fetchResults({ localId: l.localId, mrns: l.mrns }, types, opts)));
        return { hospitalId, results: concatResults(each) };
      });
    }
    if (pending && !known) {
      // The index is still asking this hospital who the resident is: wait for that answer (within
      // its deadline) rather than ask again, so a slow hospital costs one timeout, not two.
      const local = await pending;
      if (!local) return null;
      return caller.call('results', async (adapter, opts) => ({ hospitalId, results: await adapter.fetchResults(local, types, opts) }));
    }
    return caller.call('results', async (adapter, opts) => {
      let local: LocalPatient | null = known ? { localId: known.localId, mrns: known.mrns } : null;
      if (!local) {
        const key = `${patient.id}|${hospitalId}`;
        if ((unknownUntil.get(key) ?? 0) > Date.now()) return null;
        local = await adapter.findPatient(patient.nationalId, opts);
        if (!local) {
          if (unknownUntil.size > 100_000) unknownUntil.clear();
          unknownUntil.set(key, Date.now() + UNKNOWN_TTL_MS);
          return null;
        }
        // Remember the link (EMPI), but never let a failed write fail the search.
        patientIndex.link(patient.id, { hospitalId, localId: local.localId, mrns: local.mrns }).catch((e) => {
          deps.log.warn({ hospital: hospitalId, err: errorForLog(e) }, 'could not store patient link');
        });
      }
      return { hospitalId, results: await adapter.fetchResults(local, types, opts) };
    });
  }

  return {
    has: (hospitalId) => callers.has(hospitalId),

    async findByName(name, birthDate) {
      const able = [...callers.values()].filter((c) => c.searchesByName);
      const unsearchable = [...callers.values()].filter((c) => !c.searchesByName).map((c) => c.hospitalId);
      const settled = await Promise.allSettled(able.map((c) => c.call('find-by-name', (adapter, opts) => adapter.findNationalIdsByName!(name, birthDate, opts))));
      const nationalIds = new Set<string>();
      const failures: OperationOutcome[] = [];
      settled.forEach((s, i) => {
        if (s.status === 'fulfilled') for (const id of s.value) nationalIds.add(id);
        else if (s.reason instanceof HospitalCallError) failures.push(hospitalFailureOutcome(s.reason.hospitalId, s.reason.kind, s.reason.reason));
        else failures.push(hospitalFailureOutcome(able[i]!.hospitalId, 'exception', 'error'));
      });
      return { nationalIds: [...nationalIds], unsearchable, failures };
    },

    async fanOut<T>(
      patient: RegionalPatient,
      types: readonly ResultType[],
      opts: { hospitals?: readonly string[]; preflight?: PatientLookup; budgetMs?: number },
      onAnswer: (answer: HospitalAnswer) => T,
    ) {
      const wanted = new Set(opts.hospitals ?? callers.keys());
      const pre = opts.preflight;
      let timer: NodeJS.Timeout | undefined;
      const budget = opts.budgetMs === undefined ? undefined : new Promise<void>((resolve) => (timer = setTimeout(resolve, opts.budgetMs)));
      const withinBudget = <V>(hospitalId: string, p: Promise<V>): Promise<V> => {
        if (!budget) return p;
        p.catch(() => undefined); // a late hospital's failure is its caller's to log
        return Promise.race([p, budget.then(() => Promise.reject(new HospitalCallError(hospitalId, 'timeout', `no answer within the ${opts.budgetMs} ms budget`)))]);
      };
      const calls = [...callers.values()]
        .filter((c) => wanted.has(c.hospitalId) && !pre?.unknownAt.has(c.hospitalId) && !pre?.failedAt.has(c.hospitalId))
        .map((c) => withinBudget(c.hospitalId, fromHospital(c, patient, types, pre?.pendingAt?.get(c.hospitalId))).then((v) => (v ? { value: onAnswer(v) } : null)));
      const settled = await Promise.allSettled(calls);
      clearTimeout(timer);
      // Hospitals that just failed to say whether they know the resident are not asked again.
      const failures: OperationOutcome[] = [...(pre?.failedAt ?? new Map<string, OperationOutcome>()).entries()]
        .filter(([id]) => wanted.has(id))
        .map(([, o]) => o);
      const answers: T[] = [];
      for (const s of settled) {
        if (s.status === 'rejected') {
          const e = s.reason;
          if (e instanceof HospitalCallError) failures.push(hospitalFailureOutcome(e.hospitalId, e.kind, e.reason));
          else throw e;
          continue;
        }
        if (s.value) answers.push(s.value.value);
      }
      return { answers, failures };
    },

    async read(hospitalId, type, localId) {
      const caller = callers.get(hospitalId);
      if (!caller) return null;
      try {
        return await caller.call('read', (adapter, opts) => adapter.readResult(type, localId, opts));
      } catch (e) {
        if (e instanceof HospitalCallError) {
          throw serviceUnavailable(`Hospital ${e.hospitalId} did not answer (${e.kind})`, `hospital-${e.kind}`);
        }
        throw e;
      }
    },
  };
}

/** One hospital's answers for several of its records of one resident, as one answer. */
export function concatResults(answers: ReadonlyArray<Partial<HospitalResults>>): Partial<HospitalResults> {
  const pick = <K extends ResultType>(type: K) => answers.flatMap((a) => (a[type] ?? []) as HospitalResults[K][number][]) as HospitalResults[K];
  const out: Partial<HospitalResults> = {};
  for (const type of ['DiagnosticReport', 'Observation', 'ImagingStudy'] as const) if (answers.some((a) => a[type])) (out as Record<ResultType, unknown>)[type] = pick(type);
  return out;
}
