import type { Knex } from 'knex';
import type { Db } from '../gateway/storage/db';
import { prepared } from '../gateway/storage/prepared';

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

/**
 * A reader of the epoch now, for every request: a statement prepared once per connection
 * (storage/prepared.ts). A missing row (never after migration 011) reads as a value no entry carries.
 */
export function consentEpochReader(db: Db): () => Promise<number> {
  const statement = prepared(db, 'xzq_consent_epoch', `SELECT epoch FROM ${TABLE} WHERE id = 1`);
  return async () => {
    const row = await statement.first<{ epoch: number | string }>();
    return row ? Number(row.epoch) : -1;
  };
}
