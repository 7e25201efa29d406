import type { CompiledConsent } from '../../../consent/consent-decision';
import { createConsentCache, sharedFreshRead, type JudgementInputs } from '../../../consent/consent-cache';

/**
 * The consent cache's rules (consent-cache.ts): inputs served only at the epoch they were read at,
 * the epoch read of a request never one that began before it arrived, and nothing trusted once the
 * epoch cannot be read.
 */

const consent = (id: string): CompiledConsent => ({ id, root: {} as CompiledConsent['root'] });

/** A store whose epoch and consents the test moves, and which counts its reads. */
function world() {
  const w = {
    epoch: 0,
    consents: new Map<string, string[]>(),
    epochReads: 0,
    loads: 0,
    epochFails: false,
  };
  const cache = createConsentCache({
    readEpoch: async () => {
      w.epochReads++;
      await new Promise((r) => setImmediate(r));
      if (w.epochFails) throw new Error('connection lost');
      return w.epoch;
    },
    load: async (id): Promise<JudgementInputs> => {
      w.loads++;
      return { group: [id], consents: [(w.consents.get(id) ?? []).map(consent)] };
    },
    maxEntries: 3,
  });
  const change = (id: string, ids: string[]) => {
    w.consents.set(id, ids);
    w.epoch++;
  };
  const ids = async (id: string) => (await cache.inputsFor(id)).consents[0].map((c) => c.id);
  return { w, cache, change, ids };
}

describe('consent cache', () => {
  it('serves cached inputs while the epoch stands, and reads again once it moved', async () => {
    const { w, change, ids } = world();
    change('p1', ['c1']);
    expect(await ids('p1')).toEqual(['c1']);
    expect(await ids('p1')).toEqual(['c1']);
    expect(w.loads).toBe(1);
    change('p1', []); // the withdrawal, committed with its epoch move
    expect(await ids('p1')).toEqual([]);
    expect(w.loads).toBe(2);
  });

  it.each([
    ['a change to another resident', 'p2'],
    ['a change to the same resident', 'p1'],
  ])('%s invalidates every entry (one epoch for all)', async (_what, other) => {
    const { w, change, ids } = world();
    change('p1', ['c1']);
    await ids('p1');
    change(other, ['c9']);
    await ids('p1');
    expect(w.loads).toBe(2);
  });

  it('keeps at most maxEntries, dropping the oldest', async () => {
    const { w, cache, ids } = world();
    for (const p of ['p1', 'p2', 'p3', 'p4']) await ids(p);
    expect(cache.size).toBe(3);
    await ids('p4');
    expect(w.loads).toBe(4);
    await ids('p1');
    expect(w.loads).toBe(5);
  });

  it('fails closed when the epoch cannot be read, and trusts nothing cached after', async () => {
    const { w, cache, change, ids } = world();
    change('p1', ['c1']);
    await ids('p1');
    w.epochFails = true;
    await expect(cache.inputsFor('p1')).rejects.toThrow('connection lost');
    expect(cache.size).toBe(0);
    w.epochFails = false;
    await ids('p1');
    expect(w.loads).toBe(2);
  });

  it('never serves a permit read before a withdrawal to a request that arrived after it', async () => {
    // a load that began before the change and ends after it must not be served at the new epoch
    const { w, change } = world();
    change('p1', ['c1']);
    let release!: () => void;
    const slow = createConsentCache({
      readEpoch: async () => w.epoch,
      load: async (id) => {
        const snapshot = [...(w.consents.get(id) ?? [])];
        await new Promise<void>((r) => (release = r));
        return { group: [id], consents: [snapshot.map(consent)] };
      },
    });
    const before = slow.inputsFor('p1');
    await new Promise((r) => setImmediate(r));
    change('p1', []);
    release();
    expect((await before).consents[0]).toHaveLength(1); // that request arrived before the change
    const after = slow.inputsFor('p1');
    await new Promise((r) => setImmediate(r));
    release();
    expect((await after).consents[0]).toHaveLength(0);
    expect(slow.size).toBe(1);
  });
});

describe('sharedFreshRead', () => {
  it('shares one read among callers that arrive together, and never joins a read already running', async () => {
    let value = 0;
    let reads = 0;
    const pending: Array<() => void> = [];
    const read = sharedFreshRead(async () => {
      reads++;
      const seen = value;
      await new Promise<void>((r) => pending.push(r));
      return seen;
    });
    const a = read(); // starts read 1
    value = 1; // committed after read 1 began
    const b = read(); // arrived after: must wait for read 2
    const c = read(); // joins read 2
    expect(reads).toBe(1);
    pending.shift()!();
    expect(await a).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(reads).toBe(2);
    pending.shift()!();
    expect(await b).toBe(1);
    expect(await c).toBe(1);
    const d = read(); // nothing running: a read of its own
    expect(reads).toBe(3);
    pending.shift()!();
    expect(await d).toBe(1);
  });

  it('a failed read fails its callers only; the next caller reads again', async () => {
    let fail = true;
    const read = sharedFreshRead(async () => {
      await new Promise((r) => setImmediate(r));
      if (fail) throw new Error('down');
      return 7;
    });
    const a = read();
    const b = read();
    await expect(a).rejects.toThrow('down');
    fail = false;
    await expect(b).resolves.toBe(7); // b arrived while a's read ran: it got a read of its own
    await expect(read()).resolves.toBe(7);
  });
});
