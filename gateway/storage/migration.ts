import type { Knex } from 'knex';

/** A schema change, owned by the module whose tables it makes; listed in order in migrations.ts. */
export interface Migration {
  name: string;
  up(db: Knex): Promise<void>;
  down(db: Knex): Promise<void>;
}
