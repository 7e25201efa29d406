import { ConfigError } from '../../../gateway/config';
import { loadCatalog } from '../../../gateway/recognition/catalog';
import { loadDemoDecisions, type DemoDecision } from '../../../fixtures/demo/demo-decisions';
import { testDatabases, type TestDb } from '../../support/databases';
import { MemoryPatientIndex, testConfig } from './support';

const DECISIONS: DemoDecision[] = [
  {
    patientNationalId: '350203199001010018',
    item: 'CBC',
    resultHospital: 'xm-zsh',
    requestingHospital: 'zz-sy',
    decision: 'accepted',
    practitionerId: 'D1029',
    practitionerName: '林医生',
    decidedAt: '2025-05-03T09:00:00+08:00',
    resultRef: 'DiagnosticReport/xm-zsh-R1',
  },
  {
    patientNationalId: '350503198506150026',
    item: 'CT-CHEST',
    resultHospital: 'qz-dyyy',
    requestingHospital: 'xm-zsh',
    decision: 'retested',
    reason: 'condition-changed',
    practitionerId: 'X77',
    practitionerName: '陈医生',
    decidedAt: '2025-04-30T23:30:00Z',
  },
  {
    // no hospital knows this resident: skipped
    patientNationalId: '11010519491231002X',
    item: 'CBC',
    resultHospital: 'xm-zsh',
    requestingHospital: 'zz-sy',
    decision: 'accepted',
    practitionerId: 'D1',
    practitionerName: '王医生',
    decidedAt: '2025-05-01T00:00:00Z',
  },
];

describe.each(testDatabases())('demo decisions on %s', (_name, open) => {
  let t: TestDb;
  const config = testConfig();
  const catalog = loadCatalog();
  const patientIndex = new MemoryPatientIndex();
  patientIndex.add('p1', '350203199001010018');
  patientIndex.add('p2', '350503198506150026');
  beforeEach(async () => {
    t = await open();
  });
  afterEach(async () => {
    await t.close();
  });

  test('are stored once, however often they are loaded (a restart)', async () => {
    const deps = { db: t.db, patientIndex, catalog, config };
    expect(await loadDemoDecisions(deps, DECISIONS)).toBe(2);
    expect(await loadDemoDecisions(deps, DECISIONS)).toBe(2);
    const rows = await t.db('recognition_decisions').orderBy('decided_at').select('*');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      patient_id: 'p2',
      item: 'CT-CHEST',
      decision: 'retested',
      reason: 'condition-changed',
      result_ref: null,
      decided_at: '2025-04-30T23:30:00.000Z',
      decided_month: '2025-05', // 07:30 on 1 May in China
      source: 'demo',
    });
    expect(Number(rows[0].price_fen)).toBe(23000);
    expect(rows[1]).toMatchObject({ patient_id: 'p1', practitioner_name: '林医生', decided_at: '2025-05-03T01:00:00.000Z', result_ref: 'DiagnosticReport/xm-zsh-R1' });
  });

  test.each<[string, Partial<DemoDecision>, RegExp]>([
    ['an unknown item', { item: 'XRAY' }, /decisions\[0\]\.item: unknown catalog item XRAY/],
    ['an unknown hospital', { resultHospital: 'nowhere' }, /decisions\[0\]\.resultHospital: unknown hospital/],
    ['retested without reason', { decision: 'retested' }, /decisions\[0\]\.reason/],
    ['other without note', { decision: 'retested', reason: 'other' }, /decisions\[0\]\.note/],
    ['a time without zone', { decidedAt: '2025-05-01 10:00' }, /decisions\[0\]\.decidedAt/],
  ])('%s is refused by name, nothing stored', async (_name, over, message) => {
    const bad = [{ ...DECISIONS[0], ...over }];
    await expect(loadDemoDecisions({ db: t.db, patientIndex, catalog, config }, bad)).rejects.toThrow(ConfigError);
    await expect(loadDemoDecisions({ db: t.db, patientIndex, catalog, config }, bad)).rejects.toThrow(message);
    expect(await t.db('recognition_decisions').count({ n: '*' })).toEqual([{ n: expect.anything() }]);
    expect(Number((await t.db('recognition_decisions').count({ n: '*' }))[0].n)).toBe(0);
  });
});
