import type { Migration } from '../storage/migration';

export const authMigration: Migration = {
  name: '002-auth',
  async up(db) {
    // The gateway's own token-signing keys: generated on first start, shared by every instance.
    await db.schema.createTable('signing_keys', (t) => {
      t.string('kid', 64).primary();
      t.string('alg', 16).notNullable();
      t.text('private_jwk').notNullable();
      t.text('public_jwk').notNullable();
      t.string('created_at', 32).notNullable();
      t.string('retired_at', 32).nullable();
    });
    // Client-assertion jti values seen, until they expire: replay protection across instances.
    await db.schema.createTable('assertion_jtis', (t) => {
      t.string('client_id', 64).notNullable();
      t.string('jti', 256).notNullable();
      t.bigInteger('expires_at').notNullable(); // epoch seconds
      t.primary(['client_id', 'jti']);
      t.index(['expires_at']);
    });
  },
  async down(db) {
    await db.schema.dropTable('assertion_jtis');
    await db.schema.dropTable('signing_keys');
  },
};
