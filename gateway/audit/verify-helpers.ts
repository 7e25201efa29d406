import { fork } from 'node:child_process';
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

/** The `parallel` option of verifyChain for this store, or undefined where helpers cannot open it. */
export function verifyHelpers(
  db: Db,
  opts: { log?: Logger; helpers?: number; minRows?: number } = {},
): VerifyOptions['parallel'] | undefined {
  const config = readOnlyConfig(db);
  const stretches = opts.helpers ?? VERIFY_HELPERS;
  if (!config || stretches < 2) return undefined;
  return {
    stretches,
    minRows: opts.minRows ?? VERIFY_HELPERS_MIN_ROWS,
    run: (spans, spanOpts) =>
      Promise.all(
        spans.map((span) =>
          inHelper({ config, span, opts: spanOpts }).catch((e: Error) => {
            opts.log?.warn({ err: { message: e.message }, lo: span.lo, hi: span.hi }, 'audit verify helper failed: verifying its stretch here');
            return verifySpan(db, span, spanOpts);
          }),
        ),
      ),
  };
}

/** One stretch in a fresh helper process. */
function inHelper(request: HelperRequest): Promise<SpanResult> {
  return new Promise((resolve, reject) => {
    const child = fork(HELPER_MAIN, [], { execArgv: HELPER_EXEC_ARGV, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    let reply: HelperReply | undefined;
    child.once('message', (m: HelperReply) => {
      reply = m;
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (reply?.ok) resolve(reply.result);
      else reject(new Error(reply ? reply.error : `helper exited (${signal ?? code}) without an answer`));
    });
    child.send(request);
  });
}
