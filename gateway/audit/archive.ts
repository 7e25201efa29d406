import type { Db } from '../storage/db';
import { chainHead } from './audit-store';
import { ChainVerifier, GENESIS_HASH, type AuditRow } from './hash-chain';

/**
 * Retention and archiving of the audit trail (API.md §7, docs/audit.md). Never reachable through
 * the API: an operator exports a seq range with its boundary hashes (NDJSON), checks the file, and
 * only then may remove the range from the database; the chain head then remembers the last removed
 * event's seq and hash, so `$verify` still proves the remaining chain continues the archived one.
 */

export const ARCHIVE_FORMAT = 'xzq-audit-archive/1';

export interface ArchiveHeader {
  format: typeof ARCHIVE_FORMAT;
  fromSeq: number;
  toSeq: number;
  count: number;
  /** prev_hash of the first exported event: the hash of the event before the range */
  prevHash: string;
  /** hash of the last exported event: the next event's prev_hash */
  lastHash: string;
  exportedAt: string;
}

const BATCH = 2000;

/**
 * Writes `fromSeq..toSeq` as NDJSON: a header line, then one line per stored row (every column,
 * as stored). The range is verified while it is read; a broken chain aborts the export.
 */
export async function exportAuditRange(
  db: Db,
  range: { fromSeq: number; toSeq: number },
  write: (line: string) => void | Promise<void>,
  now: Date = new Date(),
): Promise<ArchiveHeader> {
  const { fromSeq, toSeq } = range;
  if (!(Number.isInteger(fromSeq) && Number.isInteger(toSeq) && fromSeq >= 1 && toSeq >= fromSeq)) throw new Error('invalid seq range');
  const head = await chainHead(db);
  if (toSeq > head.seq) throw new Error(`the chain ends at seq ${head.seq}`);
  if (fromSeq <= head.baseSeq) throw new Error(`events up to seq ${head.baseSeq} are already archived`);
  const first = await db('audit_events').where({ seq: fromSeq }).first('prev_hash');
  const last = await db('audit_events').where({ seq: toSeq }).first('hash');
  if (!first || !last) throw new Error('the range is not in the database');
  const header: ArchiveHeader = {
    format: ARCHIVE_FORMAT,
    fromSeq,
    toSeq,
    count: toSeq - fromSeq + 1,
    prevHash: first.prev_hash,
    lastHash: last.hash,
    exportedAt: now.toISOString(),
  };
  await write(JSON.stringify(header));
  const verifier = new ChainVerifier(fromSeq - 1, first.prev_hash);
  let after = fromSeq - 1;
  while (after < toSeq) {
    const rows: AuditRow[] = await db('audit_events').where('seq', '>', after).andWhere('seq', '<=', toSeq).orderBy('seq').limit(BATCH).select('*');
    if (!rows.length) break;
    if (!verifier.feed(rows)) throw new Error(`the chain is broken at event ${verifier.fault!.id} (${verifier.fault!.kind}); nothing should be archived before this is investigated`);
    for (const r of rows) await write(JSON.stringify({ ...r, seq: Number(r.seq), outcome: Number(r.outcome) }));
    after = Number(rows[rows.length - 1].seq);
  }
  const fault = verifier.finish({ seq: toSeq, hash: last.hash });
  if (fault) throw new Error(`the chain is broken at event ${fault.id} (${fault.kind})`);
  return header;
}

/** Checks an archive file's lines: the header, every link, and the boundary hashes. */
export function verifyAuditArchive(lines: Iterable<string>): { valid: boolean; header?: ArchiveHeader; checked: number; problem?: string } {
  let header: ArchiveHeader | undefined;
  let verifier: ChainVerifier | undefined;
  for (const line of lines) {
    if (!line.trim()) continue;
    if (!header) {
      header = JSON.parse(line) as ArchiveHeader;
      if (header.format !== ARCHIVE_FORMAT) return { valid: false, checked: 0, problem: 'not an audit archive' };
      verifier = new ChainVerifier(header.fromSeq - 1, header.prevHash);
      continue;
    }
    if (!verifier!.feed([JSON.parse(line) as AuditRow])) {
      return { valid: false, header, checked: verifier!.checked, problem: `${verifier!.fault!.kind} at ${verifier!.fault!.id}` };
    }
  }
  if (!header || !verifier) return { valid: false, checked: 0, problem: 'empty file' };
  const fault = verifier.finish({ seq: header.toSeq, hash: header.lastHash });
  if (fault) return { valid: false, header, checked: verifier.checked, problem: `${fault.kind} at ${fault.id || 'the end'}` };
  return { valid: true, header, checked: verifier.checked };
}

/**
 * Removes archived events 1..header.toSeq from the database, after checking that the archive is the
 * database's own chain (its last hash is the stored hash at toSeq, its start is the current base)
 * and that every removed event is older than the retention period. Moves the chain base in the
 * same transaction, under the chain-head lock.
 */
export async function purgeArchivedEvents(db: Db, header: ArchiveHeader, opts: { retentionDays: number; now?: Date }): Promise<number> {
  const now = opts.now ?? new Date();
  const cutoff = new Date(now.getTime() - opts.retentionDays * 86_400_000).toISOString();
  return db.transaction(async (trx) => {
    await trx('audit_chain_head').where({ id: 1 }).update({ seq: trx.ref('seq') });
    const head = await trx('audit_chain_head').where({ id: 1 }).first();
    const baseSeq = Number(head.base_seq);
    if (header.fromSeq !== baseSeq + 1 || header.prevHash !== (baseSeq === 0 ? GENESIS_HASH : head.base_hash)) {
      throw new Error(`the archive must start right after the current base (seq ${baseSeq + 1})`);
    }
    const last = await trx('audit_events').where({ seq: header.toSeq }).first('hash', 'recorded');
    if (!last || last.hash !== header.lastHash) throw new Error('the archive does not end where the database chain does: not this database\'s events');
    const young = await trx('audit_events').where('seq', '<=', header.toSeq).andWhere('recorded', '>=', cutoff).first('id');
    if (young) throw new Error(`events in the range are younger than ${opts.retentionDays} days`);
    const removed = await trx('audit_events').where('seq', '<=', header.toSeq).delete();
    await trx('audit_chain_head').where({ id: 1 }).update({ base_seq: header.toSeq, base_hash: header.lastHash });
    return removed;
  });
}
