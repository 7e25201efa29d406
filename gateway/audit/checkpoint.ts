import { createHash, verify, type KeyObject } from 'node:crypto';
import type { CheckpointSigner } from '../auth/key-source';
import { GENESIS_HASH } from './hash-chain';

/**
 * Signed checkpoints of the audit chain (docs/audit.md §3): "at <at>, the chain's head was event
 * <headSeq> with hash <headHash>", numbered, each naming the hash of the checkpoint before it, and
 * signed with the audit checkpoint key, which is not in the database. A copy of each goes to a
 * write-once anchor outside the database. Someone who rewrites the event table and the chain head
 * can make the chain consistent again, but cannot make it pass through the heads already
 * anchored, nor sign a new checkpoint. Pure: building, hashing, signing and checking.
 *
 * Ed25519, not RS384/ES384 as for tokens: its signatures are deterministic (no random nonce to get
 * wrong at signing time), small (64 bytes on every anchor line), fast to verify ($verify checks
 * every checkpoint), and it has one parameter set, so there is no curve, hash or padding choice to
 * get wrong. node:crypto has it built in; checkpoints are read by the gateway and auditors' tools,
 * not by JOSE libraries, so the token algorithms' interoperability does not matter here.
 */

export const CHECKPOINT_FORMAT = 'xzq-audit-checkpoint/1';
/** prev of the first checkpoint */
export const FIRST_PREV = GENESIS_HASH;

/** `interval`: one per slot of `audit.checkpoints.intervalSeconds`; `shutdown`: when an instance stops. */
export type CheckpointKind = 'interval' | 'shutdown';

export interface CheckpointContent {
  /** 1, 2, 3 …: the checkpoints' own order */
  seq: number;
  /** the start of the interval slot (ISO instant) for `interval`; null for `shutdown` */
  slot: string | null;
  kind: CheckpointKind;
  /** the chain head this checkpoint vouches for */
  headSeq: number;
  headHash: string;
  /** when it was made (ISO instant) */
  at: string;
  /** hash of checkpoint seq − 1 ({@link FIRST_PREV} for the first) */
  prev: string;
  /** which checkpoint key signed it (RFC 7638 thumbprint) */
  keyId: string;
}

export interface SignedCheckpoint extends CheckpointContent {
  /** SHA-256 of the canonical form, hex */
  hash: string;
  /** Ed25519 over the canonical form, base64url */
  signature: string;
}

/** The bytes that are hashed and signed: the fields as a JSON array in a fixed order. */
export function canonicalCheckpoint(c: CheckpointContent): string {
  return JSON.stringify([CHECKPOINT_FORMAT, c.seq, c.slot, c.kind, c.headSeq, c.headHash, c.at, c.prev, c.keyId]);
}

export const checkpointHash = (c: CheckpointContent): string => createHash('sha256').update(canonicalCheckpoint(c)).digest('hex');

export async function signCheckpoint(content: Omit<CheckpointContent, 'keyId'>, signer: CheckpointSigner): Promise<SignedCheckpoint> {
  const c: CheckpointContent = { ...content, keyId: signer.keyId };
  const signature = (await signer.sign(Buffer.from(canonicalCheckpoint(c)))).toString('base64url');
  return { ...c, hash: checkpointHash(c), signature };
}

/** Why a checkpoint does not hold up on its own. */
export type CheckpointCheck = 'ok' | 'hash' | 'signature' | 'unknown-key';

/** Its hash is its content's and its signature is by a trusted key. */
export function checkCheckpoint(cp: SignedCheckpoint, verifiers: ReadonlyMap<string, KeyObject>): CheckpointCheck {
  if (checkpointHash(cp) !== cp.hash) return 'hash';
  const key = verifiers.get(cp.keyId);
  if (!key) return 'unknown-key';
  try {
    return verify(null, Buffer.from(canonicalCheckpoint(cp)), key, Buffer.from(cp.signature, 'base64url')) ? 'ok' : 'signature';
  } catch {
    return 'signature';
  }
}

/** One anchor line (JSON lines): the format first, then every field. */
export function anchorLine(cp: SignedCheckpoint): string {
  const { seq, slot, kind, headSeq, headHash, at, prev, keyId, hash, signature } = cp;
  return JSON.stringify({ format: CHECKPOINT_FORMAT, seq, slot, kind, headSeq, headHash, at, prev, keyId, hash, signature });
}

const HEX64 = /^[0-9a-f]{64}$/;
const B64URL = /^[A-Za-z0-9_-]+$/;
const isCount = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
const isInstant = (v: unknown): v is string => typeof v === 'string' && v.length <= 32 && !Number.isNaN(Date.parse(v));

/** A checkpoint from an anchor line, or why the line is not one (the line was edited or cut). */
export function parseAnchorLine(text: string): SignedCheckpoint | { error: string } {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { error: 'not JSON' };
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { error: 'not a JSON object' };
  if (v.format !== CHECKPOINT_FORMAT) return { error: 'not a checkpoint' };
  if (!isCount(v.seq, 1) || !isCount(v.headSeq, 0)) return { error: 'seq or headSeq is not a count' };
  if (!(v.slot === null || isInstant(v.slot)) || !isInstant(v.at)) return { error: 'slot or at is not an instant' };
  if (v.kind !== 'interval' && v.kind !== 'shutdown') return { error: 'unknown kind' };
  for (const f of ['headHash', 'prev', 'hash'] as const) if (typeof v[f] !== 'string' || !HEX64.test(v[f] as string)) return { error: `${f} is not a SHA-256 hash` };
  if (typeof v.keyId !== 'string' || !B64URL.test(v.keyId) || typeof v.signature !== 'string' || !B64URL.test(v.signature)) return { error: 'keyId or signature malformed' };
  return {
    seq: v.seq,
    slot: v.slot as string | null,
    kind: v.kind,
    headSeq: v.headSeq,
    headHash: v.headHash as string,
    at: v.at as string,
    prev: v.prev as string,
    keyId: v.keyId,
    hash: v.hash as string,
    signature: v.signature,
  };
}

/** The start of the interval slot `now` falls in: every instance computes the same one. */
export function slotStart(now: Date, intervalSeconds: number): string {
  const ms = intervalSeconds * 1000;
  return new Date(Math.floor(now.getTime() / ms) * ms).toISOString();
}

/** Same checkpoint: same hash (the hash covers every signed field; the signature is deterministic). */
export const sameCheckpoint = (a: SignedCheckpoint, b: SignedCheckpoint) => a.hash === b.hash && a.signature === b.signature;
