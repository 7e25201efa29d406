import type { Knex } from 'knex';
import type { Db } from '../storage/db';
import { ChainVerifier, endFault, GENESIS_HASH, linkRows, type AuditRow, type AuditRowContent, type ChainFault } from './hash-chain';
import { CHAIN_MOVED } from './migration';
import { prepared } from '../storage/prepared';

/**
 * The audit store on knex (SQLite and PostgreSQL alike): chained appends, verification, search and
 * read (API.md §7). No UPDATE or DELETE of events exists here, on purpose.
 */

const EVENTS = 'audit_events';
const HEAD = 'audit_chain_head';

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

/** every column of a stored row, in the order the INSERT binds them */
const ROW_COLUMNS = ['seq', 'id', 'recorded', 'request_id', 'patient_id', 'client_id', 'user_id', 'outcome', 'purpose', 'subtype', 'resource', 'prev_hash', 'hash'] as const;

/**
 * Rows per INSERT statement: a batch of n rows goes in as one statement of the smallest of these
 * sizes that holds it (beyond the largest, as several in one transaction), the unused rows bound
 * as NULL and dropped by the statement's WHERE. A few fixed statement texts rather than one per
 * batch size, so PostgreSQL prepares each once per connection (named statements, about 9 KB of
 * plan a row): planning a multi-row VALUES list costs about as much as executing it, per row.
 * One statement a commit, not a chain of smaller ones: every statement is on the latency of the
 * requests being audited (a commit of one statement runs it prepared, storage/prepared.ts: one
 * trip to SQLite's thread pool instead of three). 256 rows × 13
 * values stays far below every driver's limit on bound values.
 */
const STATEMENT_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256];
const MAX_STATEMENT = STATEMENT_SIZES[STATEMENT_SIZES.length - 1];
const insertSql = new Map<number, string>();
function insertStatement(size: number): string {
  let sql = insertSql.get(size);
  if (!sql) {
    // The first row's casts type the VALUES columns on PostgreSQL (a bound value is otherwise
    // text, which does not go into bigint); on SQLite they are no-ops for these values.
    const first = `(${ROW_COLUMNS.map((c) => (c === 'seq' ? 'cast(? as bigint)' : c === 'outcome' ? 'cast(? as integer)' : '?')).join(', ')})`;
    const row = `(${ROW_COLUMNS.map(() => '?').join(', ')})`;
    const values = [first, ...Array.from({ length: size - 1 }, () => row)].join(', ');
    sql = `insert into ${EVENTS} (${ROW_COLUMNS.join(', ')}) select * from (values ${values}) as v where column1 is not null`;
    insertSql.set(size, sql);
  }
  return sql;
}

/** the statements that store `n` rows: [first row, rows, statement size] of each */
function statementsFor(n: number): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let at = 0; at < n; ) {
    const rows = Math.min(MAX_STATEMENT, n - at);
    out.push([at, rows, STATEMENT_SIZES.find((s) => s >= rows)!]);
    at += rows;
  }
  return out;
}

/**
 * One INSERT of rows[at, at + count), written out rather than built by knex's query builder: the
 * builder costs more per row than the database does (and on SQLite writes a row per UNION ALL
 * SELECT). Named, so PostgreSQL keeps its plan; SQLite's driver ignores the name.
 */
function insertChunk(q: Knex | Knex.Transaction, rows: readonly AuditRow[], at: number, count: number, size: number): Promise<unknown> {
  const bindings = chunkBindings(rows, at, count, size);
  return q.raw(insertStatement(size), bindings).options({ name: `audit_events_insert_${size}` }).then(() => undefined);
}

/** The same INSERT as its own transaction, prepared once per connection (storage/prepared.ts): a commit's one statement. */
function insertPrepared(db: Db, rows: readonly AuditRow[], at: number, count: number, size: number): Promise<void> {
  return prepared(db, `audit_events_insert_${size}`, insertStatement(size)).run(chunkBindings(rows, at, count, size));
}

function chunkBindings(rows: readonly AuditRow[], at: number, count: number, size: number): Array<string | number | null> {
  const bindings: Array<string | number | null> = new Array(size * ROW_COLUMNS.length).fill(null);
  let k = 0;
  for (let i = at; i < at + count; i++) {
    const r = rows[i];
    for (const c of ROW_COLUMNS) bindings[k++] = r[c];
  }
  return bindings;
}

async function insertRows(q: Knex | Knex.Transaction, rows: readonly AuditRow[]): Promise<void> {
  for (const [at, count, size] of statementsFor(rows.length)) await insertChunk(q, rows, at, count, size);
}

const chainMoved = (e: unknown) => String((e as Error)?.message).includes(CHAIN_MOVED);

export interface AppendOptions {
  /**
   * `contents` already linked onto `expected` (by the caller, while an earlier commit ran):
   * used as they are when `expected` is still the head, instead of hashed again.
   */
  linked?: AuditRow[];
  /**
   * Skip the attempt without the lock: another writer appended lately, so rows linked onto the
   * head this writer knows would likely be refused (on PostgreSQL after waiting for that writer's
   * commit), for nothing.
   */
  contended?: boolean;
}

/**
 * Appends rows at the end of the chain; resolves once they are durable. The database moves the
 * chain head: a trigger (migration 006) checks that each row links onto the head and moves it, or
 * refuses the statement, so concurrent appenders (other connections, other gateway instances)
 * serialise on the head row and none can fork the chain.
 *
 * `expected` is the head this writer committed last. The rows are linked onto it beforehand and
 * stored without reading the head: one INSERT when the batch is one statement's size (atomic on
 * its own, and prepared once per connection: every statement is on the latency of the request
 * being audited), else the statements in one transaction. When another
 * instance appended in between, the trigger refuses the rows; the append then takes the head's
 * lock in a transaction (its row lock on PostgreSQL, the write lock on SQLite), reads it, and
 * links again.
 */
export async function appendRows(
  db: Db,
  contents: ReadonlyArray<Omit<AuditRowContent, 'seq'>>,
  expected?: { seq: number; hash: string },
  opts: AppendOptions = {},
): Promise<AuditRow[]> {
  return (await appendRowsReporting(db, contents, expected, opts)).rows;
}

/**
 * {@link appendRows}, saying how: `locked` whether the rows went in under the head's lock, `moved`
 * whether the head was then no longer `expected` (another writer had appended).
 */
export async function appendRowsReporting(
  db: Db,
  contents: ReadonlyArray<Omit<AuditRowContent, 'seq'>>,
  expected?: { seq: number; hash: string },
  opts: AppendOptions = {},
): Promise<{ rows: AuditRow[]; locked: boolean; moved: boolean }> {
  if (!contents.length) return { rows: [], locked: false, moved: false };
  const link = (head: { seq: number; hash: string }) => linkRows(head.seq, head.hash, contents as Omit<AuditRowContent, 'seq'>[]);
  const pre = opts.linked;
  // linked onto `expected` throughout: the first row onto it, the last where n rows from it end
  let linked: AuditRow[] | undefined =
    expected && pre?.length === contents.length && pre[0].seq === expected.seq + 1 && pre[0].prev_hash === expected.hash && pre[pre.length - 1].seq === expected.seq + pre.length
      ? pre
      : undefined;
  if (expected && !opts.contended) {
    linked ??= link(expected);
    const rows = linked;
    try {
      const statements = statementsFor(rows.length);
      if (statements.length === 1) await insertPrepared(db, rows, ...statements[0]);
      else await db.transaction((trx) => insertRows(trx, rows));
      return { rows, locked: false, moved: false };
    } catch (e) {
      if (!chainMoved(e)) throw e;
    }
  }
  return db.transaction(async (trx) => {
    const [locked] = await trx(HEAD).where({ id: 1 }).update({ seq: trx.ref('seq') }, HEAD_COLUMNS);
    const head = toHead(locked);
    const moved = expected !== undefined && (head.seq !== expected.seq || head.hash !== expected.hash);
    // rows already linked onto the head as it still is need no second hashing
    const rows = !moved && linked ? linked : link(head);
    await insertRows(trx, rows);
    return { rows, locked: true, moved };
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
 * Rows per verification read, and reads in flight while a batch is hashed: one more than SQLite's
 * reader connections (storage/db.ts), so a connection that finishes a read starts the next one at
 * once instead of when the walk gets to it. Small batches on purpose: rows waiting in memory
 * survive the young-generation collections and fill the old one (1,500 rows in flight cost 50 MB
 * more RSS and a third more CPU than 750; 4 × 125 ran a million rows faster than 3 × 250, in
 * some 8 MB less).
 */
const VERIFY_BATCH = 125;
const VERIFY_PREFETCH = 4;

/**
 * What verification reads of a row besides `resource`: every other column, put together by the
 * database into one text. A driver turns each column of each row into a JS value and sets it on
 * the row's object, which cost more main-thread time than the hashing (about 4 s of a million
 * rows' 9 on SQLite); one text and the resource cost a third of that, and splitting the text here
 * is cheap. Plain `||`, `case` and `cast(… as text)`, which SQLite and PostgreSQL read alike.
 *
 * The packing must give back each column's value exactly, or a forged row could pass for the one
 * it replaced. The text is a kind letter per column — `n` NULL, `s` text (an integer column's as
 * `cast` writes it), `x` a text column holding something else, a BLOB in SQLite, which no cast
 * shows — then every column's text, each after PACK_SEP; it splits into its columns exactly when
 * it holds one separator per column (a value holding the separator itself adds one). A row that
 * does not unpack into values as plain as a driver returns them — those, an `x`, an integer
 * column holding anything but an integer, a resource that is not text — sends its batch back to
 * being read column by column ({@link readRows}) and judged as ever, only slower. Genuine rows
 * never go there: the separator is a control character, which no stored value carries.
 */
const PACK_SEP = '\x1f';
const PACKED_COLUMNS = ['seq', 'id', 'recorded', 'request_id', 'patient_id', 'client_id', 'user_id', 'outcome', 'purpose', 'subtype', 'prev_hash', 'hash'] as const;
const INTEGER_COLUMNS: ReadonlySet<string> = new Set(['seq', 'outcome']);
const PACKED_SQL = [
  PACKED_COLUMNS.map((c) => (INTEGER_COLUMNS.has(c) ? `case when ${c} is null then 'n' else 's' end` : `case when ${c} is null then 'n' when ${c} = cast(${c} as text) then 's' else 'x' end`)).join(' || '),
  ...PACKED_COLUMNS.map((c) => (INTEGER_COLUMNS.has(c) ? `coalesce(cast(${c} as text), '')` : `coalesce(${c}, '')`)),
].join(` || '${PACK_SEP}' || `);
const ALL_TEXT = 's'.repeat(PACKED_COLUMNS.length);
/** an integer as `cast` writes it, short enough to be exact as a JS number */
const INTEGER_TEXT = /^-?[0-9]{1,15}$/;

/** one packed row as the stored row a driver would give, or undefined when it does not unpack exactly (see PACKED_SQL) */
function unpackRow(packed: string, resource: unknown): AuditRow | undefined {
  if (typeof resource !== 'string') return undefined;
  const v: Array<string | null> = packed.split(PACK_SEP);
  if (v.length !== PACKED_COLUMNS.length + 1) return undefined;
  const kinds = v[0]!;
  if (kinds !== ALL_TEXT) {
    if (kinds.length !== PACKED_COLUMNS.length) return undefined;
    for (let c = 0; c < kinds.length; c++) {
      const k = kinds.charCodeAt(c);
      if (k === 110 /* n */ && v[c + 1] === '') v[c + 1] = null;
      else if (k !== 115 /* s */) return undefined;
    }
  }
  const [, seq, id, recorded, request_id, patient_id, client_id, user_id, outcome, purpose, subtype, prev_hash, hash] = v;
  if (seq === null || !INTEGER_TEXT.test(seq) || (outcome !== null && !INTEGER_TEXT.test(outcome))) return undefined;
  if (id === null || recorded === null || subtype === null || prev_hash === null || hash === null) return undefined;
  return {
    seq: Number(seq),
    id,
    recorded,
    request_id,
    patient_id,
    client_id,
    user_id,
    outcome: outcome === null ? (null as unknown as number) : Number(outcome),
    purpose,
    subtype,
    resource,
    prev_hash,
    hash,
  };
}

/** rows (lo, hi] (the first `limit`) column by column, as a driver returns them: the reference the packed read must agree with */
const readRows = (db: Db, lo: number, hi: number, limit?: number): Promise<AuditRow[]> => {
  const q = db(EVENTS).where('seq', '>', lo).andWhere('seq', '<=', hi).orderBy('seq');
  return (limit === undefined ? q : q.limit(limit)).select([...ROW_COLUMNS]).then((rows: AuditRow[]) => rows);
};

/** rows (lo, hi] through the packed read; the range again column by column when a row does not unpack */
async function readPacked(db: Db, lo: number, hi: number): Promise<AuditRow[]> {
  const packed: Array<{ h: string; resource: unknown }> = await db(EVENTS)
    .where('seq', '>', lo)
    .andWhere('seq', '<=', hi)
    .orderBy('seq')
    .select(db.raw(`${PACKED_SQL} as h`), 'resource');
  const rows: AuditRow[] = new Array(packed.length);
  for (let i = 0; i < packed.length; i++) {
    const row = unpackRow(packed[i].h, packed[i].resource);
    if (!row) return readRows(db, lo, hi);
    rows[i] = row;
  }
  return rows;
}

/**
 * A stretch of the chain, verified on its own: the rows (lo, hi] from `baseHash`, the hash stored
 * at row lo. The stretches of one walk cover (base, head] end to end; every stretch but the last
 * also reads the first row after hi, so a link broken across two stretches, or rows missing at a
 * stretch's end, are seen exactly as one walk over the whole chain sees them.
 */
export interface ChainSpan {
  lo: number;
  hi: number;
  baseHash: string;
  last: boolean;
  /** the head the walk goes to: rows beyond it are appends since it began, no stretch's next row */
  headSeq: number;
}

/** What verifying a stretch found. */
export interface SpanResult {
  /** rows judged: the row after hi only when its link broke (it is the next stretch's first) */
  checked: number;
  fault?: ChainFault;
  /** the last row whose link held (the base when none did) */
  end: { seq: number; hash: string; id?: string };
  /** a stretch but the last with no row after it: the chain stops here */
  stops: boolean;
  /** the hash at each asked-for seq among the rows whose links held */
  heads: Array<[number, string]>;
}

export interface SpanOptions {
  batchSize?: number;
  /** seqs whose stored hash the caller wants (the checkpoints' heads), ascending */
  heads?: readonly number[];
  /**
   * 'packed' for the sqlite3 and pg drivers, whose per-column cost the packing saves; 'columns'
   * where a column costs little (better-sqlite3 in a verification helper, verify-helpers.ts)
   */
  read?: 'packed' | 'columns';
}

/**
 * Walks one stretch in batches of `batchSize` rows by seq, so memory stays bounded whatever its
 * length. Each batch is a range of seq, (lo, lo + batchSize], not "the next rows after the last
 * one read", so the next few batches are read while this one is hashed, on as many connections
 * (SQLite's reader connections, PostgreSQL's pool): the driver's read and row building overlap
 * the hashing instead of waiting for it. A range with rows missing is no different from the
 * walk's view: the verifier sees the seq gap.
 */
export async function verifySpan(db: Db, span: ChainSpan, opts: SpanOptions = {}): Promise<SpanResult> {
  const batchSize = opts.batchSize ?? VERIFY_BATCH;
  const read = opts.read === 'columns' ? readRows : readPacked;
  const wanted = opts.heads ?? [];
  let w = 0;
  while (w < wanted.length && wanted[w] <= span.lo) w++;
  const heads: Array<[number, string]> = [];
  const verifier = new ChainVerifier(span.lo, span.baseHash);
  const inFlight: Array<Promise<AuditRow[]>> = [];
  let nextLo = span.lo;
  const prefetch = () => {
    while (inFlight.length < VERIFY_PREFETCH && nextLo < span.hi) {
      const lo = nextLo;
      const hi = Math.min(lo + batchSize, span.hi);
      nextLo = hi;
      const rows = read(db, lo, hi);
      // a read left behind by an early stop must not surface as an unhandled rejection
      rows.catch(() => undefined);
      inFlight.push(rows);
    }
  };
  const feed = (rows: AuditRow[]): boolean => {
    const intact = verifier.feed(rows);
    const upTo = verifier.position.seq;
    for (const r of rows) {
      const seq = Number(r.seq);
      if (seq > upTo || w >= wanted.length) break;
      while (w < wanted.length && wanted[w] < seq) w++;
      if (wanted[w] === seq) heads.push([seq, r.hash]);
    }
    return intact;
  };
  prefetch();
  let intact = true;
  while (intact && inFlight.length) {
    const rows = await inFlight.shift()!;
    prefetch();
    intact = feed(rows);
  }
  await Promise.allSettled(inFlight);
  const position = verifier.position;
  let stops = false;
  let checked = verifier.checked;
  if (intact && !span.last) {
    // the next stretch's first row, judged here only for its link to this one's last
    const after = await readRows(db, span.hi, span.headSeq, 1);
    if (!after.length) stops = true;
    else if (!verifier.feed(after)) checked++;
  }
  return {
    checked,
    ...(verifier.fault ? { fault: verifier.fault } : {}),
    end: { seq: position.seq, hash: position.hash, ...(position.id !== undefined ? { id: position.id } : {}) },
    stops,
    heads,
  };
}

/** How a walk may be shared out: to helper processes, each verifying a stretch (verify-helpers.ts). */
export type SpanRunner = (spans: ChainSpan[], opts: SpanOptions) => Promise<SpanResult[]>;

export interface VerifyOptions extends Pick<SpanOptions, 'batchSize' | 'heads'> {
  /**
   * Verifies several stretches at once; without it, or for a chain too short to be worth
   * sharing out, the walk is one stretch here.
   */
  parallel?: { run: SpanRunner; stretches: number; minRows: number };
}

export interface ChainVerification extends VerifyResult {
  /** the last seq whose link held */
  reached: number;
  /** the hash at each of `heads` up to `reached` */
  heads: ReadonlyMap<number, string>;
}

/**
 * Walks the chain from the archive base to the head. Rows committed after the walk began are
 * left for the next run; rows the head does not account for are reported as inserted. A long
 * chain may be cut into stretches verified at once (`parallel`): the answer is the one walk's,
 * the first broken link by seq, and the rows judged up to it.
 */
export async function verifyChain(db: Db, opts: VerifyOptions = {}): Promise<ChainVerification> {
  const head = await readHead(db);
  const base = { seq: head.baseSeq, hash: head.baseHash };
  const result = (checked: number, reached: number, heads: ReadonlyMap<number, string>, fault?: ChainFault): ChainVerification => ({
    valid: !fault,
    checked,
    ...(fault ? { fault } : {}),
    head: { seq: head.seq, hash: head.hash },
    base,
    reached,
    heads,
  });
  // nothing may sit at or below the archive base
  const stale = await db(EVENTS).where('seq', '<=', head.baseSeq).orderBy('seq').first('id', 'seq');
  if (stale) return result(0, head.baseSeq, new Map(), { id: stale.id, seq: Number(stale.seq), kind: 'inserted' });

  const spanOpts: SpanOptions = { batchSize: opts.batchSize, heads: opts.heads ? [...opts.heads].sort((a, b) => a - b) : undefined };
  const spans = await cutSpans(db, head, opts.parallel);
  const results = spans.length > 1 ? await opts.parallel!.run(spans, spanOpts) : [await verifySpan(db, spans[0], spanOpts)];

  // the stretches read as one walk: up to the first that broke, or stopped, or does not follow on
  const heads = new Map<number, string>();
  let checked = 0;
  let end: SpanResult['end'] = { seq: base.seq, hash: base.hash };
  let lastId: string | undefined;
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i];
    const r = results[i];
    if (span.lo !== end.seq || span.baseHash !== end.hash) {
      // the row the stretch began from changed while the walk went on
      return result(checked, end.seq, heads, { id: lastId ?? '', seq: span.lo, kind: 'edited' });
    }
    checked += r.checked;
    for (const [seq, hash] of r.heads) heads.set(seq, hash);
    if (r.end.id !== undefined) lastId = r.end.id;
    end = r.end;
    if (r.fault) return result(checked, end.seq, heads, r.fault);
    // a stretch that stops ends the chain short of the head, as one walk would find it
    if (r.stops) break;
  }
  const short = endFault({ ...end, id: lastId }, head);
  if (short) return result(checked, end.seq, heads, short);
  // Rows beyond the head: read the max first, the head second, so an append that commits in
  // between only moves the head past the max and never looks like an insertion.
  const max = await db(EVENTS).max({ m: 'seq' }).first();
  const current = await readHead(db);
  if (max && max.m !== null && Number(max.m) > current.seq) {
    const extra = await db(EVENTS).where('seq', '>', current.seq).orderBy('seq').first('id', 'seq');
    if (extra) return result(checked, end.seq, heads, { id: extra.id, seq: Number(extra.seq), kind: 'inserted' });
  }
  return result(checked, end.seq, heads);
}

/**
 * (base, head] as one stretch, or, for a chain of at least `minRows`, as `stretches` of equal
 * length, each beginning from the hash stored at its lo. A stretch whose lo row is missing gets
 * no base hash: the stretch before it then breaks at that row, and the walk stops there.
 */
async function cutSpans(db: Db, head: ChainHead, parallel: VerifyOptions['parallel']): Promise<ChainSpan[]> {
  const rows = head.seq - head.baseSeq;
  const n = parallel && parallel.stretches > 1 && rows >= Math.max(2, parallel.minRows) ? Math.min(parallel.stretches, rows) : 1;
  const los = Array.from({ length: n }, (_, i) => head.baseSeq + Math.floor((rows * i) / n));
  const stored = new Map<number, string>();
  if (n > 1) {
    const found: Array<{ seq: number | string; hash: string }> = await db(EVENTS).whereIn('seq', los.slice(1)).select('seq', 'hash');
    for (const f of found) stored.set(Number(f.seq), f.hash);
  }
  return los.map((lo, i) => ({
    lo,
    hi: i + 1 < n ? los[i + 1] : head.seq,
    baseHash: i === 0 ? head.baseHash : stored.get(lo) ?? '',
    last: i + 1 === n,
    headSeq: head.seq,
  }));
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
