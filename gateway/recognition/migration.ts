import type { Migration } from '../storage/migration';

export const recognitionMigration: Migration = {
  name: '005-recognition',
  async up(db) {
    await db.schema.createTable('recognition_decisions', (t) => {
      t.string('id', 64).primary();
      t.string('patient_id', 64).notNullable().index();
      t.string('item', 40).notNullable();
      t.string('result_ref', 200).notNullable();
      t.string('result_hospital', 40).notNullable();
      t.string('requesting_hospital', 40).notNullable();
      t.string('decision', 16).notNullable();
      t.string('reason', 32).nullable();
      t.text('note').nullable();
      t.string('practitioner_id', 128).nullable();
      t.string('practitioner_name', 128).nullable();
      t.decimal('price_cny', 12, 2).nullable();
      t.string('decided_at', 32).notNullable();
      t.index(['decided_at']);
    });
  },
  async down(db) {
    await db.schema.dropTable('recognition_decisions');
  },
};
