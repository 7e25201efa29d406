import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knex from 'knex';
import { migrate } from '../../gateway/migrations';
import { createDb, type Db } from '../../gateway/storage/db';

/**
 * The databases every storage-touching suite runs on: a real SQLite file in a temp dir always, and
 * PostgreSQL when TEST_DATABASE_URL is set (CI). Each call gets a fresh, migrated store: SQLite a
 * new file, PostgreSQL a new schema, so parallel test files never share state.
 *
 *   describe.each(testDatabases())('consent on %s', (_name, open) => { … const db = await open(); … })
 */
export interface TestDb {
  db: Db;
  /** the knex config to open a second connection to the same store (a second gateway instance) */
  config: { client: string; connection: unknown; searchPath?: string[] };
  /** the DATABASE_URL form, for child processes */
  url: string;
  close(): Promise<void>;
}

export type OpenTestDb = () => Promise<TestDb>;

export function testDatabases(): Array<[string, OpenTestDb]> {
  const out: Array<[string, OpenTestDb]> = [['sqlite', openSqlite]];
  if (process.env.TEST_DATABASE_URL) out.push(['postgres', openPostgres]);
  return out;
}

export const postgresAvailable = () => Boolean(process.env.TEST_DATABASE_URL);

export async function openSqlite(): Promise<TestDb> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xzq-db-'));
  const filename = path.join(dir, 'gateway.sqlite');
  const config = { client: 'sqlite3', connection: { filename } };
  const db = createDb(config);
  await migrate(db);
  return {
    db,
    config,
    url: `sqlite:${filename}`,
    close: async () => {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function openPostgres(): Promise<TestDb> {
  const url = process.env.TEST_DATABASE_URL!;
  const schema = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = knex({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
  await admin.raw('CREATE SCHEMA ??', [schema]);
  await admin.destroy();
  const config = { client: 'pg', connection: url, searchPath: [schema] };
  const db = createDb(config);
  await migrate(db);
  const sep = url.includes('?') ? '&' : '?';
  return {
    db,
    config,
    url: `${url}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    close: async () => {
      await db.destroy();
      const drop = knex({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
      await drop.raw('DROP SCHEMA ?? CASCADE', [schema]);
      await drop.destroy();
    },
  };
}
