import type { Bundle, OperationOutcome, Patient } from '@medplum/fhirtypes';
import request from 'supertest';
import { NATIONAL_ID_SYSTEM } from '../../../../gateway/patient-index/national-id';
import { testDatabases, type TestDb } from '../../../support/databases';
import { startDemoNetwork, type DemoNetwork } from '../../../support/demo-network';
import { expectValidFhir } from '../../../support/fhir-validation';

/**
 * Finding a resident by name and birth date (issue #15, docs/patient-data.md §7): only together,
 * exact, asked of the hospitals whose systems hold names, and shown by the identity rule — with
 * consent all of it, without only the asker's own patients, minimally; never "somebody of that
 * name was treated somewhere" to a hospital that does not know them.
 */
describe.each(testDatabases())('GET /Patient?name=&birthdate= on %s', (_name, open) => {
  let db: TestDb;
  let net: DemoNetwork;
  beforeAll(async () => {
    db = await open();
    net = await startDemoNetwork({ db });
  });
  afterAll(async () => {
    await net?.close();
    await db?.close();
  });

  const search = async (client: string, query: string) => request(net.app).get(`/Patient?${query}`).set('Authorization', `Bearer ${await net.token(client)}`);
  const patients = (b: Bundle) => (b.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource as Patient);
  const codes = (b: Bundle) => (b.entry ?? []).filter((e) => e.search?.mode === 'outcome').flatMap((e) => (e.resource as OperationOutcome).issue.map((i) => i.details?.coding?.[0]?.code));

  test('陈建国 (full consent) is found by name and birth date, with the hospitals that hold no names named', async () => {
    const res = await search('xm-zsh-his', `name=${encodeURIComponent('陈建国')}&birthdate=1962-03-15`);
    expect(res.status).toBe(200);
    expectValidFhir(res.body);
    const [p] = patients(res.body);
    expect(p!.identifier).toEqual(expect.arrayContaining([expect.objectContaining({ system: NATIONAL_ID_SYSTEM, value: '350203196203151595' })]));
    expect(codes(res.body)).toContain('name-search-partial');
    const audit = await db.db('audit_events').where({ request_id: res.headers['x-request-id'] }).select('patient_id');
    expect(audit.map((a) => a.patient_id)).toEqual([p!.id]);
  });

  test('李娜 (no consent): her own hospital sees her minimally; another hospital learns nothing', async () => {
    const own = await search('zz-syy-his', `name=${encodeURIComponent('李娜')}&birthdate=1988-12-03`);
    expect(own.status).toBe(200);
    const [p] = patients(own.body);
    expect(p).toBeDefined();
    expect(p!.identifier!.every((i) => i.system === NATIONAL_ID_SYSTEM || i.assigner?.reference === 'Organization/zz-syy')).toBe(true);
    expect(codes(own.body)).toContain('consent-suppressed');
    const other = await search('xm-dyyy-his', `name=${encodeURIComponent('李娜')}&birthdate=1988-12-03`);
    expect(other.status).toBe(200);
    expectValidFhir(other.body);
    expect(patients(other.body)).toHaveLength(0);
    // the audit names nobody it did not show
    expect((await db.db('audit_events').where({ request_id: other.headers['x-request-id'] }).select('patient_id')).map((a) => a.patient_id)).toEqual([null]);
  });

  test('another birth date, or part of a name, finds nobody', async () => {
    expect(patients((await search('xm-zsh-his', `name=${encodeURIComponent('陈建国')}&birthdate=1962-03-16`)).body)).toHaveLength(0);
    expect(patients((await search('xm-zsh-his', `name=${encodeURIComponent('陈')}&birthdate=1962-03-15`)).body)).toHaveLength(0);
  });

  test.each([
    ['a name alone', `name=${encodeURIComponent('陈建国')}`, 'invalid-date'],
    ['a birth date alone', 'birthdate=1962-03-15', 'parameter-required'],
    ['a malformed birth date', `name=${encodeURIComponent('陈建国')}&birthdate=1962-02-30`, 'invalid-date'],
    ['a name with an identifier', `name=${encodeURIComponent('陈建国')}&birthdate=1962-03-15&identifier=${NATIONAL_ID_SYSTEM}|350203196203151595`, 'bad-request'],
  ])('%s → 400', async (_what, query, code) => {
    const res = await search('xm-zsh-his', query);
    expect(res.status).toBe(400);
    expectValidFhir(res.body);
    expect((res.body as OperationOutcome).issue[0]!.details?.coding?.[0]?.code).toBe(code);
  });
});
