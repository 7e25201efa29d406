import type { KeyObject } from 'node:crypto';
import type { Db } from '../storage/db';
import type { CheckpointAnchor } from './anchor';
import { chainHead, verifyChain, type VerifyOptions, type VerifyResult } from './audit-store';
import { checkCheckpoint, checkpointHash, FIRST_PREV, type SignedCheckpoint } from './checkpoint';
import { checkpointsAfter } from './checkpoint-store';

/**
 * `$verify` with checkpoints (docs/audit.md §3): the hash chain walked as before, and on top of it
 * - every checkpoint, from the anchor (read in full, not only the database copy) and from the
 *   database, has a valid signature by a trusted checkpoint key, and both copies agree;
 * - the checkpoints form one sequence (each names the previous one's hash, none missing);
 * - the chain passes through every checkpoint's head: the event at `headSeq` has `headHash`.
 * Someone who edits an event and re-hashes every later one and the head gets a chain that links,
 * but every checkpoint from the first one after the edit names a head the chain no longer has:
 * that checkpoint is named. A chain that ends before a checkpoint's head lost its tail.
 */

export type CheckpointProblem =
  /** a copy whose hash or signature does not verify: it was edited */
  | 'signature'
  /** signed by a key the gateway does not trust (keys.auditKey, keys.auditVerifyKeys) */
  | 'unknown-key'
  /** the database copy differs from the anchored one */
  | 'altered'
  /** two validly signed checkpoints with one seq: the database was rolled back and checkpointed again */
  | 'forked'
  /** anchored but not in the database (deleted, or the database rolled back), or in neither (a gap) */
  | 'missing'
  /** it does not name the hash of the checkpoint before it */
  | 'relinked'
  /** the chain no longer passes through its head: events up to its head were changed and the chain re-hashed */
  | 'rechained'
  /** the chain ends before its head: events were removed from the end, or the database rolled back */
  | 'truncated'
  /** its head lies beyond a break in the chain itself (see firstInvalid) */
  | 'unreached';

export interface CheckpointFault {
  seq: number;
  problem: CheckpointProblem;
  headSeq?: number;
  detail: string;
}

export interface AnchorFault {
  line: number;
  problem: 'anchor-corrupt' | 'anchor-truncated';
  detail: string;
}

export interface TrailReport {
  valid: boolean;
  chain: VerifyResult;
  /** distinct checkpoints seen (anchor ∪ database) */
  checkpoints: number;
  /** of them, in the anchor */
  anchored: number;
  /** in the database and verified, but not (yet) in the anchor */
  unanchored: number;
  anchor: 'read' | 'unreadable' | 'write-only';
  anchorError?: string;
  lastCheckpoint?: { seq: number; headSeq: number };
  /** checkpoints with a problem, and the first of them by seq */
  invalid: number;
  firstFault?: CheckpointFault;
  /** lines of the anchor that are not checkpoints (the first few) */
  anchorFaults: AnchorFault[];
  /** events after the newest checkpoint's head: no checkpoint vouches for them yet */
  uncheckpointed: number;
}

/** What is kept per checkpoint while verifying (a few hundred bytes; one per interval). */
interface Known {
  seq: number;
  hash: string;
  prev: string;
  headSeq: number;
  headHash: string;
}

const compact = (cp: SignedCheckpoint): Known => ({ seq: cp.seq, hash: cp.hash, prev: cp.prev, headSeq: cp.headSeq, headHash: cp.headHash });
const MAX_ANCHOR_FAULTS = 10;

export async function verifyTrail(deps: {
  reader: Db;
  anchor: CheckpointAnchor;
  verifiers: ReadonlyMap<string, KeyObject>;
  batchSize?: number;
  parallel?: VerifyOptions['parallel'];
}): Promise<TrailReport> {
  const { reader, anchor, verifiers } = deps;
  const faults = new Map<number, CheckpointFault>();
  const fault = (f: CheckpointFault) => {
    if (!faults.has(f.seq)) faults.set(f.seq, f);
  };
  const problemOf = (check: ReturnType<typeof checkCheckpoint>): CheckpointProblem => (check === 'unknown-key' ? 'unknown-key' : 'signature');

  // 1. The anchor, read in full. Checkpoints are read before the chain head (below), so every
  //    genuine checkpoint's head is at or below the head the walk goes to.
  const anchorFaults: AnchorFault[] = [];
  let anchorFaultCount = 0;
  const anchored = new Map<number, { known: Known; ok: boolean; signature: string }>();
  let anchorState: TrailReport['anchor'] = anchor.read ? 'read' : 'write-only';
  let anchorError: string | undefined;
  if (anchor.read) {
    try {
      for await (const e of anchor.read()) {
        if (!e.checkpoint) {
          anchorFaultCount++;
          if (anchorFaults.length < MAX_ANCHOR_FAULTS) {
            anchorFaults.push({
              line: e.line,
              problem: e.partial ? 'anchor-truncated' : 'anchor-corrupt',
              detail: e.partial ? `line ${e.line} of the anchor is cut short: the file was truncated` : `line ${e.line} of the anchor is not a checkpoint (${e.error}): the file was edited`,
            });
          }
          continue;
        }
        const cp = e.checkpoint;
        const check = checkCheckpoint(cp, verifiers);
        const seen = anchored.get(cp.seq);
        if (seen) {
          if (seen.known.hash === cp.hash && seen.signature === cp.signature) continue; // the same line twice: harmless
          if (check !== 'ok') {
            fault({ seq: cp.seq, problem: problemOf(check), detail: `a second anchored copy of checkpoint ${cp.seq} (line ${e.line}) does not verify: the anchor was edited` });
            continue;
          }
          if (!seen.ok) {
            anchored.set(cp.seq, { known: compact(cp), ok: true, signature: cp.signature });
            continue;
          }
          fault({ seq: cp.seq, problem: 'forked', detail: `the anchor holds two different validly signed checkpoints ${cp.seq}: the database was rolled back and checkpointed again` });
          continue;
        }
        if (check !== 'ok') fault({ seq: cp.seq, problem: problemOf(check), headSeq: cp.headSeq, detail: `the anchored copy of checkpoint ${cp.seq} (line ${e.line}) does not verify (${check}): the anchor was edited` });
        anchored.set(cp.seq, { known: compact(cp), ok: check === 'ok', signature: cp.signature });
      }
    } catch (e) {
      anchorState = 'unreadable';
      anchorError = String((e as NodeJS.ErrnoException).code ?? 'error');
    }
  }

  // 2. The database copies, compared with the anchored ones.
  const trusted = new Map<number, Known>();
  const inDb = new Set<number>();
  let unanchored = 0;
  for (let after = 0; ; ) {
    const batch = await checkpointsAfter(reader, after, 1000);
    if (!batch.length) break;
    for (const cp of batch) {
      inDb.add(cp.seq);
      const a = anchored.get(cp.seq);
      // the same as the anchored copy (its content still gives its hash): verified once, there
      if (a && a.known.hash === cp.hash && a.signature === cp.signature && checkpointHash(cp) === cp.hash) {
        if (a.ok) trusted.set(cp.seq, a.known);
        continue;
      }
      const check = checkCheckpoint(cp, verifiers);
      if (!a) {
        if (check === 'ok') {
          trusted.set(cp.seq, compact(cp));
          unanchored++;
        } else fault({ seq: cp.seq, problem: problemOf(check), headSeq: cp.headSeq, detail: `the database copy of checkpoint ${cp.seq} does not verify (${check}): it was edited` });
        continue;
      }
      if (a.ok && check !== 'ok') {
        trusted.set(cp.seq, a.known);
        fault({ seq: cp.seq, problem: 'altered', headSeq: a.known.headSeq, detail: `the database copy of checkpoint ${cp.seq} differs from the anchored one and does not verify: it was edited` });
      } else if (a.ok) {
        trusted.set(cp.seq, a.known);
        fault({ seq: cp.seq, problem: 'forked', headSeq: a.known.headSeq, detail: `the database holds another validly signed checkpoint ${cp.seq} than the anchor: the database was rolled back and checkpointed again` });
      } else if (check === 'ok') {
        trusted.set(cp.seq, compact(cp)); // the anchored copy is the edited one (already reported)
      } else {
        fault({ seq: cp.seq, problem: problemOf(check), headSeq: cp.headSeq, detail: `neither copy of checkpoint ${cp.seq} verifies` });
      }
    }
    after = batch.at(-1)!.seq;
  }
  for (const [seq, a] of anchored) {
    if (inDb.has(seq) || !a.ok) continue;
    trusted.set(seq, a.known);
    fault({ seq, problem: 'missing', headSeq: a.known.headSeq, detail: `checkpoint ${seq} is in the anchor but not in the database: it was deleted, or the database was rolled back to a backup` });
  }

  // 3. One sequence: each names the one before; none missing in between.
  const seqs = [...new Set([...trusted.keys(), ...faults.keys()])].sort((a, b) => a - b);
  const maxSeq = seqs.at(-1) ?? 0;
  for (let s = 1; s <= maxSeq; s++) {
    const cp = trusted.get(s);
    if (!cp) {
      if (!faults.has(s)) fault({ seq: s, problem: 'missing', detail: `checkpoint ${s} is neither in the database nor in the anchor` });
      continue;
    }
    const before = s === 1 ? FIRST_PREV : trusted.get(s - 1)?.hash;
    if (before !== undefined && cp.prev !== before) fault({ seq: s, problem: 'relinked', headSeq: cp.headSeq, detail: `checkpoint ${s} does not name checkpoint ${s - 1}'s hash` });
  }

  // 4. The chain walked, through every checkpoint's head.
  const byHead = [...trusted.values()].sort((a, b) => a.headSeq - b.headSeq || a.seq - b.seq);
  const start = await chainHead(reader);
  let p = 0;
  // heads at or below the archive base: the events are archived; the base itself is checked
  for (; p < byHead.length && byHead[p]!.headSeq <= start.baseSeq; p++) {
    const cp = byHead[p]!;
    if (cp.headSeq === start.baseSeq && cp.headHash !== start.baseHash) {
      fault({ seq: cp.seq, problem: 'rechained', headSeq: cp.headSeq, detail: `the archive base (seq ${cp.headSeq}) is not the head checkpoint ${cp.seq} anchored` });
    }
  }
  let lastGood = start.baseSeq;
  const chain = await verifyChain(reader, { batchSize: deps.batchSize, parallel: deps.parallel, heads: byHead.slice(p).map((cp) => cp.headSeq) });
  // every head up to where the chain's links held must be a hash the chain has there
  for (; p < byHead.length && byHead[p]!.headSeq <= chain.reached; p++) {
    const cp = byHead[p]!;
    const hash = chain.heads.get(cp.headSeq);
    if (hash === undefined) continue;
    if (hash === cp.headHash) {
      lastGood = cp.headSeq;
      continue;
    }
    fault({
      seq: cp.seq,
      problem: 'rechained',
      headSeq: cp.headSeq,
      detail: `the chain no longer passes through the head checkpoint ${cp.seq} vouches for (event ${cp.headSeq}): an event after seq ${lastGood} up to seq ${cp.headSeq} was changed, removed or inserted and the chain re-hashed`,
    });
  }
  for (; p < byHead.length; p++) {
    const cp = byHead[p]!;
    if (chain.fault) {
      fault({ seq: cp.seq, problem: 'unreached', headSeq: cp.headSeq, detail: `the chain breaks at seq ${chain.fault.seq} (${chain.fault.kind}) before the head checkpoint ${cp.seq} vouches for (event ${cp.headSeq})` });
    } else {
      fault({
        seq: cp.seq,
        problem: 'truncated',
        headSeq: cp.headSeq,
        detail: `checkpoint ${cp.seq} vouches for event ${cp.headSeq}, but the chain ends at seq ${chain.head.seq}: events were removed from the end, or the database was rolled back to a backup`,
      });
    }
  }

  const first = [...faults.values()].sort((a, b) => a.seq - b.seq)[0];
  const newest = trusted.get(maxSeq);
  const coveredUpTo = byHead.length ? byHead.at(-1)!.headSeq : start.baseSeq;
  return {
    valid: chain.valid && !faults.size && !anchorFaultCount && anchorState !== 'unreadable',
    chain,
    checkpoints: seqs.length,
    anchored: anchored.size,
    unanchored,
    anchor: anchorState,
    ...(anchorError ? { anchorError } : {}),
    ...(newest ? { lastCheckpoint: { seq: newest.seq, headSeq: newest.headSeq } } : {}),
    invalid: faults.size,
    ...(first ? { firstFault: first } : {}),
    anchorFaults,
    uncheckpointed: Math.max(0, chain.head.seq - coveredUpTo),
  };
}
