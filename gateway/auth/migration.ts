import type { Migration } from '../storage/migration';

/** Tables of gateway/auth (API.md §3); see docs/auth.md for how operators use `signing_keys`. */
export const authMigration: Migration = {
  name: '002-auth',
  async up(db) {
    // The gateway's own token-signing keys, shared by every instance. A row with a private key can
    // sign; a row with only the public key (a key configured in one instance's file) lets the
    // others verify its tokens. `retired_at` set = no longer used nor accepted.
    await db.schema.createTable('signing_keys', (t) => {
      t.string('kid', 64).primary();
      t.string('alg', 16).notNullable();
      t.text('private_jwk').nullable();
      t.text('public_jwk').notNullable();
      t.string('created_at', 32).notNullable();
      t.string('retired_at', 32).nullable();
    });
    // Client-assertion jti values seen, until they expire: replay protection across instances and
    // restarts. The primary key makes a replay a unique-key conflict.
    await db.schema.createTable('assertion_jtis', (t) => {
      t.string('client_id', 64).notNullable();
      t.string('jti', 256).notNullable();
      t.bigInteger('expires_at').notNullable(); // epoch seconds after which the row may be pruned
      t.primary(['client_id', 'jti']);
      t.index(['expires_at']);
    });
  },
  async down(db) {
    await db.schema.dropTable('assertion_jtis');
    await db.schema.dropTable('signing_keys');
  },
};
