import { openPostgres, postgresAvailable } from '../../../support/databases';

/**
 * Every storage suite runs on PostgreSQL too when TEST_DATABASE_URL is set (test/support/databases.ts).
 * Without it they run on SQLite only, and this suite is reported as skipped so the gap shows.
 */
const onPostgres = postgresAvailable() ? describe : describe.skip;

onPostgres('the PostgreSQL store (TEST_DATABASE_URL)', () => {
  test('every migration applies to a fresh schema and its tables answer', async () => {
    const pg = await openPostgres();
    try {
      for (const table of ['patients', 'patient_links', 'patient_mrns', 'signing_keys', 'assertion_jtis', 'consents', 'consent_history', 'audit_events', 'audit_chain_head', 'recognition_decisions']) {
        const [{ count }] = await pg.db(table).count({ count: '*' });
        expect(Number(count)).toBeGreaterThanOrEqual(0);
      }
    } finally {
      await pg.close();
    }
  });
});
