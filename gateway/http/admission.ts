import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { Route } from './route';

/**
 * How many requests that may read patient data this process works on at once (admission
 * control), and the queue of those waiting their turn, first come first served. The dispatcher
 * asks for a place after a request's token is checked and its body read (a slow client holds
 * none) and gives it back once the answer is handed to the socket (a stream, DICOMweb, once it
 * starts: it goes at the client's pace and holds little).
 *
 * Why: a search holds its hospitals' parsed answers from the first answer until its own is sent.
 * When the main thread is saturated, admitting more requests adds no throughput — each waits longer
 * for its turns — but every one admitted holds its answers meanwhile, so they outlive the young
 * generation and reach the old one, and the collector marks them again and again. Measured on the
 * bench, 64 connections, beside the same gateway admitting every request (BENCH_ADMISSION=compare,
 * six runs): CPU per request 8–18 % lower, throughput 1.02–1.16 ×. Waiting requests hold only their
 * sockets and parsed requests.
 *
 * The limit follows the event loop, not latency: while the loop is busy nearly all the time and
 * requests wait, it shrinks (more concurrency would only hold more memory); while the loop has
 * idle time and requests wait, it grows (the requests in flight are waiting on hospitals, and more
 * of them can be worked on). A hanging hospital therefore never throttles the gateway: its
 * requests wait idle, and the limit grows past them. Per process on purpose, like the rate limit:
 * it guards this process's CPU and memory, and holds no state another instance needs.
 */
/** The configuration's `admission` (gateway/config.ts holds the defaults: 4, 512, 2048). */
export interface AdmissionOptions {
  /** the least concurrency the limit falls to */
  minConcurrency: number;
  /** the most it grows to (min = max: a fixed limit) */
  maxConcurrency: number;
  /** requests allowed to wait; one more is answered 503 with Retry-After at once */
  maxQueue: number;
}

/**
 * Above this share of busy time the loop is saturated; below LOW it has time to spare. Measured on
 * the bench (two cores shared with the hospitals and the load): with 0.9 and 0.75 the limit settled
 * at 5–7 and the loop went idle for lack of work (0.63 of the floor); with 0.97 and 0.9, at 8–11
 * (0.69); 0.99 and 0.95 no better.
 */
const HIGH = 0.97;
const LOW = 0.9;
/** How often the limit is adjusted, ms: long enough for a utilisation figure, short enough to follow a burst. */
const TICK_MS = 100;

/**
 * The next limit from the last one, the event loop's utilisation over the last tick, and the
 * demand: whether requests waited, and whether every place was taken (a pure rule; table-driven
 * tests in test/unit/gateway/http/admission.test.ts). It shrinks only under demand, so work outside
 * the gate (a scrape, a checkpoint, a collection) never lowers it for the next burst; it grows only
 * while requests wait. Multiplicative both ways, so a burst that hospitals hold reaches a large
 * limit in a second or so, and a saturated loop sheds its excess as quickly.
 */
export function nextLimit(limit: number, utilisation: number, demand: { waited: boolean; full: boolean }, opts: AdmissionOptions): number {
  let next = limit;
  if (utilisation >= HIGH && (demand.waited || demand.full)) next = limit * 0.9;
  else if (utilisation < LOW && demand.waited) next = Math.max(limit + 1, limit * 1.25);
  return Math.min(opts.maxConcurrency, Math.max(opts.minConcurrency, next));
}

/**
 * Which requests wait for admission (a rule; table-driven test over the gateway's own routes in
 * test/integration/gateway/http/admission.test.ts): those of audited routes, which may read
 * patient data, unless the route says it never waits (Route.admitted). Routes with nothing to
 * audit and unknown paths never wait.
 */
export function waitsForAdmission(route: Route | undefined): boolean {
  return !!route?.audited && route.admitted !== false;
}

/** A request waiting its turn: `turn` is true when it may go on, false if cancelled first. */
export interface Waiter {
  turn: Promise<boolean>;
  /** the client left: its place in the queue is given up (no effect once admitted) */
  cancel(): void;
}

/** 'now': go on; 'refused': too many wait; a Waiter: wait for the turn. */
export type Admission = 'now' | 'refused' | Waiter;

export class AdmissionGate {
  private limit: number;
  private inFlight = 0;
  /** the waiting requests, oldest first (head advances instead of shifting); a cancelled one stays, marked done */
  private queue: Array<{ resolve: (admitted: boolean) => void; done: boolean }> = [];
  private head = 0;
  private queued = 0;
  private last?: EventLoopUtilization;
  private timer?: NodeJS.Timeout;
  private waitedSinceTick = false;

  constructor(
    private readonly opts: AdmissionOptions,
    private readonly utilisation: (since?: EventLoopUtilization) => EventLoopUtilization = (since) => performance.eventLoopUtilization(since),
  ) {
    // a start the bench's load moves from in a few ticks either way
    this.limit = Math.min(opts.maxConcurrency, Math.max(opts.minConcurrency, 32));
  }

  /** Starts adjusting the limit every TICK_MS (an unref'd timer: it never keeps the process alive). */
  start(): this {
    if (!this.timer && this.opts.minConcurrency !== this.opts.maxConcurrency) {
      this.last = this.utilisation();
      this.timer = setInterval(() => this.tick(), TICK_MS).unref();
    }
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One adjustment: the utilisation since the last one, and the demand meanwhile. */
  tick(): void {
    const now = this.utilisation();
    const over = this.last ? this.utilisation(this.last) : now;
    this.last = now;
    const demand = { waited: this.waitedSinceTick || this.queued > 0, full: this.inFlight >= this.places };
    this.limit = nextLimit(this.limit, over.utilization, demand, this.opts);
    this.waitedSinceTick = false;
    this.admitWaiting();
  }

  /**
   * 'now' when the request may go on at once (nothing allocated: the common case costs nothing),
   * 'refused' when maxQueue requests wait already, else a Waiter. Refusals are not demand: a limit
   * raised for them would only admit more of what saturates the loop.
   */
  enter(): Admission {
    if (this.inFlight < this.places && this.queued === 0) {
      this.inFlight++;
      return 'now';
    }
    if (this.queued >= this.opts.maxQueue) return 'refused';
    this.waitedSinceTick = true;
    const entry = { resolve: (_: boolean) => {}, done: false };
    const turn = new Promise<boolean>((resolve) => (entry.resolve = resolve));
    this.queue.push(entry);
    this.queued++;
    return {
      turn,
      cancel: () => {
        if (entry.done) return; // admitted already, or cancelled
        entry.done = true;
        this.queued--;
        entry.resolve(false);
      },
    };
  }

  /** the limit as a count of places (it moves in fractions) */
  private get places(): number {
    return Math.floor(this.limit);
  }

  /** A request admitted earlier is done; the next waiting one, if any, takes its place. */
  leave(): void {
    this.inFlight--;
    this.admitWaiting();
  }

  get current(): { limit: number; inFlight: number; waiting: number } {
    return { limit: this.places, inFlight: this.inFlight, waiting: this.queued };
  }

  private admitWaiting(): void {
    while (this.queued > 0 && this.inFlight < this.places) {
      const entry = this.queue[this.head++];
      if (entry.done) continue; // cancelled
      entry.done = true;
      this.queued--;
      this.inFlight++;
      entry.resolve(true);
    }
    if (this.queued === 0) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
