import type { Knex } from 'knex';
import { isSqlite, type Migration } from '../storage/migration';
import { GENESIS_HASH } from './hash-chain';

/**
 * The audit store (API.md §7): one row per AuditEvent, chained by SHA-256 (see hash-chain.ts), and
 * one chain-head row that every append moves, so appends from several gateway instances serialise
 * on it (a row lock on PostgreSQL, the write lock on SQLite); since 006 a trigger moves it.
 *
 * `seq` is assigned by the writer (head.seq + 1 …) inside that transaction, never by the database:
 * it is part of the hashed content. `bigIncrements` is used only because it makes `seq` the rowid on
 * SQLite and a bigint primary key on PostgreSQL.
 */
export const auditMigration: Migration = {
  name: '004-audit',
  async up(db) {
    await db.schema.createTable('audit_events', (t) => {
      t.bigIncrements('seq').primary(); // chain order, assigned by the writer
      t.string('id', 64).notNullable().unique();
      t.string('recorded', 32).notNullable();
      t.string('request_id', 64).nullable();
      t.string('patient_id', 64).nullable();
      t.string('client_id', 64).nullable();
      t.string('user_id', 128).nullable();
      t.integer('outcome').notNullable();
      t.string('purpose', 32).nullable();
      t.string('subtype', 64).notNullable();
      t.text('resource').notNullable(); // the AuditEvent, JSON, exactly as hashed
      t.string('prev_hash', 64).notNullable();
      t.string('hash', 64).notNullable();
      // Every search is "filter, newest first, keyset on seq": each filter column leads an index
      // that ends in seq, so a page is an index range scan whatever the table size.
      t.index(['patient_id', 'seq'], 'audit_events_patient_seq');
      t.index(['client_id', 'seq'], 'audit_events_client_seq');
      t.index(['user_id', 'seq'], 'audit_events_user_seq');
      t.index(['purpose', 'seq'], 'audit_events_purpose_seq');
      t.index(['request_id'], 'audit_events_request_id');
      t.index(['recorded'], 'audit_events_recorded');
    });
    await db.schema.createTable('audit_chain_head', (t) => {
      t.integer('id').primary();
      /** seq and hash of the newest event */
      t.bigInteger('seq').notNullable();
      t.string('hash', 64).notNullable();
      /** seq and hash of the last archived (removed) event: where verification starts; 0/genesis until an archive */
      t.bigInteger('base_seq').notNullable();
      t.string('base_hash', 64).notNullable();
    });
    await db('audit_chain_head').insert({ id: 1, seq: 0, hash: GENESIS_HASH, base_seq: 0, base_hash: GENESIS_HASH });
  },
  async down(db) {
    await db.schema.dropTable('audit_chain_head');
    await db.schema.dropTable('audit_events');
  },
};

/** The message the chain-head trigger refuses with; appendRows recognises it on both databases. */
export const CHAIN_MOVED = 'audit chain head moved';
const TRIGGER = 'audit_events_link';

/**
 * The database keeps the chain head itself: before each event row is inserted, a trigger checks
 * that the row links onto the head (seq = head + 1, prev_hash = head hash) and moves the head to it,
 * or refuses the whole statement. So an append is one INSERT, atomic on its own (no BEGIN, head
 * UPDATE and COMMIT round trips on the latency of the request being audited), appenders on several
 * instances still serialise on the head row, and a row added behind the gateway's back that does
 * not link onto the head is refused. Trigger syntax differs between the two databases, so this is
 * the one place with a statement for each; the application code around it is the same knex.
 */
export const auditChainTriggerMigration: Migration = {
  name: '006-audit-chain-trigger',
  async up(db) {
    if (isSqlite(db)) {
      await db.raw(`CREATE TRIGGER ${TRIGGER} BEFORE INSERT ON audit_events BEGIN
          SELECT RAISE(ABORT, '${CHAIN_MOVED}') WHERE NOT EXISTS (SELECT 1 FROM audit_chain_head WHERE id = 1 AND seq = NEW.seq - 1 AND hash = NEW.prev_hash);
          UPDATE audit_chain_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;
        END`);
      return;
    }
    await db.raw(`CREATE OR REPLACE FUNCTION ${TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE audit_chain_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1 AND seq = NEW.seq - 1 AND hash = NEW.prev_hash;
        IF NOT FOUND THEN RAISE EXCEPTION '${CHAIN_MOVED}'; END IF;
        RETURN NEW;
      END $$`);
    await db.raw(`CREATE TRIGGER ${TRIGGER} BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION ${TRIGGER}()`);
  },
  async down(db) {
    await dropChainTrigger(db);
  },
};

/** Removes the chain-head trigger (the down migration; tests use it to act as an intruder with schema rights). */
export async function dropChainTrigger(db: Knex): Promise<void> {
  if (isSqlite(db)) {
    await db.raw(`DROP TRIGGER IF EXISTS ${TRIGGER}`);
    return;
  }
  await db.raw(`DROP TRIGGER IF EXISTS ${TRIGGER} ON audit_events`);
  await db.raw(`DROP FUNCTION IF EXISTS ${TRIGGER}()`);
}

/**
 * Trust that does not depend on whoever holds the database (issue #20):
 * - `audit_checkpoints`: the database copy of the signed checkpoints of the chain head (a second
 *   copy of each goes to the anchor outside the database; docs/audit.md §3). `seq` is the
 *   checkpoints' own order, assigned by the writer as it is signed; `slot` is unique, so of
 *   several instances exactly one checkpoints each interval slot (shutdown checkpoints have none).
 * - `signing_keys.attestation`: the audit checkpoint key's signature over a published public token
 *   key; instances trust only attested rows (gateway/auth/signing-keys.ts). The private keys still
 *   in `private_jwk` are moved out by the gateway at start-up, since only it knows the key folder.
 * One migration for both: they ship together, and the second needs the key that signs the first.
 */
export const checkpointsMigration: Migration = {
  name: '009-audit-checkpoints',
  async up(db) {
    await db.schema.createTable('audit_checkpoints', (t) => {
      t.bigInteger('seq').primary();
      t.string('slot', 32).nullable().unique();
      t.string('kind', 16).notNullable();
      t.bigInteger('head_seq').notNullable();
      t.string('head_hash', 64).notNullable();
      t.string('at', 32).notNullable();
      t.string('prev_hash', 64).notNullable();
      t.string('key_id', 64).notNullable();
      t.string('hash', 64).notNullable();
      t.text('signature').notNullable();
    });
    await db.schema.alterTable('signing_keys', (t) => {
      t.text('attestation').nullable();
    });
  },
  async down(db) {
    await db.schema.alterTable('signing_keys', (t) => {
      t.dropColumn('attestation');
    });
    await db.schema.dropTable('audit_checkpoints');
  },
};
