import type { Migration } from '../storage/migration';

/**
 * The decisions clinicians record on results offered for recognition (API.md §6), kept for the
 * statistics and the record: never changed or deleted through the API.
 */
export const recognitionMigration: Migration = {
  name: '005-recognition',
  async up(db) {
    await db.schema.createTable('recognition_decisions', (t) => {
      t.string('id', 64).primary();
      t.string('patient_id', 64).notNullable().index();
      t.string('item', 40).notNullable();
      /** `<Type>/<gateway id>`; null for imported decisions that named no result */
      t.string('result_ref', 200).nullable();
      t.string('result_hospital', 40).notNullable();
      t.string('requesting_hospital', 40).notNullable();
      /** accepted | retested */
      t.string('decision', 16).notNullable();
      t.string('reason', 32).nullable();
      t.text('note').nullable();
      t.string('practitioner_id', 128).nullable();
      t.string('practitioner_name', 128).nullable();
      t.string('client_id', 64).nullable();
      /** the recognition status the result had for the requester when the decision was made */
      t.string('recognition_status', 32).nullable();
      /** the catalogue price of the item, in fen (integer: sums stay exact on both databases) */
      t.integer('price_fen').nullable();
      /** when the physician decided, ISO 8601 UTC */
      t.string('decided_at', 32).notNullable();
      /** YYYY-MM of decided_at in China Standard Time, for the monthly breakdown */
      t.string('decided_month', 7).notNullable();
      /** when the gateway stored it */
      t.string('recorded_at', 32).notNullable();
      /** api | demo | cds (CDS Hooks feedback) */
      t.string('source', 16).notNullable();
      t.index(['decided_at']);
      t.index(['requesting_hospital', 'decided_at']);
      t.index(['item', 'decided_at']);
    });
  },
  async down(db) {
    await db.schema.dropTable('recognition_decisions');
  },
};
