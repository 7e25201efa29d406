import { appendRows } from '../../../../gateway/audit/audit-store';
import { closeReader, createDb, createReader } from '../../../../gateway/storage/db';
import { testDatabases, type TestDb } from '../../../support/databases';

/**
 * The read connections beside the writer (storage/db.ts createReader): on a SQLite file a pool of
 * its own that sees every committed write, refuses writes, and answers while the writer holds a
 * transaction open; on PostgreSQL (and in-memory SQLite) the writer itself.
 */
describe.each(testDatabases())('reader beside the writer on %s', (name, open) => {
  let t: TestDb;
  beforeEach(async () => {
    t = await open();
  });
  afterEach(async () => {
    await t.close();
  });

  const consentRow = (id: string) => ({
    id,
    patient_id: 'rp-1',
    status: 'active',
    version_id: 1,
    organization: null,
    resource: JSON.stringify({ resourceType: 'Consent', id }),
    updated_at: '2026-11-29T00:00:00Z',
  });

  if (name === 'postgres') {
    test('is the writer itself: its pool already reads in parallel', async () => {
      const reader = createReader(t.db);
      expect(reader).toBe(t.db);
      await closeReader(reader, t.db); // leaves the writer open
      expect(Number((await t.db('consents').count({ n: '*' }).first())!.n)).toBe(0);
    });
    return;
  }

  test('sees what the writer committed, from the next statement on', async () => {
    const reader = createReader(t.db);
    try {
      expect(reader).not.toBe(t.db);
      expect(await reader('consents').where({ patient_id: 'rp-1' })).toEqual([]);
      await t.db('consents').insert(consentRow('c1'));
      expect((await reader('consents').where({ patient_id: 'rp-1' })).map((r) => r.id)).toEqual(['c1']);
      await t.db('consents').where({ id: 'c1' }).update({ status: 'inactive' });
      expect(await reader('consents').where({ patient_id: 'rp-1', status: 'active' })).toEqual([]);
    } finally {
      await closeReader(reader, t.db);
    }
  });

  test('refuses writes: a write sent to the reader by mistake fails and stores nothing', async () => {
    const reader = createReader(t.db);
    try {
      await expect(reader('consents').insert(consentRow('c2'))).rejects.toThrow(/readonly|read-only|query_only/i);
      expect(await t.db('consents').where({ id: 'c2' })).toEqual([]);
    } finally {
      await closeReader(reader, t.db);
    }
  });

  test('answers while the writer holds a write transaction open, with the last committed state', async () => {
    await t.db('consents').insert(consentRow('c3'));
    const reader = createReader(t.db);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let inTransaction!: () => void;
    const started = new Promise<void>((r) => (inTransaction = r));
    const writing = t.db.transaction(async (trx) => {
      await trx('consents').where({ id: 'c3' }).update({ status: 'inactive' });
      inTransaction();
      await held;
    });
    try {
      await started;
      // the writer's one connection is taken; the reader is not queued behind it
      const rows = await reader('consents').where({ id: 'c3' }).first('status');
      expect(rows.status).toBe('active');
    } finally {
      release();
      await writing;
      await closeReader(reader, t.db);
    }
    expect((await t.db('consents').where({ id: 'c3' }).first('status')).status).toBe('inactive');
  });

  test('an in-memory database cannot be shared: the reader is the writer', async () => {
    const mem = createDb({ client: 'sqlite3', connection: { filename: ':memory:' } });
    try {
      expect(createReader(mem)).toBe(mem);
    } finally {
      await mem.destroy();
    }
  });

  test('audit appends go on while auditors read', async () => {
    const reader = createReader(t.db);
    try {
      const row = (i: number) => ({
        id: `e${i}`,
        recorded: '2026-11-29T00:00:00.000Z',
        request_id: `r${i}`,
        patient_id: 'rp-1',
        client_id: 'c',
        user_id: 'u',
        outcome: 0,
        purpose: 'TREAT',
        subtype: 'search-type',
        resource: '{}',
      });
      await Promise.all([
        ...Array.from({ length: 20 }, (_, i) => appendRows(t.db, [row(i)])),
        ...Array.from({ length: 20 }, () => reader('audit_events').count({ n: '*' })),
      ]);
      expect(Number((await reader('audit_events').count({ n: '*' }).first())!.n)).toBe(20);
    } finally {
      await closeReader(reader, t.db);
    }
  });
});
