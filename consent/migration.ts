import type { Migration } from '../gateway/storage/migration';

export const consentMigration: Migration = {
  name: '003-consent',
  async up(db) {
    await db.schema.createTable('consents', (t) => {
      t.string('id', 64).primary();
      t.string('patient_id', 64).notNullable().index();
      t.string('status', 32).notNullable();
      t.integer('version_id').notNullable();
      t.string('organization', 40).nullable();
      t.text('resource').notNullable(); // the current version, JSON
      t.string('updated_at', 32).notNullable();
      t.index(['patient_id', 'status']);
    });
    await db.schema.createTable('consent_history', (t) => {
      t.string('id', 64).notNullable();
      t.integer('version_id').notNullable();
      t.text('resource').notNullable();
      t.string('recorded_at', 32).notNullable();
      t.primary(['id', 'version_id']);
    });
  },
  async down(db) {
    await db.schema.dropTable('consent_history');
    await db.schema.dropTable('consents');
  },
};

/** The consent epoch (consent-epoch.ts): one row, moved with every change a judgement reads. */
export const consentEpochMigration: Migration = {
  name: '011-consent-epoch',
  async up(db) {
    await db.schema.createTable('consent_epoch', (t) => {
      t.integer('id').primary();
      t.bigInteger('epoch').notNullable();
    });
    await db('consent_epoch').insert({ id: 1, epoch: 0 });
  },
  async down(db) {
    await db.schema.dropTable('consent_epoch');
  },
};
