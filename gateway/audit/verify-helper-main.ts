import knex from 'knex';
import { verifySpan } from './audit-store';
import type { HelperReply, HelperRequest } from './verify-helpers';

/**
 * A `$verify` helper process (verify-helpers.ts): takes one stretch of the chain over IPC,
 * verifies it on its own read-only connection, answers, and exits. It reads rows column by
 * column: better-sqlite3 gives a column for little, so the packing (audit-store.ts PACKED_SQL)
 * would only cost SQLite time.
 */
process.once('message', async (request: HelperRequest) => {
  const db = knex(request.config);
  let reply: HelperReply;
  try {
    reply = { ok: true, result: await verifySpan(db, request.span, { ...request.opts, read: 'columns' }) };
  } catch (e) {
    // no row content in the message: the store's own error code or its class name
    reply = { ok: false, error: String((e as { code?: unknown }).code ?? (e as Error).name ?? 'error') };
  }
  await db.destroy().catch(() => undefined);
  process.send!(reply, () => process.disconnect());
});
