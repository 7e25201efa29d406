import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { readOnlyConfig, type Db } from '../storage/db';
import { verifySpan, type ChainSpan, type SpanOptions, type SpanResult, type VerifyOptions } from './audit-store';

/**
 * `$verify` shared out over helper processes (docs/audit.md §3): a million events cost some 20
 * CPU seconds through the sqlite3 driver in this process, more than one core can give in ten. Each
 * helper opens the store read-only (storage/db.ts readOnlyConfig) and verifies one stretch of the
 * chain (audit-store.ts verifySpan); this process reads the stretches as one walk. Helpers hold
 * no state, see no request, and exit when their stretch is done; one that fails to start or dies
 * has its stretch verified here instead, so the answer never depends on them.
 */

/** stretches at once: one per core, up to four (beyond, the store's reads are the limit) */
export const VERIFY_HELPERS = Math.min(4, os.availableParallelism());
/** below this many events a walk here takes well under a second, less than starting helpers */
export const VERIFY_HELPERS_MIN_ROWS = 100_000;

const HELPER_MAIN = require.resolve('./verify-helper-main');
/**
 * tsx's require hook only (the helper is CommonJS; no ESM loader thread, some 35 MB less), and a
 * young generation that holds a batch of rows, so they die there instead of being promoted.
 */
const HELPER_EXEC_ARGV = ['--require', 'tsx/cjs', '--max-semi-space-size=8'];

export interface HelperRequest {
  config: Knex.Config;
  span: ChainSpan;
  opts: SpanOptions;
}

export type HelperReply = { ok: true; result: SpanResult } | { ok: false; error: string };

/**
 * A helper's deadline for its stretch: far beyond what a stretch takes (a million events in
 * ~8 s here), so only a helper that is stuck (a lock, a stalled connection) meets it. It is then
 * killed and its stretch verified here.
 */
const helperDeadlineMs = (span: ChainSpan): number => 60_000 + (span.hi - span.lo) * 0.1;

/** helpers alive now: killed if this process exits before them */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** one walk's helpers at a time in this process: another `$verify` waits, rather than doubling the processes */
let running: Promise<unknown> = Promise.resolve();

/** The `parallel` option of verifyChain for this store, or undefined where helpers cannot open it. */
export function verifyHelpers(
  db: Db,
  opts: { log?: Logger; helpers?: number; minRows?: number } = {},
): VerifyOptions['parallel'] | undefined {
  const config = readOnlyConfig(db);
  const stretches = opts.helpers ?? VERIFY_HELPERS;
  if (!config || stretches < 2) return undefined;
  const runAll = (spans: ChainSpan[], spanOpts: SpanOptions): Promise<SpanResult[]> =>
    Promise.all(
      spans.map((span) =>
        inHelper({ config, span, opts: spanOpts }).catch((e: Error) => {
          opts.log?.warn({ err: { message: e.message }, lo: span.lo, hi: span.hi }, 'audit verify helper failed: verifying its stretch here');
          return verifySpan(db, span, spanOpts);
        }),
      ),
    );
  return {
    stretches,
    minRows: opts.minRows ?? VERIFY_HELPERS_MIN_ROWS,
    run: (spans, spanOpts) => {
      const turn = running.then(() => runAll(spans, spanOpts));
      running = turn.catch(() => undefined);
      return turn;
    },
  };
}

/** One stretch in a fresh helper process. */
function inHelper(request: HelperRequest): Promise<SpanResult> {
  return new Promise((resolve, reject) => {
    const child = fork(HELPER_MAIN, [], { execArgv: HELPER_EXEC_ARGV, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    live.add(child);
    let reply: HelperReply | undefined;
    let failure: Error | undefined;
    const deadline = setTimeout(() => {
      failure = new Error(`helper gave no answer within ${helperDeadlineMs(request.span)} ms`);
      child.kill('SIGKILL');
    }, helperDeadlineMs(request.span));
    child.once('message', (m: HelperReply) => {
      reply = m;
    });
    const settle = (why: string) => {
      clearTimeout(deadline);
      live.delete(child);
      if (reply?.ok && !failure) resolve(reply.result);
      else reject(failure ?? new Error(reply && !reply.ok ? reply.error : why));
    };
    // every error is kept (a failed spawn may be followed by a failed send); the exit decides, or
    // the error itself when there was no process to exit (a promise settles once)
    child.on('error', (e) => {
      failure ??= e;
      if (child.pid === undefined) settle(e.message);
    });
    child.once('exit', (code, signal) => settle(`helper exited (${signal ?? code}) without an answer`));
    child.send(request, (e) => {
      if (e) {
        failure ??= e;
        child.kill('SIGKILL');
      }
    });
  });
}
