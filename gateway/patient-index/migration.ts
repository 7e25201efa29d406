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

/**
 * Merging and unmerging residents (docs/patient-data.md §5). A merge moves nothing: the merged
 * identity keeps its row, links, record numbers and consents, and points at the survivor; the
 * survivor answers for both. Unmerging clears the pointer, which restores the state before exactly.
 * Every merge and unmerge is a row here as well as an AuditEvent.
 */
export const patientMergeMigration: Migration = {
  name: '010-patient-merge',
  async up(db) {
    await db.schema.alterTable('patients', (t) => {
      t.string('merged_into', 64).nullable();
      t.index(['merged_into']);
    });
    await db.schema.createTable('patient_merges', (t) => {
      t.string('id', 64).primary();
      t.string('source_id', 64).notNullable();
      t.string('target_id', 64).notNullable();
      t.string('merged_at', 32).notNullable();
      t.string('merged_by', 200).notNullable();
      t.text('reason').nullable();
      t.string('unmerged_at', 32).nullable();
      t.string('unmerged_by', 200).nullable();
      t.text('unmerge_reason').nullable();
      t.index(['source_id']);
      t.index(['target_id']);
    });
  },
  async down(db) {
    await db.schema.dropTable('patient_merges');
    await db.schema.alterTable('patients', (t) => {
      t.dropIndex(['merged_into']);
      t.dropColumn('merged_into');
    });
  },
};
