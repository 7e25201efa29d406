import type { Migration } from '../storage/migration';
import { GENESIS_HASH } from './hash-chain';

/**
 * The audit store (API.md §7): one row per AuditEvent, chained by SHA-256 (see hash-chain.ts), and
 * one chain-head row that every append updates first, so appends from several gateway instances
 * serialise on it (a row lock on PostgreSQL, the write lock on SQLite).
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
