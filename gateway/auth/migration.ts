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

/** People who sign in (docs/users.md): accounts, their sessions and the authorization codes in flight. */
export const usersMigration: Migration = {
  name: '008-users',
  async up(db) {
    await db.schema.createTable('users', (t) => {
      t.string('username', 64).primary();
      t.string('display_name', 128).notNullable();
      // the person's staff id at their hospital: the IUA subject_id of their tokens
      t.string('staff_id', 64).notNullable();
      t.string('hospital', 40).nullable();
      t.text('roles').notNullable(); // JSON array of roles
      t.text('password_hash').notNullable(); // scrypt, self-describing (passwords.ts)
      t.integer('failed_count').notNullable().defaultTo(0);
      t.string('locked_until', 32).nullable();
      t.string('disabled_at', 32).nullable();
      t.string('created_at', 32).notNullable();
      t.string('updated_at', 32).notNullable();
    });
    // A signed-in session: the refresh token's hash (rotated at every refresh), when it idles out,
    // when it ends regardless, and when and why it ended. Access tokens name it (`sid`), and every
    // request with one checks it is still open, so sign-out and disabling act at the next request.
    await db.schema.createTable('user_sessions', (t) => {
      t.string('sid', 64).primary();
      t.string('username', 64).notNullable();
      t.string('client_id', 64).notNullable();
      t.string('refresh_hash', 64).notNullable();
      t.text('scope').notNullable(); // what the sign-in asked for; refreshes grant no more
      t.string('created_at', 32).notNullable();
      t.string('idle_expires_at', 32).notNullable();
      t.string('expires_at', 32).notNullable();
      t.string('ended_at', 32).nullable();
      t.string('end_reason', 32).nullable();
      t.index(['username']);
    });
    // Authorization codes: only their hash is kept; `used_at` makes them single-use across instances.
    await db.schema.createTable('authorization_codes', (t) => {
      t.string('code_hash', 64).primary();
      t.string('client_id', 64).notNullable();
      t.text('redirect_uri').notNullable();
      t.string('username', 64).notNullable();
      t.string('code_challenge', 128).notNullable();
      t.text('scope').notNullable();
      t.string('expires_at', 32).notNullable();
      t.string('used_at', 32).nullable();
      // the session the code was exchanged for: a replayed code ends it (RFC 6749 §4.1.2)
      t.string('sid', 64).nullable();
      t.index(['expires_at']);
    });
  },
  async down(db) {
    await db.schema.dropTable('authorization_codes');
    await db.schema.dropTable('user_sessions');
    await db.schema.dropTable('users');
  },
};
