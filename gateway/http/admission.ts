import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/**
 * How many requests this process works on at once (admission control), and the queue of those
 * waiting their turn, first come first served.
 *
 * Why: a search holds its hospitals' parsed answers from the first answer until its own is sent.
 * When the main thread is saturated, admitting more requests adds no throughput — each waits longer
 * for its turns — but every one admitted holds its answers meanwhile, so they outlive the young
 * generation and reach the old one, and the collector marks them again and again (measured on the
 * bench, 64 connections: 1.7–1.8 × the floor's CPU per request with every request admitted,
 * 1.3–1.5 × with twelve at a time). Waiting requests hold only their sockets.
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
 * The next limit from the last one, the event loop's utilisation over the last tick, and whether
 * requests were waiting (a pure rule; table-driven tests in test/unit/gateway/http/admission.test.ts).
 * Multiplicative both ways, so a burst of waiting requests that hospitals hold reaches a large limit
 * in a second or so, and a saturated loop sheds its excess as quickly.
 */
export function nextLimit(limit: number, utilisation: number, waiting: boolean, opts: AdmissionOptions): number {
  let next = limit;
  if (utilisation >= HIGH) next = limit * 0.9;
  else if (utilisation < LOW && waiting) next = Math.max(limit + 1, limit * 1.25);
  return Math.min(opts.maxConcurrency, Math.max(opts.minConcurrency, next));
}

export type Admission = 'now' | Promise<boolean>;

export class AdmissionGate {
  private limit: number;
  private inFlight = 0;
  /** resolvers of the waiting requests, oldest first (head advances instead of shifting) */
  private queue: Array<((admitted: boolean) => void) | undefined> = [];
  private head = 0;
  private last?: EventLoopUtilization;
  private timer?: NodeJS.Timeout;
  private waitedSinceTick = false;

  constructor(
    private readonly opts: AdmissionOptions,
    private readonly utilisation: (since?: EventLoopUtilization) => EventLoopUtilization = (since) => performance.eventLoopUtilization(since),
  ) {
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

  /** One adjustment: the utilisation since the last one, and whether anyone waited meanwhile. */
  tick(): void {
    const now = this.utilisation();
    const over = this.last ? this.utilisation(this.last) : now;
    this.last = now;
    this.limit = nextLimit(this.limit, over.utilization, this.waitedSinceTick || this.waiting > 0, this.opts);
    this.waitedSinceTick = false;
    this.admitWaiting();
  }

  /**
   * 'now' when the request may go on at once (no promise made: the common case costs nothing);
   * else a promise of true when its turn comes, or false at once when the queue is full.
   */
  enter(): Admission {
    if (this.inFlight < Math.floor(this.limit) && this.waiting === 0) {
      this.inFlight++;
      return 'now';
    }
    this.waitedSinceTick = true;
    if (this.waiting >= this.opts.maxQueue) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => this.queue.push(resolve));
  }

  /** A request admitted earlier is done; the next waiting one, if any, takes its place. */
  leave(): void {
    this.inFlight--;
    this.admitWaiting();
  }

  get waiting(): number {
    return this.queue.length - this.head;
  }

  get current(): { limit: number; inFlight: number; waiting: number } {
    return { limit: Math.floor(this.limit), inFlight: this.inFlight, waiting: this.waiting };
  }

  private admitWaiting(): void {
    while (this.head < this.queue.length && this.inFlight < Math.floor(this.limit)) {
      const resolve = this.queue[this.head];
      this.queue[this.head++] = undefined;
      this.inFlight++;
      resolve!(true);
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
