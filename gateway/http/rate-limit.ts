import { tooManyRequests } from '../fhir/outcomes';

/**
 * A token bucket per client (API.md §4: 429 with Retry-After). Per instance on purpose: behind a
 * load balancer each instance enforces its share, and no request waits on the database for it.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Take one token for `key` or throw a 429 OperationOutcomeError saying when to retry. */
  take(key: string): void {
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.perSecond);
    b.at = t;
    if (b.tokens < 1) {
      this.buckets.set(key, b);
      throw tooManyRequests(Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond)));
    }
    b.tokens -= 1;
    this.buckets.set(key, b);
    if (this.buckets.size > 10_000) this.prune(t);
  }

  private prune(t: number): void {
    for (const [k, b] of this.buckets) if (t - b.at > (this.burst / this.perSecond) * 1000) this.buckets.delete(k);
  }
}
