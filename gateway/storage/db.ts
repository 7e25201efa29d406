import { mkdirSync } from 'node:fs';
import path from 'node:path';
import knex, { type Knex } from 'knex';
import { isSqlite } from './migration';
import { finalizeStatements } from './prepared';

export type Db = Knex;

/**
 * A knex instance for the gateway's own store. SQLite is the embedded default; PostgreSQL the
 * scale-out store. The same code runs on both: nothing here or elsewhere is written for one only,
 * beyond the connection set-up below and the audit chain-head trigger (audit/migration.ts).
 */
export function createDb(config: { client: string; connection?: unknown; [k: string]: unknown }): Db {
  if (config.client === 'sqlite3') {
    const conn = (config.connection ?? {}) as { filename?: string };
    if (conn.filename && conn.filename !== ':memory:') mkdirSync(path.dirname(conn.filename), { recursive: true });
    return finalizingStatements(knex({
      ...config,
      client: 'sqlite3',
      useNullAsDefault: true,
      // One connection: SQLite has one writer, and one connection keeps transactions from
      // queueing behind SQLITE_BUSY. WAL lets readers of other processes go on.
      pool: {
        min: 1,
        max: 1,
        afterCreate: (c: { exec: (sql: string, cb: (e: Error | null) => void) => void }, done: (e: Error | null, c: unknown) => void) => {
          c.exec(
                'PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;',
            (e) => done(e, c),
          );
        },
      },
    } as Knex.Config));
  }
  return knex({ pool: { min: 0, max: 10 }, ...config } as Knex.Config);
}

/**
 * SQLite refuses to close a connection with statements still prepared on it (SQLITE_BUSY: the
 * file stays open and its WAL is not checkpointed away), so the statements storage/prepared.ts
 * made on a connection are finalised first whenever knex closes one.
 */
function finalizingStatements(db: Db): Db {
  const client = db.client as unknown as { destroyRawConnection(connection: unknown): Promise<unknown> };
  const close = client.destroyRawConnection.bind(client);
  client.destroyRawConnection = async (connection) => {
    await finalizeStatements(connection);
    return close(connection);
  };
  return db;
}

/** reader connections beside SQLite's one writer: fewer than libuv's 4 threads, which fs and crypto share */
const SQLITE_READERS = 3;

/**
 * Connections for plain reads beside the writer. On SQLite the writer has one connection, and a
 * read through it waits behind whatever holds it, the audit trail's fsync'd commits above all; in
 * WAL mode a second connection reads the last committed state while the writer commits, so the
 * per-request consent lookup does not queue behind the audit. The reader connections are
 * `query_only`: a write sent here by mistake fails instead of contending for SQLite's lock.
 * PostgreSQL's pool already reads in parallel, and an in-memory SQLite database cannot be shared:
 * for both the reader is the writer itself. Close it with {@link closeReader}.
 */
export function createReader(db: Db): Db {
  const filename = (db.client.config as { connection?: { filename?: string } }).connection?.filename;
  if (!isSqlite(db) || !filename || filename === ':memory:' || filename.startsWith('file:')) return db;
  return finalizingStatements(knex({
    client: 'sqlite3',
    useNullAsDefault: true,
    connection: { filename },
    pool: {
      min: 0,
      max: SQLITE_READERS,
      afterCreate: (c: { exec: (sql: string, cb: (e: Error | null) => void) => void }, done: (e: Error | null, c: unknown) => void) => {
        c.exec('PRAGMA busy_timeout=10000; PRAGMA query_only=ON;', (e) => done(e, c));
      },
    },
  } as Knex.Config));
}

/** Destroys a reader made by {@link createReader}, unless it is the writer itself. */
export async function closeReader(reader: Db, db: Db): Promise<void> {
  if (reader !== db) await reader.destroy();
}

/**
 * SQLSTATEs and socket errors that say the database cannot be reached now, not that the statement
 * is wrong: the server ended the session (an operator, a restart: class 57P), the connection
 * failed or broke (class 08), too many connections (53300). Node's socket errors and pg's own
 * "Connection terminated" cover a connection cut under a query; knex's pool times out when no
 * connection can be made at all.
 */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[1-4]|53300)$/;
const UNAVAILABLE_SOCKET = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * Whether `e` (or an error it wraps) is the store being unreachable — a request that met it is
 * refused with a 503 and may be retried, rather than counted as a bug (500). A connection that
 * broke is dropped by the pool (knex marks it disposed), so the next request gets a fresh one.
 */
export function isStoreUnavailable(e: unknown): boolean {
  for (let cur = e, depth = 0; cur && typeof cur === 'object' && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    const err = cur as { name?: unknown; code?: unknown; message?: unknown };
    if (typeof err.code === 'string' && (UNAVAILABLE_SQLSTATE.test(err.code) || UNAVAILABLE_SOCKET.has(err.code))) return true;
    if (err.name === 'KnexTimeoutError') return true;
    if (typeof err.message === 'string' && /Connection terminated|connection error and is not queryable/.test(err.message)) return true;
  }
  return false;
}

/**
 * How another process opens this store to read it, or undefined where it cannot: an in-memory
 * SQLite database, or a connection given as something other than plain data. SQLite is read
 * there through better-sqlite3, read-only: a separate process, since two copies of the SQLite
 * library in one process do not see each other's POSIX locks (sqlite.org/howtocorrupt.html §2.2),
 * and a synchronous driver, which turns rows into values at a fraction of the sqlite3 driver's
 * cost a row. PostgreSQL through pg, as here.
 */
export function readOnlyConfig(db: Db): Knex.Config | undefined {
  const config = db.client.config as { client?: unknown; connection?: unknown; searchPath?: unknown };
  if (isSqlite(db)) {
    const filename = (config.connection as { filename?: unknown } | undefined)?.filename;
    if (typeof filename !== 'string' || filename === ':memory:' || filename.startsWith('file:')) return undefined;
    return { client: 'better-sqlite3', useNullAsDefault: true, connection: { filename: path.resolve(filename), options: { readonly: true } } };
  }
  if (config.client !== 'pg' || !isPlainData(config.connection)) return undefined;
  return { client: 'pg', connection: config.connection as Knex.StaticConnectionConfig, ...(isPlainData(config.searchPath) ? { searchPath: config.searchPath as string[] } : {}), pool: { min: 0, max: 4 } };
}

function isPlainData(v: unknown): boolean {
  if (v === undefined || v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return true;
  if (Array.isArray(v)) return v.every(isPlainData);
  if (typeof v !== 'object' || Object.getPrototypeOf(v) !== Object.prototype) return false;
  return Object.values(v as object).every(isPlainData);
}
