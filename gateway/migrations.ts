import type { Knex } from 'knex';
import type { Db } from './storage/db';
import type { Migration } from './storage/migration';
import { patientIndexMigration, patientMergeMigration } from './patient-index/migration';
import { authMigration, usersMigration } from './auth/migration';
import { consentEpochMigration, consentMigration } from '../consent/migration';
import { auditChainTriggerMigration, auditMigration, checkpointsMigration } from './audit/migration';
import { recognitionMigration } from './recognition/migration';
import { cdsCardsMigration } from './cds-hooks/migration';

/** Every schema change, in the order applied. Append only: a released migration is never edited. */
export const migrations: Migration[] = [
  patientIndexMigration,
  authMigration,
  consentMigration,
  auditMigration,
  recognitionMigration,
  auditChainTriggerMigration,
  cdsCardsMigration,
  usersMigration,
  checkpointsMigration,
  patientMergeMigration,
  consentEpochMigration,
];

/** Apply every migration (idempotent; safe when several instances start together on PostgreSQL). */
export async function migrate(db: Db): Promise<void> {
  await db.migrate.latest({ migrationSource: migrationSource, tableName: 'knex_migrations' });
}

const migrationSource: Knex.MigrationSource<(typeof migrations)[number]> = {
  getMigrations: async () => migrations,
  getMigrationName: (m) => m.name,
  getMigration: async (m) => m,
};
