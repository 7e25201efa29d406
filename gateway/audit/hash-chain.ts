import * as crypto from 'node:crypto';

/**
 * The hash chain that makes the audit store tamper-evident (API.md §7): every stored row keeps the
 * hash of the row before it, and its own hash covers that link and every column it holds. Editing,
 * inserting or deleting a row breaks the chain at that row (or, for a deleted row, at the next one).
 */

/** prev_hash of the first event ever stored. */
export const GENESIS_HASH = '0'.repeat(64);

/** One stored audit row: the hashed content and its two chain fields. */
export interface AuditRow {
  seq: number;
  id: string;
  recorded: string;
  request_id: string | null;
  patient_id: string | null;
  client_id: string | null;
  user_id: string | null;
  outcome: number;
  purpose: string | null;
  subtype: string;
  /** the AuditEvent as stored (JSON text): hashed as text, never re-serialised */
  resource: string;
  prev_hash: string;
  hash: string;
}

export type AuditRowContent = Omit<AuditRow, 'prev_hash' | 'hash'>;

/**
 * The canonical serialisation of a row's content: the columns as a JSON array in a fixed order
 * (the index columns too, so a row cannot be hidden from searches by editing them), a newline,
 * then the stored resource text as is. The header never holds a raw newline (JSON escapes it), so
 * the split is unambiguous; the resource is not re-serialised, which keeps verification cheap.
 */
export function canonicalHeader(r: AuditRowContent): string {
  return JSON.stringify([
    1, // serialisation version
    Number(r.seq),
    r.id,
    r.recorded,
    r.request_id ?? null,
    r.patient_id ?? null,
    r.client_id ?? null,
    r.user_id ?? null,
    Number(r.outcome),
    r.purpose ?? null,
    r.subtype,
  ]);
}

export function canonicalRow(r: AuditRowContent): string {
  return `${canonicalHeader(r)}\n${r.resource}`;
}

/**
 * SHA-256 of a string, hex: the one-shot `crypto.hash` (Node ≥ 20.12) where there is one, a Hash
 * object otherwise. One call instead of a Hash object and four updates matters when verification
 * hashes a million rows.
 */
const sha256Hex: (text: string) => string =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text).digest('hex');

/** hash = SHA-256(prev_hash + canonical content), hex. */
export function chainHash(prevHash: string, r: AuditRowContent): string {
  return sha256Hex(`${prevHash}${canonicalHeader(r)}\n${r.resource}`);
}

/**
 * The stored form of a resource: its JSON with every non-ASCII character written as a \uXXXX
 * escape. Same JSON value, but pure ASCII text, which the drivers hand over several times faster
 * than multi-byte UTF-8; verification reads every row, so this matters at millions of rows.
 */
export function storedJson(value: unknown): string {
  const json = JSON.stringify(value);
  if (!NON_ASCII_ONE.test(json)) return json;
  // The escaped text is ASCII but still held as two bytes a character (it is made from the
  // two-byte JSON); re-made as one byte a character, the driver binds it and the hash reads it
  // as a plain copy instead of re-encoding every character.
  return Buffer.from(json.replace(NON_ASCII, escapeChar), 'latin1').toString('latin1');
}

const NON_ASCII = /[\u007f-\uffff]/g;
const NON_ASCII_ONE = /[\u007f-\uffff]/;
const escapeChar = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** Link content rows into a chain after (headSeq, headHash): assigns seq, prev_hash and hash. */
export function linkRows(headSeq: number, headHash: string, rows: ReadonlyArray<Omit<AuditRowContent, 'seq'>>): AuditRow[] {
  const out: AuditRow[] = new Array(rows.length);
  let prev = headHash;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const row: AuditRow = {
      seq: headSeq + 1 + i,
      id: r.id,
      recorded: r.recorded,
      request_id: r.request_id,
      patient_id: r.patient_id,
      client_id: r.client_id,
      user_id: r.user_id,
      outcome: r.outcome,
      purpose: r.purpose,
      subtype: r.subtype,
      resource: r.resource,
      prev_hash: prev,
      hash: '',
    };
    row.hash = chainHash(prev, row);
    prev = row.hash;
    out[i] = row;
  }
  return out;
}

/** Link rows again, in place, after (headSeq, headHash); returns the new end of the chain. */
export function relinkRows(headSeq: number, headHash: string, rows: AuditRow[]): { seq: number; hash: string } {
  let seq = headSeq;
  let prev = headHash;
  for (const row of rows) {
    row.seq = ++seq;
    row.prev_hash = prev;
    row.hash = chainHash(prev, row);
    prev = row.hash;
  }
  return { seq, hash: prev };
}

/** Why a link is broken. */
export type ChainBreak =
  | 'edited' // the row's content does not give its hash
  | 'deleted' // a seq gap, or rows missing after the last stored one
  | 'relinked' // prev_hash does not name the previous row: a row before it was removed, replaced or inserted
  | 'inserted'; // a row the chain head does not account for

export interface ChainFault {
  /** the AuditEvent id of the first broken link */
  id: string;
  seq: number;
  kind: ChainBreak;
}

/**
 * Checks rows fed in seq order, in as many batches as the caller likes (memory stays bounded).
 * Pure: the caller reads the rows; this only judges them.
 */
export class ChainVerifier {
  private prevHash: string;
  private prevSeq: number;
  private lastId: string | undefined;
  checked = 0;
  fault: ChainFault | undefined;

  constructor(baseSeq: number, baseHash: string) {
    this.prevSeq = baseSeq;
    this.prevHash = baseHash;
  }

  /** feed the next rows (ascending seq); returns false once a fault is found */
  feed(rows: readonly AuditRow[]): boolean {
    for (const r of rows) {
      if (this.fault) return false;
      const seq = Number(r.seq);
      this.checked++;
      if (seq !== this.prevSeq + 1) {
        this.fault = { id: r.id, seq, kind: seq > this.prevSeq + 1 ? 'deleted' : 'inserted' };
      } else if (r.prev_hash !== this.prevHash) {
        this.fault = { id: r.id, seq, kind: 'relinked' };
      } else if (chainHash(r.prev_hash, r) !== r.hash) {
        this.fault = { id: r.id, seq, kind: 'edited' };
      } else {
        this.prevSeq = seq;
        this.prevHash = r.hash;
        this.lastId = r.id;
      }
    }
    return !this.fault;
  }

  /** the seq and hash the chain reached */
  get position(): { seq: number; hash: string; id: string | undefined } {
    return { seq: this.prevSeq, hash: this.prevHash, id: this.lastId };
  }

  /**
   * After the last row up to the head: the head must be where the chain ended. A head beyond the
   * last row means trailing rows were deleted; the fault then names the last intact event.
   */
  finish(head: { seq: number; hash: string }): ChainFault | undefined {
    this.fault ??= endFault({ seq: this.prevSeq, hash: this.prevHash, id: this.lastId }, head);
    return this.fault;
  }
}

/**
 * Where a chain ended against the head it should have reached: none when they agree; a head
 * beyond the end means trailing rows were deleted, and the fault names the last intact event.
 */
export function endFault(end: { seq: number; hash: string; id?: string }, head: { seq: number; hash: string }): ChainFault | undefined {
  if (head.seq === end.seq && head.hash === end.hash) return undefined;
  return { id: end.id ?? '', seq: end.seq, kind: head.seq > end.seq ? 'deleted' : 'edited' };
}
