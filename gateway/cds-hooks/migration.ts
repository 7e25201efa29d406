import type { Migration } from '../storage/migration';

/**
 * The cards the CDS Hooks service gave (issue #16): a feedback call names only a card's uuid, and
 * any gateway instance may receive it, so what each card offered is kept in the database.
 */
export const cdsCardsMigration: Migration = {
  name: '007-cds-cards',
  async up(db) {
    await db.schema.createTable('cds_cards', (t) => {
      t.string('id', 64).primary();
      t.string('service', 64).notNullable();
      t.string('client_id', 64).notNullable();
      t.string('requesting_hospital', 40).notNullable();
      t.string('patient_id', 64).notNullable();
      /** the person ordering (CDS Hooks context.userId), who decides the card */
      t.string('user_id', 128).notNullable();
      t.string('item', 40).notNullable();
      /** `<Type>/<gateway id>` of the result the card offered */
      t.string('result_ref', 200).notNullable();
      t.string('result_hospital', 40).notNullable();
      t.string('recognition_status', 32).notNullable();
      /** the suggestion's uuid (accepting it accepts the result) */
      t.string('suggestion_id', 64).notNullable();
      t.string('created_at', 32).notNullable();
      /** set once feedback has been recorded: a card is decided once */
      t.string('decided_at', 32).nullable();
    });
  },
  async down(db) {
    await db.schema.dropTable('cds_cards');
  },
};
