import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import type { Logger } from 'pino';

/**
 * `--workers N`: one gateway host using all its cores. The primary forks N worker processes, each
 * running the whole gateway (main.ts) on the same port; node:cluster hands the accepted
 * connections to them in turn. Workers share nothing in memory: everything that must be one for
 * all of them (patient index, consents, audit chain, jti replay cache, the public token keys) is
 * in PostgreSQL, exactly as for instances on several machines, and the private keys are files every
 * worker reads. The primary serves no request and opens no database connection after start.
 */

/** Where the count comes from, for messages: the flag, the environment or the default. */
export interface WorkerCount {
  count: number;
  source: '--workers' | 'GATEWAY_WORKERS' | 'default';
}

export class WorkersError extends Error {}

/** the most workers one host is given: above this a typo is likelier than a machine */
const MAX_WORKERS = 256;

/**
 * The number of worker processes: `--workers N` (or `--workers=N`), else env GATEWAY_WORKERS, else
 * the host's cores on PostgreSQL and 1 on SQLite. SQLite refuses more than one: its file has one
 * writer (the gateway keeps a single writer connection so transactions never queue behind
 * SQLITE_BUSY), and the embedded store is meant for one process — several processes would contend
 * for its lock on every audit commit instead of sharing a group commit.
 */
export function workerCount(argv: readonly string[], env: NodeJS.ProcessEnv, store: string, cores = os.availableParallelism()): WorkerCount {
  let raw: string | undefined;
  let source: WorkerCount['source'] = 'default';
  const i = argv.findIndex((a) => a === '--workers' || a.startsWith('--workers='));
  if (i >= 0) {
    raw = argv[i] === '--workers' ? argv[i + 1] : argv[i].slice('--workers='.length);
    source = '--workers';
  } else if (env.GATEWAY_WORKERS !== undefined && env.GATEWAY_WORKERS !== '') {
    raw = env.GATEWAY_WORKERS;
    source = 'GATEWAY_WORKERS';
  }
  if (source === 'default') return { count: store === 'sqlite3' ? 1 : Math.max(1, cores), source };
  if (raw === undefined || !/^\d{1,3}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_WORKERS) {
    throw new WorkersError(`${source}: must be a whole number from 1 to ${MAX_WORKERS} (got ${JSON.stringify(raw ?? '')})`);
  }
  const count = Number(raw);
  if (count > 1 && store === 'sqlite3') {
    throw new WorkersError(
      `${source} ${count}: the SQLite store runs in one process (one writer); run one process, or use PostgreSQL (database / DATABASE_URL) for several workers or instances`,
    );
  }
  return { count, source };
}

/**
 * How long to wait before replacing a dead worker, given when earlier replacements were (or are
 * scheduled to be) forked: at once while fewer than `limit` fell in the last `windowMs`, otherwise
 * until the oldest of those leaves the window — so a worker that dies at start (a database that
 * refuses, a bad key file) is retried at `limit` per window, not in a loop that spins a core.
 */
export function replacementDelay(history: readonly number[], now: number, limit: number, windowMs: number): number {
  const recent = history.filter((t) => t > now - windowMs).sort((a, b) => a - b);
  if (recent.length < limit) return 0;
  return Math.max(0, recent[recent.length - limit] + windowMs - now);
}

export interface SupervisorOptions {
  count: number;
  log: Logger;
  /** replacements allowed per window before they are spaced out (default: count) */
  restartLimit?: number;
  windowMs?: number;
  /** how long workers get to finish their requests and checkpoint at SIGTERM/SIGINT before SIGKILL */
  stopGraceMs?: number;
}

/**
 * Runs the primary: forks the workers, replaces any that dies, and stops them all at SIGTERM or
 * SIGINT (each worker's own shutdownOn lets its requests finish and writes its shutdown checkpoint).
 * Exits the process: 0 after a stop, 1 when a worker dies before any worker ever listened (a
 * gateway that cannot start should fail its service manager's start, not retry forever).
 */
export function superviseWorkers(opts: SupervisorOptions): void {
  const { count, log } = opts;
  const limit = opts.restartLimit ?? count;
  const windowMs = opts.windowMs ?? 10_000;
  const stopGraceMs = opts.stopGraceMs ?? 20_000;
  const restarts: number[] = [];
  const pending = new Set<NodeJS.Timeout>();
  // our own list: cluster.workers still holds a dead worker until its IPC channel has closed too
  const live = new Set<Worker>();
  let anyListened = false;
  let stopping = false;
  let exitCode = 0;

  const fork = (): Worker => {
    const w = cluster.fork();
    live.add(w);
    const pid = w.process.pid;
    log.info({ worker: w.id, pid }, 'worker forked');
    w.once('listening', () => {
      anyListened = true;
      log.debug({ worker: w.id, pid }, 'worker listening');
    });
    return w;
  };

  cluster.on('exit', (w, code, signal) => {
    live.delete(w);
    const about = { worker: w.id, pid: w.process.pid, code: code ?? undefined, signal: signal ?? undefined };
    if (stopping) {
      log.info(about, 'worker stopped');
      if (live.size === 0) process.exit(exitCode);
      return;
    }
    if (!anyListened) {
      log.error(about, 'worker exited during start-up; the gateway does not start');
      stopAll('start-up failed', 1);
      return;
    }
    const now = Date.now();
    const delayMs = replacementDelay(restarts, now, limit, windowMs);
    restarts.push(now + delayMs);
    while (restarts.length > limit) restarts.shift(); // older entries no longer decide anything
    log.error({ ...about, replaceInMs: delayMs }, 'worker died; replacing it');
    const t = setTimeout(() => {
      pending.delete(t);
      if (!stopping) fork();
    }, delayMs);
    pending.add(t);
  });

  function stopAll(reason: string, code = 0): void {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    for (const t of pending) clearTimeout(t);
    log.info({ reason, workers: live.size }, 'stopping workers');
    if (live.size === 0) process.exit(exitCode);
    for (const w of live) w.process.kill('SIGTERM');
    // A worker stuck past the grace period (a hospital call that ignores its deadline) is killed:
    // its committed audit events are durable, and it has answered nothing it did not record.
    setTimeout(() => {
      for (const w of live) w.process.kill('SIGKILL');
    }, stopGraceMs).unref();
  }

  process.on('SIGTERM', () => stopAll('SIGTERM'));
  process.on('SIGINT', () => stopAll('SIGINT'));

  log.info({ workers: count }, 'starting workers');
  for (let i = 0; i < count; i++) fork();
}
