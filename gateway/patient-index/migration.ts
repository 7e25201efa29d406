import type { Migration } from '../storage/migration';

export const patientIndexMigration: Migration = {
  name: '001-patient-index',
  async up(db) {
    await db.schema.createTable('patients', (t) => {
      t.string('id', 64).primary(); // the regional id
      t.string('national_id', 18).notNullable().unique();
      t.string('created_at', 32).notNullable();
    });
    // Which hospitals know the patient, under which local key (EMPI cross-references).
    await db.schema.createTable('patient_links', (t) => {
      t.string('patient_id', 64).notNullable().references('patients.id');
      t.string('hospital_id', 40).notNullable();
      t.string('local_id', 200).notNullable();
      t.string('updated_at', 32).notNullable();
      t.primary(['patient_id', 'hospital_id']);
    });
    // Hospital record numbers, so PIXm can look a patient up by any of them.
    await db.schema.createTable('patient_mrns', (t) => {
      t.string('hospital_id', 40).notNullable();
      t.string('mrn', 100).notNullable();
      t.string('patient_id', 64).notNullable().references('patients.id');
      t.primary(['hospital_id', 'mrn']);
      t.index(['patient_id']);
    });
  },
  async down(db) {
    await db.schema.dropTable('patient_mrns');
    await db.schema.dropTable('patient_links');
    await db.schema.dropTable('patients');
  },
};
