import type { Migration } from '../storage/migration';

export const patientIndexMigration: Migration = {
  name: '001-patient-index',
  async up(db) {
    await db.schema.createTable('patients', (t) => {
      t.string('id', 64).primary(); // the regional id
      t.string('national_id', 18).notNullable().unique();
      t.string('created_at', 32).notNullable();
      t.string('merged_into', 64).nullable(); // set when a duplicate registration was merged
    });
    await db.schema.createTable('patient_links', (t) => {
      t.string('patient_id', 64).notNullable().references('patients.id');
      t.string('hospital_id', 40).notNullable();
      t.string('local_id', 200).notNullable();
      t.text('mrns').notNullable(); // JSON array of the hospital's record numbers
      t.string('updated_at', 32).notNullable();
      t.primary(['patient_id', 'hospital_id']);
    });
  },
  async down(db) {
    await db.schema.dropTable('patient_links');
    await db.schema.dropTable('patients');
  },
};
