import { appendRows, verifyChain, verifySpan, type SpanRunner } from '../../../../gateway/audit/audit-store';
import { ChainVerifier, storedJson, type AuditRow, type AuditRowContent } from '../../../../gateway/audit/hash-chain';
import { dropChainTrigger } from '../../../../gateway/audit/migration';
import type { Db } from '../../../../gateway/storage/db';
import { isSqlite } from '../../../../gateway/storage/migration';
import { testDatabases, type TestDb } from '../../../support/databases';

/**
 * `$verify` reads every column but the resource packed by the database into one text per row
 * (audit-store.ts, PACKED_SQL) and unpacks it. Its verdict must be the one of reading the rows
 * column by column, whatever the rows hold: odd values that genuine rows may carry, and what an
 * intruder may write — a value holding the separator, a BLOB or a REAL where text or an integer
 * belongs. Each case is judged both ways here and the answers compared, down to the rows the
 * checkpoints see.
 */

/** the reference: every row as the driver gives it, judged in one go */
async function columnByColumn(db: Db): Promise<{ valid: boolean; checked: number; fault?: unknown; seen: Array<[number, string]> }> {
  const head = await db('audit_chain_head').where({ id: 1 }).first('seq', 'hash', 'base_seq', 'base_hash');
  // up to the head, as a walk goes: a row beyond it is an append since the walk began
  const rows: AuditRow[] = await db('audit_events').where('seq', '<=', head.seq).orderBy('seq').select('*');
  const v = new ChainVerifier(Number(head.base_seq), head.base_hash);
  v.feed(rows);
  const upTo = v.position.seq;
  const seen = rows.filter((r) => Number(r.seq) <= upTo).map((r): [number, string] => [Number(r.seq), r.hash]);
  const fault = v.finish({ seq: Number(head.seq), hash: head.hash });
  return { valid: !fault, checked: v.checked, ...(fault ? { fault } : {}), seen };
}

/**
 * The stretches a helper process verifies (verify-helpers.ts), verified here: the same function,
 * reading column by column as a helper does, so every case below is judged cut into stretches
 * too, their borders on the rows changed. That helpers run it in processes is verify-helpers.test.ts.
 */
const stretchesHere = (db: Db): SpanRunner => (spans, opts) => Promise.all(spans.map((span) => verifySpan(db, span, { ...opts, read: 'columns' })));

/** verifyChain's answer, the hashes it gave for every row's seq, and how it read them */
async function packed(db: Db, batchSize?: number, stretches = 1) {
  const sql: string[] = [];
  const onQuery = (q: { sql: string }) => sql.push(q.sql);
  const everySeq: number[] = (await db('audit_events').orderBy('seq').pluck('seq')).map(Number);
  db.on('query', onQuery);
  try {
    const parallel = stretches > 1 ? { run: stretchesHere(db), stretches, minRows: 1 } : undefined;
    const r = await verifyChain(db, { batchSize, heads: everySeq, parallel });
    const seen = [...r.heads].sort((a, b) => a[0] - b[0]);
    expect(r.reached).toBe(r.fault ? Math.max(r.base.seq, ...seen.map(([seq]) => seq)) : r.head.seq);
    const reads = sql.filter((s) => /from .audit_events. where .seq. > (\?|\$\d+) and .seq. <=/.test(s));
    return {
      answer: { valid: r.valid, checked: r.checked, ...(r.fault ? { fault: r.fault } : {}), seen },
      packedReads: reads.filter((s) => s.includes(' as h')).length,
      columnReads: reads.filter((s) => !s.includes(' as h')).length,
    };
  } finally {
    db.removeListener('query', onQuery);
  }
}

const SEP = '\x1f';

const row = (i: number, over: Partial<AuditRowContent> = {}): Omit<AuditRowContent, 'seq'> => ({
  id: `ae-${i}`,
  recorded: `2025-03-01T08:00:${String(i % 60).padStart(2, '0')}.000Z`,
  request_id: `r-${i}`,
  patient_id: `p${i}`,
  client_id: 'xm-zsh-his',
  user_id: 'D1029',
  outcome: 0,
  purpose: 'TREAT',
  subtype: 'search-type',
  resource: storedJson({ resourceType: 'AuditEvent', id: `ae-${i}` }),
  ...over,
});

/** values genuine rows may hold that a packing could get wrong: quotes, escapes, empty text against NULL, non-ASCII */
const odd: Array<Partial<AuditRowContent>> = [
  { request_id: 'a"b\\c', patient_id: null, purpose: null },
  { request_id: '', patient_id: '', client_id: '', user_id: '' },
  { request_id: 'n', patient_id: 's', client_id: 'x', user_id: 'null' },
  { user_id: '林医生😀', client_id: 'é\u2028\u2029' },
  { request_id: 'line\nbreak\ttab\u0001ctl', user_id: null },
  { resource: '{"name":"林医生","emoji":"😀"}' }, // non-ASCII, as stored before storedJson escaped it
  { outcome: 12, subtype: '$verify' },
  { request_id: null, patient_id: null, client_id: null, user_id: null, purpose: null },
];

describe.each(testDatabases())('$verify reading packed rows on %s', (name, open) => {
  let t: TestDb;
  const N = 40;
  beforeEach(async () => {
    t = await open();
    await appendRows(t.db, Array.from({ length: N }, (_, i) => row(i + 1, odd[i % odd.length])));
  });
  afterEach(async () => {
    await t.close();
  });

  const expectSameVerdict = async (expected: { valid: boolean; kind?: string; seq?: number }) => {
    const reference = await columnByColumn(t.db);
    for (const batch of [undefined, 1, 7]) {
      const got = await packed(t.db, batch);
      expect(got.answer).toEqual(reference);
    }
    // cut at 10, 20, 30 and at every fifth row: the changes below sit on and beside the borders
    for (const stretches of [4, 8]) {
      const got = await packed(t.db, 3, stretches);
      expect(got.answer).toEqual(reference);
    }
    expect(reference).toMatchObject({ valid: expected.valid, ...(expected.kind ? { fault: { kind: expected.kind, seq: expected.seq } } : {}) });
    return reference;
  };

  test('odd genuine values verify, through the packed read alone', async () => {
    const reference = await expectSameVerdict({ valid: true });
    expect(reference.checked).toBe(N);
    const got = await packed(t.db, 7);
    expect(got.columnReads).toBe(0);
    expect(got.packedReads).toBe(Math.ceil(N / 7));
  });

  test('a genuine value holding the separator: its batch is read column by column, and verifies', async () => {
    await appendRows(t.db, [row(N + 1, { request_id: `a${SEP}b`, user_id: SEP })]);
    await expectSameVerdict({ valid: true });
    const got = await packed(t.db, 7);
    expect(got.columnReads).toBe(1);
  });

  test.each<[string, Record<string, unknown>]>([
    ['a column edited to hold the separator', { patient_id: `p9${SEP}sp9` }],
    ['a value moved into its neighbour across the separator', { request_id: `r-9${SEP}p9`, patient_id: null }],
    ['an index column emptied (not NULL)', { patient_id: '' }],
    ['an empty column made NULL', { request_id: null }],
    ['a NULL column made "null"', { purpose: 'null' }],
    ['the outcome changed', { outcome: 4 }],
  ])('%s is found as before', async (_name, change) => {
    await t.db('audit_events').where({ seq: 9 }).update(change);
    await expectSameVerdict({ valid: false, kind: 'edited', seq: 9 });
  });

  test('a row forged so that its packed text, split at its first separators, reads as the original', async () => {
    // every column from purpose on moved one along, the hash dropped off the end
    const r = await t.db('audit_events').where({ seq: 10 }).first('purpose', 'subtype', 'prev_hash', 'hash');
    await t.db('audit_events')
      .where({ seq: 10 })
      .update({ purpose: `${r.purpose}${SEP}${r.subtype}`, subtype: r.prev_hash, prev_hash: r.hash, hash: 'f'.repeat(64) });
    await expectSameVerdict({ valid: false, kind: 'relinked', seq: 10 });
  });

  test('rows deleted, relinked and inserted are found as before', async () => {
    await dropChainTrigger(t.db);
    await t.db('audit_events').where({ seq: 5 }).delete();
    await expectSameVerdict({ valid: false, kind: 'deleted', seq: 6 });
    const r = await t.db('audit_events').where({ seq: 4 }).first();
    await t.db('audit_events').insert({ ...r, seq: 5, id: 'forged' });
    await expectSameVerdict({ valid: false, kind: 'relinked', seq: 5 });
  });

  test.each<[string, number, number, { kind: string; seq: number }, boolean]>([
    ['a whole stretch of the cut deleted', 11, 20, { kind: 'deleted', seq: 21 }, false],
    ['the rows from a border on deleted', 21, 25, { kind: 'deleted', seq: 26 }, false],
    ['the last stretch deleted', 31, 40, { kind: 'deleted', seq: 30 }, false],
    ['the tail deleted across two stretches', 25, 40, { kind: 'deleted', seq: 24 }, false],
    // an append after the walk began, or a forged row, lies beyond the head: no stretch's next row
    ['the tail deleted across two stretches, a row beyond the head', 25, 40, { kind: 'deleted', seq: 24 }, true],
  ])('%s is found as one walk finds it', async (_name, from, to, fault, beyondHead) => {
    await dropChainTrigger(t.db);
    if (beyondHead) {
      const last = await t.db('audit_events').where({ seq: N }).first();
      await t.db('audit_events').insert({ ...last, seq: N + 5, id: 'beyond' });
    }
    await t.db('audit_events').where('seq', '>=', from).andWhere('seq', '<=', to).delete();
    const reference = await expectSameVerdict({ valid: false, ...fault });
    if (fault.seq < from) expect(reference.fault).toMatchObject({ id: `ae-${fault.seq}` });
  });

  test('an empty chain verifies, however it is cut', async () => {
    const empty = await open();
    try {
      for (const minRows of [0, 1]) {
        const r = await verifyChain(empty.db, { parallel: { run: stretchesHere(empty.db), stretches: 4, minRows } });
        expect(r).toMatchObject({ valid: true, checked: 0, reached: 0 });
      }
    } finally {
      await empty.close();
    }
  });

  // What only SQLite can hold: its columns take any value of any type.
  const sqliteOnly = name === 'sqlite' ? test.each : test.skip.each;
  sqliteOnly<[string, number, (r: AuditRow) => Record<string, unknown>, boolean]>([
    ['a text column holding its own bytes as a BLOB', 9, (r) => ({ client_id: Buffer.from(r.client_id!) }), false],
    ['the resource holding its own bytes as a BLOB', 9, (r) => ({ resource: Buffer.from(r.resource) }), true],
    // SQLite before 3.43 or so cast a REAL to text with 15 digits: 12.000000000000002 as "12.0"
    ['the outcome holding a REAL next to its integer', 7, () => ({ outcome: 12.000000000000002 }), false],
    ['the outcome holding text', 9, () => ({ outcome: 'abc' }), false],
    ['the outcome holding its digit as a BLOB', 9, () => ({ outcome: Buffer.from('0') }), true],
  ])('%s: the same verdict as column by column', async (_name, seq, change, valid) => {
    expect(isSqlite(t.db)).toBe(true);
    const r: AuditRow = await t.db('audit_events').where({ seq }).first();
    await t.db('audit_events').where({ seq }).update(change(r));
    await expectSameVerdict(valid ? { valid: true } : { valid: false, kind: 'edited', seq });
  });
});
