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
});
