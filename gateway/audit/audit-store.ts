import type { Knex } from 'knex';
import type { Db } from '../storage/db';
import { ChainVerifier, GENESIS_HASH, linkRows, type AuditRow, type AuditRowContent, type ChainFault } from './hash-chain';
import { CHAIN_MOVED } from './migration';

/**
 * The audit store on knex (SQLite and PostgreSQL alike): chained appends, verification, search and
 * read (API.md §7). No UPDATE or DELETE of events exists here, on purpose.
 */

const EVENTS = 'audit_events';
const HEAD = 'audit_chain_head';
/** rows per INSERT statement: 13 bound values a row stays far below every driver's limit */
const INSERT_CHUNK = 500;

export interface ChainHead {
  seq: number;
  hash: string;
  baseSeq: number;
  baseHash: string;
}

const HEAD_COLUMNS = ['seq', 'hash', 'base_seq', 'base_hash'];

function toHead(row: { seq: number | string; hash: string; base_seq: number | string; base_hash: string } | undefined): ChainHead {
  if (!row) return { seq: 0, hash: GENESIS_HASH, baseSeq: 0, baseHash: GENESIS_HASH };
  return { seq: Number(row.seq), hash: row.hash, baseSeq: Number(row.base_seq), baseHash: row.base_hash };
}

async function readHead(q: Knex | Knex.Transaction): Promise<ChainHead> {
  return toHead(await q(HEAD).where({ id: 1 }).first(HEAD_COLUMNS));
}

/**
 * Appends rows at the end of the chain; resolves once they are durable. The database moves the
 * chain head: a trigger (migration 006) checks that each row links onto the head and moves it, or
 * refuses the statement, so concurrent appenders (other connections, other gateway instances)
 * serialise on the head row and none can fork the chain.
 *
 * `expected` is the head this writer committed last. The rows are linked onto it beforehand and
 * stored with one INSERT, atomic on its own: every statement is on the latency of the request
 * being audited (SQLite's driver spends two thread-pool hops on each). When another instance
 * appended in between, the trigger refuses the INSERT; the append then takes the head's lock in a
 * transaction (its row lock on PostgreSQL, the write lock on SQLite), reads it, and links again.
 */
export async function appendRows(
  db: Db,
  contents: ReadonlyArray<Omit<AuditRowContent, 'seq'>>,
  expected?: { seq: number; hash: string },
): Promise<AuditRow[]> {
  if (!contents.length) return [];
  const link = (head: { seq: number; hash: string }) => linkRows(head.seq, head.hash, contents as Omit<AuditRowContent, 'seq'>[]);
  if (expected && contents.length <= INSERT_CHUNK) {
    const rows = link(expected);
    try {
      await db(EVENTS).insert(rows);
      return rows;
    } catch (e) {
      if (!String((e as Error)?.message).includes(CHAIN_MOVED)) throw e;
    }
  }
  return db.transaction(async (trx) => {
    const [locked] = await trx(HEAD).where({ id: 1 }).update({ seq: trx.ref('seq') }, HEAD_COLUMNS);
    const rows = link(toHead(locked));
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      await trx(EVENTS).insert(rows.slice(i, i + INSERT_CHUNK));
    }
    return rows;
  });
}

export interface VerifyResult {
  valid: boolean;
  checked: number;
  fault?: ChainFault;
  head: { seq: number; hash: string };
  /** where the walk started: the archive base */
  base: { seq: number; hash: string };
}

/**
 * Walks the chain from the archive base to the head in batches of `batchSize` rows by seq, so
 * memory stays bounded whatever the table size. Rows committed after the walk began are left for
 * the next run; rows the head does not account for are reported as inserted.
 */
export async function verifyChain(
  db: Db,
  opts: {
    batchSize?: number;
    /** sees every row whose link held, in order (the checkpoints' heads are checked against them) */
    observe?: (row: AuditRow) => void;
  } = {},
): Promise<VerifyResult> {
  const batchSize = opts.batchSize ?? 500;
  const head = await readHead(db);
  const verifier = new ChainVerifier(head.baseSeq, head.baseHash);
  const result = (fault?: ChainFault): VerifyResult => ({
    valid: !fault,
    checked: verifier.checked,
    ...(fault ? { fault } : {}),
    head: { seq: head.seq, hash: head.hash },
    base: { seq: head.baseSeq, hash: head.baseHash },
  });
  // nothing may sit at or below the archive base
  const stale = await db(EVENTS).where('seq', '<=', head.baseSeq).orderBy('seq').first('id', 'seq');
  if (stale) return result({ id: stale.id, seq: Number(stale.seq), kind: 'inserted' });
  // The next batch is fetched while this one is hashed (the driver reads in its own thread).
  const fetch = (after: number): Promise<AuditRow[]> =>
    db(EVENTS).where('seq', '>', after).andWhere('seq', '<=', head.seq).orderBy('seq').limit(batchSize).select('*');
  let pending: Promise<AuditRow[]> | undefined = head.baseSeq < head.seq ? fetch(head.baseSeq) : undefined;
  while (pending) {
    const rows: AuditRow[] = await pending;
    pending = undefined;
    if (!rows.length) break;
    const last = Number(rows[rows.length - 1].seq);
    if (last < head.seq) pending = fetch(last);
    const intact = verifier.feed(rows);
    if (opts.observe) {
      const upTo = verifier.position.seq;
      for (const r of rows) {
        if (Number(r.seq) > upTo) break;
        opts.observe(r);
      }
    }
    if (!intact) break;
  }
  // a prefetch left behind by an early stop must not surface as an unhandled rejection
  if (pending) await pending.catch(() => undefined);
  const fault = verifier.finish(head);
  if (fault) return result(fault);
  // Rows beyond the head: read the max first, the head second, so an append that commits in
  // between only moves the head past the max and never looks like an insertion.
  const max = await db(EVENTS).max({ m: 'seq' }).first();
  const current = await readHead(db);
  if (max && max.m !== null && Number(max.m) > current.seq) {
    const extra = await db(EVENTS).where('seq', '>', current.seq).orderBy('seq').first('id', 'seq');
    if (extra) return result({ id: extra.id, seq: Number(extra.seq), kind: 'inserted' });
  }
  return result();
}

/** A FHIR date bound on `recorded` (ISO instants compare as strings: one format, always UTC). */
export type DateClause =
  | { op: 'ge' | 'gt' | 'le' | 'lt'; value: string }
  | { op: 'range'; start: string; end: string } // start ≤ recorded < end
  | { op: 'outside'; start: string; end: string }; // recorded < start or ≥ end

export interface AuditQuery {
  patients?: string[];
  /** a person's subject id or a client id */
  agents?: string[];
  dates?: DateClause[];
  outcomes?: number[];
  purposes?: string[];
  subtypes?: string[];
  requestIds?: string[];
  count: number;
  /** keyset: only events with seq below this (the previous page's last seq) */
  before?: number;
}

export interface AuditPage {
  events: Array<{ seq: number; resource: Record<string, unknown> }>;
  /** the cursor for the next page, when there is one */
  next?: number;
}

function applyFilters(q: Knex.QueryBuilder, query: AuditQuery): Knex.QueryBuilder {
  if (query.patients?.length) q.whereIn('patient_id', query.patients);
  if (query.outcomes?.length) q.whereIn('outcome', query.outcomes);
  if (query.purposes?.length) q.whereIn('purpose', query.purposes);
  if (query.subtypes?.length) q.whereIn('subtype', query.subtypes);
  if (query.requestIds?.length) q.whereIn('request_id', query.requestIds);
  for (const d of query.dates ?? []) {
    if (d.op === 'range') q.where('recorded', '>=', d.start).andWhere('recorded', '<', d.end);
    else if (d.op === 'outside') q.where((w) => w.where('recorded', '<', d.start).orWhere('recorded', '>=', d.end));
    else q.where('recorded', { ge: '>=', gt: '>', le: '<=', lt: '<' }[d.op], d.value);
  }
  if (query.before !== undefined) q.where('seq', '<', query.before);
  return q.orderBy('seq', 'desc').limit(query.count + 1);
}

/**
 * One page of events, newest first. `agent` matches the person or the client: two index range
 * scans (client_id, seq) and (user_id, seq) merged here, rather than one OR the planner may
 * answer with a full scan.
 */
export async function searchEvents(db: Db, query: AuditQuery): Promise<AuditPage> {
  const select = () => db(EVENTS).select('seq', 'resource');
  let rows: Array<{ seq: number | string; resource: string }>;
  if (query.agents?.length) {
    const [byClient, byUser] = await Promise.all([
      applyFilters(select().whereIn('client_id', query.agents), query),
      applyFilters(select().whereIn('user_id', query.agents), query),
    ]);
    const seen = new Map<number, { seq: number | string; resource: string }>();
    for (const r of [...byClient, ...byUser]) seen.set(Number(r.seq), r);
    rows = [...seen.values()].sort((a, b) => Number(b.seq) - Number(a.seq)).slice(0, query.count + 1);
  } else {
    rows = await applyFilters(select(), query);
  }
  const page = rows.slice(0, query.count).map((r) => ({ seq: Number(r.seq), resource: JSON.parse(r.resource) }));
  return {
    events: page,
    ...(rows.length > query.count && page.length ? { next: page[page.length - 1].seq } : {}),
  };
}

/** One event by id, or undefined. */
export async function readEvent(db: Db, id: string): Promise<{ resource: Record<string, unknown>; patientId: string | null } | undefined> {
  const row = await db(EVENTS).where({ id }).first('resource', 'patient_id');
  return row ? { resource: JSON.parse(row.resource), patientId: row.patient_id } : undefined;
}

/** The chain head, for archiving and reports. */
export const chainHead = (db: Db): Promise<ChainHead> => readHead(db);
