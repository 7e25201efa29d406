import knex, { type Knex } from 'knex';
import { verifySpan } from './audit-store';
import type { HelperReply, HelperRequest } from './verify-helpers';

/**
 * A `$verify` helper process (verify-helpers.ts): takes one stretch of the chain over IPC,
 * verifies it on its own read-only connection, answers, and exits. It reads rows column by
 * column: better-sqlite3 gives a column for little, so the packing (audit-store.ts PACKED_SQL)
 * would only cost SQLite time.
 */
process.once('message', async (request: HelperRequest) => {
  let db: Knex | undefined;
  let reply: HelperReply;
  try {
    db = knex(readOnly(request.config));
    reply = { ok: true, result: await verifySpan(db, request.span, { ...request.opts, read: 'columns' }) };
  } catch (e) {
    // no row content in the message: the store's own error code or its class name
    reply = { ok: false, error: String((e as { code?: unknown }).code ?? (e as Error).name ?? 'error') };
  }
  await db?.destroy().catch(() => undefined);
  process.send!(reply, () => process.disconnect());
});

/**
 * SQLite's connection is opened read-only (storage/db.ts readOnlyConfig); a PostgreSQL session
 * is made read-only here, where a hook can be given (none crosses the IPC channel).
 */
function readOnly(config: Knex.Config): Knex.Config {
  if (config.client !== 'pg') return config;
  return {
    ...config,
    pool: {
      ...(config.pool ?? {}),
      afterCreate: (c: { query: (sql: string, cb: (e: Error | null) => void) => void }, done: (e: Error | null, c: unknown) => void) => {
        c.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY', (e) => done(e, c));
      },
    },
  };
}
