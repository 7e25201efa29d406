import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createConsentService } from '../../../consent/consent-service';
import { loadDemoConsents } from '../../../fixtures/demo/demo-consents';
import { NATIONAL_ID_SYSTEM } from '../../../gateway/patient-index/national-id';
import { readDemoConsents } from '../../../fixtures/load';
import { parseConfig } from '../../../gateway/config';
import { testDatabases, type TestDb } from '../../support/databases';
import { expectValidFhir } from '../../support/fhir-validation';
import { addPatient, fixedClock, serviceDeps } from './consent-support';

/**
 * The demo consents of fixtures/consents.json load as a registrar would record them: every one
 * valid, withdrawn ones with their history, and a restart adds nothing.
 */
describe.each(testDatabases())('demo consents on %s', (_name, open) => {
  let t: TestDb;
  afterAll(async () => t?.close());

  it('loads every fixture consent, idempotently', async () => {
    t = await open();
    const fixtures = readDemoConsents(path.join(__dirname, '../../../fixtures/consents.json'));
    const demo = JSON.parse(readFileSync(path.join(__dirname, '../../../fixtures/demo-config.json'), 'utf8'));
    const config = parseConfig({ ...demo, publicBaseUrl: 'http://127.0.0.1:8080', clients: [] }, { baseDir: path.join(__dirname, '../../../fixtures') });
    const nids = [...new Set(fixtures.map((c) => c.patient?.identifier?.value!))];
    for (const [i, nid] of nids.entries()) await addPatient(t.db, `rp${i}`, nid);
    const deps = serviceDeps(t.db, fixedClock('2026-11-29T04:00:00Z'), config);
    const service = createConsentService(deps);
    const loaded = await loadDemoConsents({ registry: service.registry, patientIndex: deps.patientIndex }, fixtures);
    expect(loaded).toEqual({ loaded: fixtures.length, skipped: 0, unresolved: 0 });
    expect(await loadDemoConsents({ services: { consent: service }, patientIndex: deps.patientIndex }, fixtures)).toEqual({
      loaded: 0,
      skipped: fixtures.length,
      unresolved: 0,
    });
    const withdrawn = fixtures.filter((c) => c.status === 'inactive').length;
    const [{ n }] = await t.db('consent_history').count({ n: '*' });
    expect(Number(n)).toBe(fixtures.length + withdrawn);
    for (const c of await service.store.byPatient('rp0')) expectValidFhir(c);
    expect(fixtures.every((c) => c.patient?.identifier?.system === NATIONAL_ID_SYSTEM)).toBe(true);
  });
});
