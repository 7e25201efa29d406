import type { Db } from '../storage/db';
import type { CheckpointKind, SignedCheckpoint } from './checkpoint';

/**
 * The database copy of the checkpoints (`audit_checkpoints`, migration 009). The copy that counts
 * is the anchor's; this one lets any instance link the next checkpoint onto the last, lets
 * `$checkpoints` page through them, and is compared with the anchor by `$verify`.
 */

const TABLE = 'audit_checkpoints';

interface CheckpointRow {
  seq: number | string;
  slot: string | null;
  kind: string;
  head_seq: number | string;
  head_hash: string;
  at: string;
  prev_hash: string;
  key_id: string;
  hash: string;
  signature: string;
}

const fromRow = (r: CheckpointRow): SignedCheckpoint => ({
  seq: Number(r.seq),
  slot: r.slot,
  kind: r.kind as CheckpointKind,
  headSeq: Number(r.head_seq),
  headHash: r.head_hash,
  at: r.at,
  prev: r.prev_hash,
  keyId: r.key_id,
  hash: r.hash,
  signature: r.signature,
});

/**
 * Stores a checkpoint unless its seq or its slot is taken (another instance got there first):
 * the primary key and the unique slot decide between instances, in one statement on both databases.
 */
export async function insertCheckpoint(db: Db, cp: SignedCheckpoint): Promise<'inserted' | 'slot-taken' | 'seq-taken'> {
  const inserted = await db(TABLE)
    .insert({
      seq: cp.seq,
      slot: cp.slot,
      kind: cp.kind,
      head_seq: cp.headSeq,
      head_hash: cp.headHash,
      at: cp.at,
      prev_hash: cp.prev,
      key_id: cp.keyId,
      hash: cp.hash,
      signature: cp.signature,
    })
    .onConflict()
    .ignore()
    .returning('seq');
  if (inserted.length) return 'inserted';
  if (cp.slot !== null && (await db(TABLE).where({ slot: cp.slot }).first('seq'))) return 'slot-taken';
  return 'seq-taken';
}

export async function lastCheckpoint(db: Db): Promise<SignedCheckpoint | undefined> {
  const r = await db<CheckpointRow>(TABLE).orderBy('seq', 'desc').first();
  return r ? fromRow(r) : undefined;
}

/** Checkpoints with seq above `after`, oldest first, at most `limit`. */
export async function checkpointsAfter(db: Db, after: number, limit: number): Promise<SignedCheckpoint[]> {
  const rows = await db<CheckpointRow>(TABLE).where('seq', '>', after).orderBy('seq').limit(limit).select('*');
  return rows.map(fromRow);
}

/** The stored hash of event `seq` (undefined when there is no such row). */
export async function eventHashAt(db: Db, seq: number): Promise<string | undefined> {
  const r = await db('audit_events').where({ seq }).first('hash');
  return r?.hash;
}
