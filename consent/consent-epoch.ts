import type { Knex } from 'knex';
import type { Db } from '../gateway/storage/db';

/**
 * The consent epoch: one counter, moved in the same transaction as every change a consent
 * judgement depends on — a consent created or updated, an identity merged or unmerged. Instances
 * cache judgement inputs under the epoch they were read at and check the epoch on each request
 * (consent-cache.ts), so a change committed by any instance is in force at the next request on all.
 *
 * A version row rather than PostgreSQL's LISTEN/NOTIFY: a notification reaches the other instances
 * some time after the commit, so a request sent there right after the writer's answer could still
 * meet a cached permit. Reading the row costs one primary-key read, shared by the requests that
 * arrive together; it works the same on SQLite and PostgreSQL.
 */

export const CONSENT_EPOCH_TABLE = 'consent_epoch';
const TABLE = CONSENT_EPOCH_TABLE;

/** Moves the epoch inside the caller's transaction (the row lock orders concurrent changes). */
export async function advanceConsentEpoch(trx: Knex.Transaction | Db): Promise<void> {
  await trx(TABLE).where({ id: 1 }).increment('epoch', 1);
}

/** The epoch now; a missing row (never after migration 011) reads as a value no entry carries. */
export async function readConsentEpoch(db: Db): Promise<number> {
  const row = await db(TABLE).where({ id: 1 }).first('epoch');
  return row ? Number(row.epoch) : -1;
}
