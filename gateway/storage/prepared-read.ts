import type { Db } from './db';
import { isSqlite } from './migration';

/**
 * A read run on every request, prepared once per connection of the knex pool it runs on, and
 * written once for both databases (plain SQL, no parameters, the same text on SQLite and
 * PostgreSQL). Why: knex builds and compiles the query anew each time, and on SQLite node-sqlite3
 * then prepares, steps and finalises it as separate trips to its thread pool. For the consent
 * epoch read on every request (consent/consent-epoch.ts) that was ~0.9 ms at one connection on
 * the bench, ahead of the first hospital request; prepared, ~0.25 ms.
 *
 * The connection still comes from knex's pool, so a pool's limits, its reconnection after a
 * broken connection and the errors callers classify (storage/db.ts isStoreUnavailable) stay as
 * they are. SQLite: a node-sqlite3 Statement per connection, reset after each row so that no read
 * transaction stays open (an open one would see an old snapshot and hold WAL checkpoints back).
 * PostgreSQL: a named prepared statement, which node-postgres prepares on each connection's first
 * use of the name.
 */
export function preparedFirst<Row>(db: Db, name: string, sql: string): () => Promise<Row | undefined> {
  const client = db.client as unknown as PoolClient;
  const run = isSqlite(db) ? sqliteFirst<Row>(sql) : pgFirst<Row>(name, sql);
  return async () => {
    const connection = await client.acquireConnection();
    try {
      return await run(connection);
    } finally {
      await client.releaseConnection(connection);
    }
  };
}

/** knex's client, as far as its pool is used here */
interface PoolClient {
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<unknown>;
}

interface SqliteStatement {
  get(cb: (err: Error | null, row: unknown) => void): void;
  reset(cb?: (err: Error | null) => void): void;
}

function sqliteFirst<Row>(sql: string): (connection: unknown) => Promise<Row | undefined> {
  // a connection the pool drops takes its statement with it
  const statements = new WeakMap<object, Promise<SqliteStatement>>();
  return async (connection) => {
    const conn = connection as { prepare(sql: string, cb: (err: Error | null) => void): SqliteStatement };
    let prepared = statements.get(conn);
    if (!prepared) {
      // node-sqlite3 never calls back a statement whose preparation failed: wait for it first
      prepared = new Promise<SqliteStatement>((resolve, reject) => {
        const statement = conn.prepare(sql, (err) => (err ? reject(err) : resolve(statement)));
      });
      statements.set(conn, prepared);
      // one that could not be prepared (a missing table) is made again next time
      prepared.catch(() => statements.delete(conn));
    }
    const s = await prepared;
    return new Promise((resolve, reject) => {
      s.get((err, row) => {
        // queued before any later get on this statement: the next read starts a fresh snapshot
        s.reset();
        if (err) reject(err);
        else resolve(row as Row | undefined);
      });
    });
  };
}

function pgFirst<Row>(name: string, text: string): (connection: unknown) => Promise<Row | undefined> {
  return async (connection) => {
    const result = await (connection as { query(q: { name: string; text: string }): Promise<{ rows: unknown[] }> }).query({ name, text });
    return result.rows[0] as Row | undefined;
  };
}
