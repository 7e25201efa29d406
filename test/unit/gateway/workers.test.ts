import { replacementDelay, workerCount, WorkersError } from '../../../gateway/workers';

/** How many worker processes `--workers` / GATEWAY_WORKERS ask for, and the replacement backoff. */
describe('workerCount', () => {
  test.each<[string, string[], NodeJS.ProcessEnv, string, number]>([
    ['PostgreSQL, nothing asked: the cores', [], {}, 'pg', 4],
    ['SQLite, nothing asked: one', [], {}, 'sqlite3', 1],
    ['--workers N', ['--config', 'f', '--workers', '3'], {}, 'pg', 3],
    ['--workers=N', ['--workers=2'], {}, 'pg', 2],
    ['the flag wins over the environment', ['--workers', '2'], { GATEWAY_WORKERS: '5' }, 'pg', 2],
    ['GATEWAY_WORKERS', [], { GATEWAY_WORKERS: '5' }, 'pg', 5],
    ['an empty GATEWAY_WORKERS is unset', [], { GATEWAY_WORKERS: '' }, 'pg', 4],
    ['SQLite with one asked for', ['--workers', '1'], {}, 'sqlite3', 1],
  ])('%s', (_case, argv, env, store, count) => {
    expect(workerCount(argv, env, store, 4).count).toBe(count);
  });

  test.each<[string, string[], NodeJS.ProcessEnv, string, RegExp]>([
    ['SQLite refuses several, naming why', ['--workers', '2'], {}, 'sqlite3', /^--workers 2: the SQLite store runs in one process \(one writer\)/],
    ['SQLite refuses GATEWAY_WORKERS > 1 too', [], { GATEWAY_WORKERS: '2' }, 'sqlite3', /^GATEWAY_WORKERS 2: the SQLite store/],
    ['zero', ['--workers', '0'], {}, 'pg', /^--workers: must be a whole number from 1 to 256/],
    ['missing value', ['--workers'], {}, 'pg', /whole number/],
    ['not a number', [], { GATEWAY_WORKERS: 'all' }, 'pg', /^GATEWAY_WORKERS: must be a whole number/],
    ['a fraction', ['--workers=1.5'], {}, 'pg', /whole number/],
    ['too many', ['--workers', '257'], {}, 'pg', /whole number from 1 to 256/],
  ])('%s', (_case, argv, env, store, message) => {
    expect(() => workerCount(argv, env, store, 4)).toThrow(WorkersError);
    expect(() => workerCount(argv, env, store, 4)).toThrow(message);
  });
});

describe('replacementDelay (at most `limit` replacements in any window)', () => {
  const W = 10_000;
  test.each<[string, number[], number, number]>([
    ['no earlier replacement: at once', [], 50_000, 0],
    ['fewer than the limit in the window: at once', [45_000], 50_000, 0],
    ['the limit reached: when the oldest leaves the window', [42_000, 45_000], 50_000, 2_000],
    ['older ones do not count', [30_000, 39_000, 45_000], 50_000, 0],
    ['a scheduled one counts too', [45_000, 52_000], 50_000, 5_000],
  ])('%s', (_case, history, now, delay) => {
    expect(replacementDelay(history, now, 2, W)).toBe(delay);
  });

  test('a worker dying at once every time is replaced `limit` times per window, no faster', () => {
    const history: number[] = [];
    let now = 0;
    for (let i = 0; i < 20; i++) {
      const at = now + replacementDelay(history, now, 2, W);
      history.push(at);
      now = at + 1; // dies 1 ms after it was forked
    }
    for (const t of history) expect(history.filter((u) => u > t - W && u <= t).length).toBeLessThanOrEqual(2);
    expect(history[19]).toBeGreaterThanOrEqual(9 * W);
  });
});
