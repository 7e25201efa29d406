import { isOperationOutcomeError } from '../../../../gateway/fhir/outcomes';
import { RateLimiter } from '../../../../gateway/http/rate-limit';

describe('per-client rate limit', () => {
  test('a burst passes, the next request is a 429 with Retry-After, and tokens come back with time', () => {
    let now = 0;
    const limiter = new RateLimiter(10, 3, () => now);
    for (let i = 0; i < 3; i++) limiter.take('his-a');
    let err: unknown;
    try {
      limiter.take('his-a');
    } catch (e) {
      err = e;
    }
    expect(isOperationOutcomeError(err) && err.status).toBe(429);
    if (isOperationOutcomeError(err)) {
      expect(err.headers['Retry-After']).toBe('1');
      expect(err.outcome.issue[0].code).toBe('throttled');
    }
    limiter.take('his-b'); // other clients are not affected
    now += 100; // one token at 10/s
    expect(() => limiter.take('his-a')).not.toThrow();
    expect(() => limiter.take('his-a')).toThrow();
  });
});
