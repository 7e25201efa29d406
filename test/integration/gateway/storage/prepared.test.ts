import { existsSync } from 'node:fs';
import { closeReader, createDb, createReader } from '../../../../gateway/storage/db';
import { isSqlite } from '../../../../gateway/storage/migration';
import { prepared } from '../../../../gateway/storage/prepared';
import { consentEpochReader, advanceConsentEpoch } from '../../../../consent/consent-epoch';
import { testDatabases, type TestDb } from '../../../support/databases';

/**
 * Statements prepared once per connection (storage/prepared.ts): the consent epoch read through
 * the pool of the reader beside the writer, the audit INSERT through the writer's. A read must
 * never answer from an old snapshot nor keep a read transaction open, a statement that fails must
 * not stay broken, and a connection with statements must still close cleanly.
 */
describe.each(testDatabases())('prepared statements on %s', (name, open) => {
  let t: TestDb;
  beforeEach(async () => {
    t = await open();
  });
  afterEach(async () => {
    await t.close();
  });

  test('sees every change the writer committed, at the next read', async () => {
    const reader = createReader(t.db);
    try {
      const epoch = consentEpochReader(reader);
      const start = await epoch();
      expect(Number.isInteger(start)).toBe(true);
      for (let i = 1; i <= 5; i++) {
        await advanceConsentEpoch(t.db);
        // read a few times between changes, so every connection of the pool has its statement
        for (let k = 0; k < 3; k++) expect(await epoch()).toBe(start + i);
      }
    } finally {
      await closeReader(reader, t.db);
    }
  });

  test('answers many reads at once, each with the committed value', async () => {
    const reader = createReader(t.db);
    try {
      const epoch = consentEpochReader(reader);
      const before = await epoch();
      await advanceConsentEpoch(t.db);
      const all = await Promise.all(Array.from({ length: 40 }, () => epoch()));
      expect(new Set(all)).toEqual(new Set([before + 1]));
    } finally {
      await closeReader(reader, t.db);
    }
  });

  test('a table that is missing is an error for the caller, and the statement is made again once it exists', async () => {
    const probe = prepared(t.db, 'xzq_test_missing', 'SELECT v FROM prepared_read_probe WHERE id = 1');
    const read = () => probe.first<{ v: number }>();
    await expect(read()).rejects.toThrow(/prepared_read_probe/);
    await t.db.schema.createTable('prepared_read_probe', (tb) => {
      tb.integer('id').primary();
      tb.integer('v');
    });
    try {
      expect(await read()).toBeUndefined();
      await t.db('prepared_read_probe').insert({ id: 1, v: 7 });
      expect(await read()).toEqual({ v: 7 });
      // writes with bound values, each its own transaction, seen by the next read
      const put = prepared(t.db, 'xzq_test_put', 'INSERT INTO prepared_read_probe (id, v) VALUES (?, ?)');
      const get = prepared(t.db, 'xzq_test_get', 'SELECT v FROM prepared_read_probe WHERE id = ?');
      for (let i = 2; i < 6; i++) {
        await put.run([i, i * 10]);
        expect(await get.first([i])).toEqual({ v: i * 10 });
      }
      await expect(put.run([2, 0])).rejects.toThrow(/unique|UNIQUE|duplicate/);
      expect(await get.first([2])).toEqual({ v: 20 });
    } finally {
      await t.db.schema.dropTable('prepared_read_probe');
    }
  });

  test('leaves no read transaction open behind it (SQLite: a full checkpoint is not held back)', async () => {
    const reader = createReader(t.db);
    try {
      const epoch = consentEpochReader(reader);
      for (let i = 0; i < 5; i++) await epoch();
      await advanceConsentEpoch(t.db);
      if (isSqlite(t.db)) {
        // busy = 1 when a reader still holds a snapshot the checkpoint must not overwrite
        const rows = (await t.db.raw('PRAGMA wal_checkpoint(TRUNCATE)')) as Array<{ busy: number }>;
        expect(rows[0].busy).toBe(0);
      } else {
        const open = await t.db.raw("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'");
        expect(open.rows[0].n).toBe(0);
      }
      expect(await epoch()).toBeGreaterThan(0);
    } finally {
      await closeReader(reader, t.db);
    }
  });

  if (name === 'sqlite') {
    test('a connection with prepared statements closes cleanly: SQLite checkpoints and removes its WAL', async () => {
      const filename = (t.config.connection as { filename: string }).filename;
      const db = createDb({ client: 'sqlite3', connection: { filename } });
      const reader = createReader(db);
      await advanceConsentEpoch(db);
      expect(await consentEpochReader(reader)()).toBeGreaterThan(0);
      expect(await consentEpochReader(db)()).toBeGreaterThan(0);
      await closeReader(reader, db);
      await db.destroy();
      await t.db.destroy(); // the suite's own connection: the last one to the file
      expect(existsSync(`${filename}-wal`)).toBe(false);
    });
  }
});
