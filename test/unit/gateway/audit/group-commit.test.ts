import { GroupCommitWriter } from '../../../../gateway/audit/group-commit';

/** A commit function the test releases by hand, so batching is observed without timing anything. */
function manualCommit() {
  const batches: number[][] = [];
  const pending: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  const commit = (items: number[]) =>
    new Promise<void>((resolve, reject) => {
      batches.push(items);
      pending.push({ resolve, reject });
    });
  return { batches, pending, commit };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('group commit', () => {
  test('what queues during a commit goes into the next one; each promise settles with its own commit', async () => {
    const m = manualCommit();
    const w = new GroupCommitWriter<number>(m.commit, 100);
    const settled: number[] = [];
    const p1 = w.submit([1]).then(() => settled.push(1));
    const p2 = w.submit([2, 3]).then(() => settled.push(2));
    const p3 = w.submit([4]).then(() => settled.push(3));
    await tick();
    expect(m.batches).toEqual([[1]]);
    expect(settled).toEqual([]);
    m.pending[0].resolve();
    await p1;
    await tick();
    expect(settled).toEqual([1]);
    expect(m.batches).toEqual([[1], [2, 3, 4]]);
    m.pending[1].resolve();
    await Promise.all([p2, p3]);
    expect(settled).toEqual([1, 2, 3]);
    await w.idle();
  });

  test('a failed commit rejects only the submissions it held', async () => {
    const m = manualCommit();
    const w = new GroupCommitWriter<number>(m.commit, 100);
    const p1 = w.submit([1]);
    const p2 = w.submit([2]);
    m.pending[0].reject(new Error('disk full'));
    await expect(p1).rejects.toThrow('disk full');
    await tick();
    m.pending[1].resolve();
    await expect(p2).resolves.toBeUndefined();
  });

  test('batches stop at maxBatch items; a larger single submission still goes in whole', async () => {
    const m = manualCommit();
    const w = new GroupCommitWriter<number>(m.commit, 3);
    const all = [w.submit([0]), w.submit([1, 2]), w.submit([3, 4]), w.submit([5, 6, 7, 8]), w.submit([9])];
    for (let i = 0; i < 5 && m.pending.length > i; i++) {
      await tick();
      m.pending[i].resolve();
      await tick();
    }
    await Promise.all(all);
    expect(m.batches).toEqual([[0], [1, 2], [3, 4], [5, 6, 7, 8], [9]]);
  });

  test('the next commit goes out before the last one\'s submitters are told', async () => {
    const m = manualCommit();
    const w = new GroupCommitWriter<number>(m.commit, 100);
    const told: string[] = [];
    const p1 = w.submit([1]).then(() => told.push('first told'));
    const p2 = w.submit([2]).then(() => told.push('second told'));
    await tick();
    expect(m.batches).toEqual([[1]]);
    m.pending[0].resolve();
    // a few microtask turns: the writer is on to the next commit, nobody has been told yet
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(m.batches).toEqual([[1], [2]]);
    expect(told).toEqual([]);
    await p1;
    expect(told).toEqual(['first told']);
    m.pending[1].resolve();
    await p2;
    await w.idle();
  });

  test('submitters are told a slice at a time, a turn of the event loop each; idle() waits for all of them', async () => {
    const m = manualCommit();
    const w = new GroupCommitWriter<number>(m.commit, 100);
    let told = 0;
    const first = w.submit([0]);
    const rest = Array.from({ length: 40 }, (_, i) => w.submit([i + 1]).then(() => told++));
    await tick();
    m.pending[0].resolve();
    await first;
    await tick();
    expect(m.batches.at(-1)).toHaveLength(40);
    m.pending[1].resolve();
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) {
      await tick();
      seen.push(told);
    }
    // some told, not all, after a turn: the rest in later turns
    expect(seen.some((n) => n > 0 && n < 40)).toBe(true);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    await w.idle();
    expect(told).toBe(40);
    await Promise.all(rest);
  });

  test('forEachQueued sees what waits for the next commit, in order, not what is being committed', async () => {
    const m = manualCommit();
    const w = new GroupCommitWriter<number>(m.commit, 100);
    const all = [w.submit([1]), w.submit([2, 3]), w.submit([4])];
    await tick();
    const queued: number[][] = [];
    w.forEachQueued((items) => queued.push(items));
    expect(m.batches).toEqual([[1]]);
    expect(queued).toEqual([[2, 3], [4]]);
    m.pending[0].resolve();
    await tick();
    m.pending[1].resolve();
    await Promise.all(all);
  });
});
