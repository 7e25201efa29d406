import type { Migration } from './migration';
import { patientIndexMigration } from '../patient-index/migration';
import { authMigration } from '../auth/migration';
import { consentMigration } from '../../consent/migration';
import { auditChainTriggerMigration, auditMigration } from '../audit/migration';
import { recognitionMigration } from '../recognition/migration';

/** Every schema change, in the order applied. Append only: a released migration is never edited. */
export const migrations: Migration[] = [
  patientIndexMigration,
  authMigration,
  consentMigration,
  auditMigration,
  recognitionMigration,
  auditChainTriggerMigration,
];
