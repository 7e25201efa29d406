import type { Migration } from '../storage/migration';

export const auditMigration: Migration = {
  name: '004-audit',
  async up(db) {
    await db.schema.createTable('audit_events', (t) => {
      t.bigIncrements('seq').primary(); // chain order
      t.string('id', 64).notNullable().unique();
      t.string('recorded', 32).notNullable();
      t.string('patient_id', 64).nullable();
      t.string('client_id', 64).nullable();
      t.string('user_id', 128).nullable();
      t.integer('outcome').notNullable();
      t.string('purpose', 32).nullable();
      t.string('subtype', 64).nullable();
      t.text('resource').notNullable(); // the AuditEvent, JSON
      t.string('prev_hash', 64).notNullable();
      t.string('hash', 64).notNullable();
      t.index(['patient_id', 'seq']);
      t.index(['client_id', 'seq']);
      t.index(['user_id', 'seq']);
      t.index(['purpose', 'seq']);
      t.index(['recorded']);
    });
    // The chain head: one row, updated in the same transaction as each append, so appends from
    // several instances serialise on it (a row lock on PostgreSQL, the write lock on SQLite).
    await db.schema.createTable('audit_chain_head', (t) => {
      t.integer('id').primary();
      t.bigInteger('seq').notNullable();
      t.string('hash', 64).notNullable();
    });
  },
  async down(db) {
    await db.schema.dropTable('audit_chain_head');
    await db.schema.dropTable('audit_events');
  },
};
