import type { KeyObject } from 'node:crypto';
import { ConfigError } from '../config';
import type { CheckpointSigner, KeySource } from '../auth/key-source';
import { errorForLog } from '../log-safe';
import type { ServiceDeps } from '../service-deps';
import { createAnchor, type CheckpointAnchor } from './anchor';
import { chainHead } from './audit-store';
import { checkCheckpoint, FIRST_PREV, signCheckpoint, slotStart, type CheckpointKind, type SignedCheckpoint } from './checkpoint';
import { checkpointsAfter, eventHashAt, insertCheckpoint, lastCheckpoint } from './checkpoint-store';
import type { AuditService } from './contract';

/**
 * Makes the signed checkpoints of the audit chain (docs/audit.md §3) and copies them to the anchor.
 *
 * - **When**: at the start of every interval slot (`audit.checkpoints.intervalSeconds`, a little
 *   jitter so instances do not collide) and when the instance shuts down, if the chain has grown
 *   since the last checkpoint.
 * - **Several instances**: exactly one checkpoint per interval slot. The slot is unique in the
 *   database and the checkpoints' seq is its primary key, so of instances that race for a slot one
 *   stores it and the others skip; a shutdown checkpoint that loses the race for its seq links
 *   onto the winner and tries again. Each instance then copies to its own anchor every checkpoint
 *   it has not anchored yet (its own and the others', each verified and linked first), so every
 *   anchor holds the whole sequence. Instances sharing one anchor file may append a checkpoint
 *   twice: identical lines, which `$verify` accepts.
 * - **Before signing** a head read from the database, it checks that the chain still passes
 *   through the previous checkpoint's head and through the head this instance committed last, and
 *   that the database has every checkpoint its anchor has. If not, the database was rewritten or
 *   rolled back: nothing is signed, the alarm shows in /healthz and /metrics until it clears.
 * - **Faults**: a checkpoint that cannot be stored or an anchor that cannot be written never
 *   touches requests; it is logged, counted (`xzq_audit_checkpoint_failures_total`), shown in
 *   /healthz, and the next checkpoint retries (the anchor catches up on everything it missed).
 */

export interface CheckpointHealth {
  status: 'ok' | 'failing' | 'alarm';
  lastCheckpoint?: { seq: number; at: string; headSeq: number };
  /** checkpoints in the database this instance's anchor does not hold yet */
  unanchored: number;
  anchor: { kind: string; status: 'ok' | 'failing'; error?: string; since?: string };
  /** the last checkpoint that could not be made, when the latest attempt failed */
  error?: string;
  alarm?: string;
}

export interface CheckpointResult {
  made?: SignedCheckpoint;
  skipped?: 'empty' | 'unchanged' | 'slot-taken' | 'alarm';
}

export interface CheckpointService {
  /** loads the checkpoint key (a missing or loose key file stops the start-up), checks the anchor, starts the timer */
  init(): Promise<void>;
  /** make a checkpoint now (the timer's and shutdown's call; tests call it directly) */
  checkpoint(kind: CheckpointKind): Promise<CheckpointResult>;
  health(): CheckpointHealth;
  readonly anchor: CheckpointAnchor;
  /** the keys checkpoints are verified with */
  verifiers(): Promise<ReadonlyMap<string, KeyObject>>;
  /** stops the timer and makes the shutdown checkpoint (after the audit writer has drained) */
  close(): Promise<void>;
}

/** How many checkpoints one anchor append carries at most while catching up. */
const CATCH_UP_BATCH = 500;

export function createCheckpointService(
  deps: ServiceDeps & { audit: Pick<AuditService, 'lastCommittedHead'>; source: KeySource | undefined; anchor?: CheckpointAnchor },
): CheckpointService {
  const { db, config, clock, log, metrics, audit, source } = deps;
  const settings = config.audit.checkpoints;
  const anchor = deps.anchor ?? (settings ? createAnchor(settings.anchor) : undefined);
  const intervalSeconds = settings?.intervalSeconds ?? 300;
  let signer: CheckpointSigner | undefined;
  let trusted: ReadonlyMap<string, KeyObject> = new Map();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let running: Promise<unknown> = Promise.resolve();

  // what /healthz and /metrics show
  let last: SignedCheckpoint | undefined;
  let anchoredSeq = 0;
  let anchorError: { code: string; since: string } | undefined;
  let checkpointError: string | undefined;
  let alarm: string | undefined;

  const codeOf = (e: unknown) => String((e as NodeJS.ErrnoException)?.code ?? (e as Error)?.name ?? 'error');

  function setUnanchored(): void {
    metrics.auditCheckpointsUnanchored.set(Math.max(0, (last?.seq ?? 0) - anchoredSeq));
  }

  function seen(cp: SignedCheckpoint | undefined): void {
    if (!cp || (last && last.seq >= cp.seq)) return;
    last = cp;
    metrics.auditLastCheckpoint.set(Date.parse(cp.at) / 1000);
  }

  function raise(problem: string, detail: Record<string, unknown>): CheckpointResult {
    if (alarm !== problem) log.error({ problem, ...detail }, 'audit checkpoints: the database does not agree with the checkpoints; nothing is signed until it does (run $verify)');
    alarm = problem;
    metrics.auditCheckpointAlarm.set(1);
    return { skipped: 'alarm' };
  }

  function clearAlarm(): void {
    if (alarm) log.warn({ problem: alarm }, 'audit checkpoints: the alarm has cleared');
    alarm = undefined;
    metrics.auditCheckpointAlarm.set(0);
  }

  /** The anchor's newest entry, or undefined when it cannot be read (the failure is recorded). */
  async function anchorLast(): Promise<{ seq: number; hash: string } | undefined | 'unreadable'> {
    try {
      const a = await anchor!.last();
      anchoredSeq = a?.seq ?? 0;
      return a;
    } catch (e) {
      anchorFailed(e);
      return 'unreadable';
    }
  }

  function anchorFailed(e: unknown): void {
    metrics.auditCheckpointFailures.inc({ stage: 'anchor' });
    if (!anchorError) log.error({ code: codeOf(e), anchor: anchor!.kind }, 'audit checkpoint anchor cannot be written; requests go on, the next checkpoint retries');
    anchorError = { code: codeOf(e), since: anchorError?.since ?? clock.now().toISOString() };
  }

  /** The database's checkpoints against the anchor's: a database behind its anchor was rolled back. */
  async function checkpointsConsistent(dbLast: SignedCheckpoint | undefined, anchored: { seq: number; hash: string } | undefined): Promise<string | undefined> {
    if (dbLast && checkCheckpoint(dbLast, trusted) !== 'ok') return 'checkpoint-signature';
    if (!anchored) return undefined;
    if (!dbLast || anchored.seq > dbLast.seq) return 'database-behind-anchor';
    if (anchored.seq === dbLast.seq && anchored.hash !== dbLast.hash) return 'checkpoint-altered';
    return undefined;
  }

  /** The chain must still pass through the last checkpoint's head and through our own last head. */
  async function chainConsistent(head: { seq: number; hash: string; baseSeq: number }, dbLast: SignedCheckpoint | undefined): Promise<string | undefined> {
    const points: Array<{ seq: number; hash: string }> = [];
    if (dbLast) points.push({ seq: dbLast.headSeq, hash: dbLast.headHash });
    const own = audit.lastCommittedHead();
    if (own) points.push(own);
    for (const p of points) {
      if (p.seq > head.seq) return 'chain-truncated';
      if (p.seq <= head.baseSeq) continue; // archived
      if ((await eventHashAt(db, p.seq)) !== p.hash) return 'chain-rewritten';
    }
    return undefined;
  }

  /** Copies to the anchor every stored checkpoint it lacks, each verified and linked onto the one before. */
  async function catchUp(): Promise<void> {
    const a = await anchorLast();
    if (a === 'unreadable') return setUnanchored();
    let after = a?.seq ?? 0;
    let prev = a?.hash;
    try {
      for (;;) {
        const batch = await checkpointsAfter(db, after, CATCH_UP_BATCH);
        if (!batch.length) break;
        const good: SignedCheckpoint[] = [];
        for (const cp of batch) {
          if (cp.seq !== after + good.length + 1 || (prev !== undefined ? cp.prev !== prev : cp.seq === 1 && cp.prev !== FIRST_PREV) || checkCheckpoint(cp, trusted) !== 'ok') {
            raise('checkpoint-chain', { seq: cp.seq });
            break;
          }
          good.push(cp);
          prev = cp.hash;
        }
        if (good.length) {
          await anchor!.append(good);
          after = good.at(-1)!.seq;
          anchoredSeq = after;
          seen(good.at(-1));
        }
        if (good.length < batch.length || batch.length < CATCH_UP_BATCH) break;
      }
      if (anchorError) log.warn({ anchor: anchor!.kind }, 'audit checkpoint anchor written again');
      anchorError = undefined;
    } catch (e) {
      anchorFailed(e);
    }
    setUnanchored();
  }

  async function make(kind: CheckpointKind): Promise<CheckpointResult> {
    for (let attempt = 0; attempt < 5; attempt++) {
      // the anchor first: it only ever holds what the database held before, so read in this order a
      // checkpoint another instance stores and anchors meanwhile cannot look like a rollback
      const anchored = await anchorLast();
      const dbLast = await lastCheckpoint(db);
      seen(dbLast);
      const mismatch = await checkpointsConsistent(dbLast, anchored === 'unreadable' ? undefined : anchored);
      if (mismatch) return raise(mismatch, { checkpoint: dbLast?.seq ?? 0, anchored: anchored === 'unreadable' ? undefined : anchored?.seq });
      const head = await chainHead(db);
      if (head.seq === 0) return { skipped: 'empty' };
      const broken = await chainConsistent(head, dbLast);
      if (broken) return raise(broken, { checkpoint: dbLast?.seq ?? 0, headSeq: head.seq });
      clearAlarm();
      if (dbLast && dbLast.headSeq === head.seq && dbLast.headHash === head.hash) return { skipped: 'unchanged' };
      const at = clock.now();
      const slot = kind === 'interval' ? slotStart(at, intervalSeconds) : null;
      if (slot !== null && dbLast?.slot === slot) return { skipped: 'slot-taken' };
      const cp = await signCheckpoint(
        { seq: (dbLast?.seq ?? 0) + 1, slot, kind, headSeq: head.seq, headHash: head.hash, at: at.toISOString(), prev: dbLast?.hash ?? FIRST_PREV },
        signer!,
      );
      const stored = await insertCheckpoint(db, cp);
      if (stored === 'inserted') {
        metrics.auditCheckpoints.inc({ kind });
        seen(cp);
        return { made: cp };
      }
      if (stored === 'slot-taken') return { skipped: 'slot-taken' };
      // another instance stored this seq first: link onto its checkpoint
    }
    throw new Error('could not store a checkpoint: its seq was taken five times');
  }

  function run(kind: CheckpointKind): Promise<CheckpointResult> {
    const next = running.then(async () => {
      try {
        const r = await make(kind);
        checkpointError = undefined;
        return r;
      } catch (e) {
        metrics.auditCheckpointFailures.inc({ stage: 'checkpoint' });
        checkpointError = codeOf(e);
        log.warn({ kind, err: errorForLog(e) }, 'audit checkpoint could not be made; the next one retries');
        throw e;
      } finally {
        // whatever happened, the anchor gets what the database has (the retry of earlier failures)
        await catchUp().catch(() => undefined);
      }
    });
    running = next.catch(() => undefined);
    return next;
  }

  function schedule(): void {
    if (closed) return;
    const ms = intervalSeconds * 1000;
    const jitter = Math.floor(Math.random() * Math.min(2000, ms / 10));
    timer = setTimeout(() => {
      run('interval')
        .catch(() => undefined)
        .finally(schedule);
    }, ms - (Date.now() % ms) + jitter);
    timer.unref();
  }

  return {
    get anchor() {
      if (!anchor) throw new Error('checkpoint service not configured');
      return anchor;
    },

    async init() {
      if (!settings || !anchor) {
        throw new ConfigError(['audit.checkpoints.anchor: required — where signed checkpoints of the audit chain are copied outside the database (docs/audit.md §3)']);
      }
      if (!source) throw new ConfigError(['keys.directory: required — the audit checkpoint key is read from the key source, never from the database (docs/audit.md §3)']);
      signer = await source.checkpointSigner();
      trusted = await source.checkpointVerifiers();
      // the state at start: alarms (a database rolled back behind the anchor) and what the anchor missed
      const anchored = await anchorLast();
      const dbLast = await lastCheckpoint(db);
      seen(dbLast);
      const mismatch = await checkpointsConsistent(dbLast, anchored === 'unreadable' ? undefined : anchored);
      if (mismatch) raise(mismatch, { checkpoint: dbLast?.seq ?? 0 });
      else await catchUp();
      schedule();
    },

    checkpoint: run,

    health() {
      const status = alarm ? 'alarm' : anchorError || checkpointError ? 'failing' : 'ok';
      return {
        status,
        ...(last ? { lastCheckpoint: { seq: last.seq, at: last.at, headSeq: last.headSeq } } : {}),
        unanchored: Math.max(0, (last?.seq ?? 0) - anchoredSeq),
        anchor: { kind: anchor?.kind ?? 'none', status: anchorError ? 'failing' : 'ok', ...(anchorError ? { error: anchorError.code, since: anchorError.since } : {}) },
        ...(checkpointError ? { error: checkpointError } : {}),
        ...(alarm ? { alarm } : {}),
      };
    },

    async verifiers() {
      if (!trusted.size && source) trusted = await source.checkpointVerifiers();
      return trusted;
    },

    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      await running;
      if (!signer) return; // never started
      await run('shutdown').catch(() => undefined);
    },
  };
}
