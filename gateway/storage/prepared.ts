import type { Knex } from 'knex';
import { isSqlite } from './migration';

/**
 * Statements run on every request, prepared once per connection of the knex pool they run on,
 * written once for both databases (the same SQL text, `?` for each bound value). Why: on SQLite
 * node-sqlite3 runs a knex query as three trips to its thread pool — prepare, bind and step,
 * finalise — each started from the main thread, so at one connection each waited behind the
 * request's other work (the answer being encoded). Measured at one connection on the bench, two
 * gateways of each in turns: the consent epoch read ahead of the hospitals ~0.9 → ~0.25 ms (a
 * search ~1 ms faster), and with the audit INSERT prepared too ~1 ms more (in two runs
 * 29.0/29.5 → 29.8/30.8 and 28.4/28.7 → 29.9/29.1 searches/s), CPU per search −6 %.
 *
 * SQLite: a node-sqlite3 Statement per connection and SQL, from a connection of knex's pool, so
 * its limits and errors stay as they are; a read is reset after its row so no read transaction
 * stays open (it would see an old snapshot and hold WAL checkpoints back); the statements of a
 * connection are finalised before knex closes it (storage/db.ts), or SQLite would refuse to close.
 * PostgreSQL: knex's raw query with a statement name, which node-postgres prepares on each
 * connection's first use of the name.
 */
export interface PreparedStatement {
  /** the first row of a read, or undefined */
  first<Row>(bindings?: readonly Knex.RawBinding[]): Promise<Row | undefined>;
  /** a write outside any transaction (SQLite: the statement is its own transaction) */
  run(bindings?: readonly Knex.RawBinding[]): Promise<void>;
}

// knex's type rather than storage/db.ts's Db (the same type): db.ts imports this module
export function prepared(db: Knex, name: string, sql: string): PreparedStatement {
  if (!isSqlite(db)) {
    return {
      first: async <Row>(bindings: readonly Knex.RawBinding[] = []) => ((await db.raw(sql, bindings).options({ name })) as { rows: Row[] }).rows[0],
      run: async (bindings: readonly Knex.RawBinding[] = []) => {
        await db.raw(sql, bindings).options({ name });
      },
    };
  }
  const client = db.client as unknown as PoolClient;
  const onConnection = async <T>(work: (s: SqliteStatement) => Promise<T>): Promise<T> => {
    const connection = (await client.acquireConnection()) as SqliteConnection;
    try {
      return await work(await statementOf(connection, sql));
    } finally {
      await client.releaseConnection(connection);
    }
  };
  return {
    first: <Row>(bindings: readonly Knex.RawBinding[] = []) =>
      onConnection(
        (s) =>
          new Promise<Row | undefined>((resolve, reject) => {
            s.get(bindings, (err, row) => {
              // queued before any later use of this statement: the next read starts a fresh snapshot
              s.reset();
              if (err) reject(err);
              else resolve(row as Row | undefined);
            });
          }),
      ),
    run: (bindings: readonly Knex.RawBinding[] = []) =>
      onConnection((s) => new Promise<void>((resolve, reject) => s.run(bindings, (err) => (err ? reject(err) : resolve())))),
  };
}

/**
 * Finalises every statement prepared on a SQLite connection: called by storage/db.ts before knex
 * closes the connection. Nothing to do for a connection that has none.
 */
export async function finalizeStatements(connection: unknown): Promise<void> {
  const statements = byConnection.get(connection as object);
  if (!statements) return;
  byConnection.delete(connection as object);
  await Promise.all(
    [...statements.values()].map((p) =>
      p.then(
        (s) => new Promise<void>((resolve) => s.finalize(() => resolve())),
        () => undefined, // never prepared: nothing to finalise
      ),
    ),
  );
}

/** knex's client, as far as its pool is used here */
interface PoolClient {
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<unknown>;
}

interface SqliteStatement {
  get(bindings: readonly Knex.RawBinding[], cb: (err: Error | null, row: unknown) => void): void;
  run(bindings: readonly Knex.RawBinding[], cb: (err: Error | null) => void): void;
  reset(cb?: (err: Error | null) => void): void;
  finalize(cb?: (err: Error | null) => void): void;
}
interface SqliteConnection {
  prepare(sql: string, cb: (err: Error | null) => void): SqliteStatement;
}

/** per connection (a connection the pool drops takes its statements with it), per SQL text */
const byConnection = new WeakMap<object, Map<string, Promise<SqliteStatement>>>();

function statementOf(connection: SqliteConnection, sql: string): Promise<SqliteStatement> {
  let statements = byConnection.get(connection);
  if (!statements) byConnection.set(connection, (statements = new Map()));
  let statement = statements.get(sql);
  if (!statement) {
    // node-sqlite3 never calls back the uses of a statement whose preparation failed: wait for it
    const made = new Promise<SqliteStatement>((resolve, reject) => {
      const s = connection.prepare(sql, (err) => (err ? reject(err) : resolve(s)));
    });
    // one that could not be prepared (a missing table) is made again next time
    made.catch(() => statements!.delete(sql));
    statements.set(sql, (statement = made));
  }
  return statement;
}
