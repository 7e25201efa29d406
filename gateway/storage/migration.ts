import type { Knex } from 'knex';

/**
 * Whether a store is SQLite. Storage code is the same knex on both databases; this is for the few
 * places that cannot be (connection set-up, readers beside the one writer, the chain-head trigger).
 */
export const isSqlite = (db: Knex): boolean => db.client.config.client === 'sqlite3';

/** A schema change, owned by the module whose tables it makes; listed in order in migrations.ts. */
export interface Migration {
  name: string;
  up(db: Knex): Promise<void>;
  down(db: Knex): Promise<void>;
}
