import type { CompiledConsent } from './consent-decision';

/**
 * What a consent judgement reads from the database — the resident's identity group and each
 * identity's active consents, compiled — cached per resident under the consent epoch it was read at
 * (consent-epoch.ts). Every judgement first reads the epoch; an entry of an older epoch is read
 * again. The epoch read of a request always starts after the request arrived, so any change whose
 * writer had answered before is seen: a withdrawal is in force at the next request, on every
 * instance, and no stale permit is ever served. Judging (times, requester, purpose) stays per request.
 */

export interface JudgementInputs {
  /** the identity group, survivor first (one id for a resident never merged) */
  group: string[];
  /** per identity of the group, its active consents, compiled */
  consents: CompiledConsent[][];
}

export interface ConsentCache {
  inputsFor(patientId: string): Promise<JudgementInputs>;
  readonly size: number;
}

export function createConsentCache(opts: {
  readEpoch: () => Promise<number>;
  load: (patientId: string) => Promise<JudgementInputs>;
  maxEntries?: number;
  onLookup?: (result: 'hit' | 'miss') => void;
}): ConsentCache {
  const max = opts.maxEntries ?? 10_000;
  const entries = new Map<string, { epoch: number; inputs: JudgementInputs }>();
  const epochNow = sharedFreshRead(opts.readEpoch);

  return {
    get size() {
      return entries.size;
    },
    async inputsFor(patientId) {
      let epoch: number;
      try {
        epoch = await epochNow();
      } catch (e) {
        // without the epoch nothing cached can be trusted
        entries.clear();
        throw e;
      }
      const hit = entries.get(patientId);
      if (hit && hit.epoch === epoch) {
        opts.onLookup?.('hit');
        return hit.inputs;
      }
      opts.onLookup?.('miss');
      const inputs = await opts.load(patientId);
      // Labelled with the epoch read before the data: the data are at least that new. A request
      // that met a newer epoch meanwhile may have stored newer inputs; those stay.
      const now = entries.get(patientId);
      if (!now || now.epoch <= epoch) {
        entries.delete(patientId);
        if (entries.size >= max) entries.delete(entries.keys().next().value!);
        entries.set(patientId, { epoch, inputs });
      }
      return inputs;
    },
  };
}

/**
 * One read shared by the callers that arrive together, and never one that started before the
 * caller arrived: while a read is running, arrivals wait for the next one, which starts when the
 * running one ends. Under load this makes one epoch read per round trip instead of one per request.
 */
export function sharedFreshRead<T>(read: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  let queued: Promise<T> | undefined;
  const start = (): Promise<T> => {
    const p: Promise<T> = read().finally(() => {
      if (running === p) running = undefined;
    });
    running = p;
    return p;
  };
  return () => {
    if (queued) return queued;
    if (!running) return start();
    const q = running.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      queued = undefined;
      return start();
    });
    queued = q;
    return q;
  };
}
