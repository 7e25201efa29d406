import type { EventLoopUtilization } from 'node:perf_hooks';
import { AdmissionGate, nextLimit, type AdmissionOptions, type Waiter } from '../../../../gateway/http/admission';

const OPTS: AdmissionOptions = { minConcurrency: 4, maxConcurrency: 64, maxQueue: 3 };

describe('nextLimit: the limit follows the event loop', () => {
  const W = { waited: true, full: true }; // requests waited (every place was taken meanwhile)
  const F = { waited: false, full: true }; // every place taken, nobody waited
  const N = { waited: false, full: false }; // no demand
  test.each([
    // limit, utilisation, demand, expected
    [32, 1.0, W, 28.8], // saturated and requests wait: more concurrency would only hold more memory
    [32, 0.98, F, 28.8], // saturated with every place taken: shrink before a queue forms
    [32, 0.97, W, 28.8], // at the high mark
    [32, 1.0, N, 32], // saturated by work outside the gate: the next burst keeps its limit
    [32, 0.95, W, 32], // between the marks: hold
    [32, 0.5, N, 32], // idle time but nobody waits: nothing to gain
    [32, 0.5, F, 32], // every place taken but nobody waited: nothing to gain yet
    [32, 0.5, W, 40], // idle time and requests wait (on hospitals): grow by a quarter
    [4, 0.2, W, 5], // small limits grow by at least one
    [4.4, 1.0, W, 4], // never below the least
    [60, 0.1, W, 64], // never above the most
    [64, 0.1, W, 64],
  ])('limit %p, utilisation %p, demand %o → %p', (limit, utilisation, demand, expected) => {
    expect(nextLimit(limit, utilisation, demand, OPTS)).toBeCloseTo(expected, 6);
  });
});

/** An event loop whose utilisation over the next tick is whatever the test says. */
function fakeLoop() {
  let busy = 0;
  let idle = 0;
  const reading = (): EventLoopUtilization => ({ active: busy, idle, utilization: busy / (busy + idle || 1) });
  return {
    /** the next tick sees this utilisation */
    next(u: number) {
      busy += u * 100;
      idle += (1 - u) * 100;
    },
    utilisation: (since?: EventLoopUtilization): EventLoopUtilization => {
      const now = reading();
      if (!since) return now;
      const active = now.active - since.active;
      const idleDelta = now.idle - since.idle;
      return { active, idle: idleDelta, utilization: active / (active + idleDelta || 1) };
    },
  };
}

describe('AdmissionGate', () => {
  test('admits up to the limit at once, then queues first come first served, each leave admitting the next', async () => {
    const gate = new AdmissionGate({ minConcurrency: 2, maxConcurrency: 2, maxQueue: 10 });
    expect(gate.enter()).toBe('now');
    expect(gate.enter()).toBe('now');
    const order: string[] = [];
    const waits = ['a', 'b', 'c'].map((name) => {
      const w = gate.enter();
      expect(w).not.toBe('now');
      return (w as Waiter).turn.then((ok) => order.push(`${name}:${ok}`));
    });
    expect(gate.current).toEqual({ limit: 2, inFlight: 2, waiting: 3 });
    gate.leave();
    await Promise.resolve();
    await Promise.resolve();
    expect(order).toEqual(['a:true']);
    gate.leave();
    gate.leave();
    await Promise.all(waits);
    expect(order).toEqual(['a:true', 'b:true', 'c:true']);
    expect(gate.current).toEqual({ limit: 2, inFlight: 2, waiting: 0 });
  });

  test('a newcomer never overtakes a waiting request, even when a place is free', async () => {
    const gate = new AdmissionGate({ minConcurrency: 1, maxConcurrency: 1, maxQueue: 10 });
    expect(gate.enter()).toBe('now');
    const first = (gate.enter() as Waiter).turn;
    gate.leave(); // frees the place: it goes to the waiting one
    const second = gate.enter();
    expect(second).not.toBe('now');
    await expect(first).resolves.toBe(true);
    expect(gate.current).toEqual({ limit: 1, inFlight: 1, waiting: 1 });
  });

  test('beyond maxQueue waiting, a request is refused at once', async () => {
    const gate = new AdmissionGate({ minConcurrency: 1, maxConcurrency: 1, maxQueue: 2 });
    expect(gate.enter()).toBe('now');
    const waiting = [gate.enter() as Waiter, gate.enter() as Waiter];
    expect(gate.enter()).toBe('refused');
    expect(gate.current.waiting).toBe(2);
    gate.leave();
    await expect(waiting[0].turn).resolves.toBe(true);
  });

  test('a cancelled waiter gives up its place in the queue: it is not admitted, and others take its turn', async () => {
    const gate = new AdmissionGate({ minConcurrency: 1, maxConcurrency: 1, maxQueue: 2 });
    expect(gate.enter()).toBe('now');
    const gone = gate.enter() as Waiter;
    const next = gate.enter() as Waiter;
    expect(gate.enter()).toBe('refused');
    gone.cancel();
    await expect(gone.turn).resolves.toBe(false);
    expect(gate.current).toEqual({ limit: 1, inFlight: 1, waiting: 1 });
    const third = gate.enter() as Waiter; // the place the cancelled one gave up
    expect(third).not.toBe('refused');
    gate.leave();
    await expect(next.turn).resolves.toBe(true);
    gone.cancel(); // a second cancel, and a cancel after the turn, change nothing
    next.cancel();
    expect(gate.current).toEqual({ limit: 1, inFlight: 1, waiting: 1 });
    gate.leave();
    await expect(third.turn).resolves.toBe(true);
    gate.leave();
    expect(gate.current).toEqual({ limit: 1, inFlight: 0, waiting: 0 });
  });

  test('a loop with idle time while requests wait raises the limit and lets them in; a saturated one lowers it', async () => {
    const loop = fakeLoop();
    const gate = new AdmissionGate(OPTS, loop.utilisation).start();
    gate.stop(); // ticks are driven by hand here
    for (let i = 0; i < 32; i++) expect(gate.enter()).toBe('now');
    const waiting = [gate.enter(), gate.enter(), gate.enter()].map((w) => (w as Waiter).turn);
    loop.next(0.3); // the requests in flight wait on hospitals
    gate.tick();
    expect(gate.current).toEqual({ limit: 40, inFlight: 35, waiting: 0 });
    await expect(Promise.all(waiting)).resolves.toEqual([true, true, true]);
    for (let i = 0; i < 5; i++) expect(gate.enter()).toBe('now');
    loop.next(1);
    gate.tick();
    expect(gate.current.limit).toBe(36);
    // requests in flight go on; new ones wait until enough have left
    expect(gate.enter()).not.toBe('now');
    for (let i = 0; i < 4; i++) gate.leave();
    expect(gate.current).toEqual({ limit: 36, inFlight: 36, waiting: 1 });
    gate.leave();
    expect(gate.current).toEqual({ limit: 36, inFlight: 36, waiting: 0 });
  });

  test('a request that waited in a tick counts as demand even if it was admitted before the tick', () => {
    const loop = fakeLoop();
    const gate = new AdmissionGate({ minConcurrency: 1, maxConcurrency: 64, maxQueue: 10 }, loop.utilisation);
    gate.tick(); // the first reading
    const limit = gate.current.limit;
    for (let i = 0; i < limit; i++) gate.enter();
    void gate.enter();
    gate.leave(); // the waiting one is admitted: nobody waits at the tick
    loop.next(0.2);
    gate.tick();
    expect(gate.current.limit).toBe(40); // without the demand it would have stayed at 32
  });

  test('a fixed limit (min = max) starts no timer', () => {
    const gate = new AdmissionGate({ minConcurrency: 3, maxConcurrency: 3, maxQueue: 0 }).start();
    expect((gate as unknown as { timer?: unknown }).timer).toBeUndefined();
    expect(gate.current.limit).toBe(3);
  });
});
