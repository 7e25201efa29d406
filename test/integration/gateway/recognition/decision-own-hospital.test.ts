import type { OperationOutcome, Parameters, ParametersParameter } from '@medplum/fhirtypes';
import request from 'supertest';
import { NATIONAL_ID_SYSTEM } from '../../../../gateway/patient-index/national-id';
import { testDatabases, type TestDb } from '../../../support/databases';
import { startDemoNetwork, type DemoNetwork } from '../../../support/demo-network';
import { expectValidFhir } from '../../../support/fhir-validation';

/**
 * Issue #14, finding 6: a recognition decision is recorded for the caller's own hospital only —
 * the one its token names. A body parameter `requestingHospital` (or `hospital`), or a query
 * parameter `hospital`, naming another hospital is refused (403 `foreign-hospital`) and nothing is
 * stored; naming the caller's own hospital is accepted; a plain decision still works. Over the demo
 * network, with real tokens of two hospitals' HIS clients.
 */

/** 陈建国 (DC001: permit, every hospital): results at xm-dyyy, qz-fey, zz-syy and xm-zyy */
const FULL = '350203196203151595';
const XM = 'xm-dyyy';
const ZZ = 'zz-syy';
const FHIR_JSON = 'application/fhir+json';

const part = (p: ParametersParameter | undefined, name: string) => p?.part?.find((x) => x.name === name);
const param = (b: Parameters, name: string) => b.parameter?.find((p) => p.name === name);
const errorCode = (o: OperationOutcome) => o.issue[0]?.details?.coding?.[0]?.code;

describe.each(testDatabases())('recognition decisions are the token hospital\'s own, on %s', (_name, open) => {
  let db: TestDb;
  let net: DemoNetwork;
  const tokens: Record<string, string> = {};
  let patientId: string;
  /** a CBC of another hospital that xm-dyyy is offered, and its hospital */
  let offered: { ref: string; hospital: string };

  beforeAll(async () => {
    db = await open();
    net = await startDemoNetwork({ db });
    tokens[XM] = await net.token(`${XM}-his`, { user: { id: 'D1029', name: '林医生' } });
    tokens[ZZ] = await net.token(`${ZZ}-his`, { user: { id: 'Z0007', name: '陈医生' } });
    const found = await request(net.app).get(`/Patient?identifier=${NATIONAL_ID_SYSTEM}|${FULL}`).set('Authorization', `Bearer ${tokens[XM]}`);
    expect(found.status).toBe(200);
    patientId = found.body.entry[0].resource.id;
    const rec = await request(net.app).get(`/Patient/${patientId}/$recognition?item=CBC`).set('Authorization', `Bearer ${tokens[XM]}`);
    expect(rec.status).toBe(200);
    const cbc = (rec.body as Parameters).parameter!.find((p) => p.name === 'item' && part(p, 'code')?.valueCode === 'CBC');
    const ref = part(cbc, 'result')?.valueReference?.reference;
    if (!ref) throw new Error('the demo network offers xm-dyyy no CBC of 陈建国');
    offered = { ref, hospital: ref.split('/')[1].split('.')[0] };
    expect(offered.hospital).not.toBe(XM);
  }, 120_000);
  afterAll(async () => {
    await net?.close();
    await db?.close();
  });

  const decision = (extra: ParametersParameter[] = []): Parameters => ({
    resourceType: 'Parameters',
    parameter: [
      { name: 'item', valueCode: 'CBC' },
      { name: 'result', valueReference: { reference: offered.ref } },
      { name: 'decision', valueCode: 'accepted' },
      ...extra,
    ],
  });
  const post = (as: string, body: Parameters, query = '') =>
    request(net.app)
      .post(`/Patient/${patientId}/$recognition-decision${query}`)
      .set('Authorization', `Bearer ${tokens[as]}`)
      .set('Content-Type', FHIR_JSON)
      .send(JSON.stringify(body));
  const stored = async () => Number((await db.db('recognition_decisions').count({ n: '*' }))[0].n);
  const attempts = async () =>
    (await db.db('audit_events').where({ patient_id: patientId, subtype: '$recognition-decision' }).select('outcome')).map((e) => Number(e.outcome));

  test.each<[string, string, ParametersParameter[], string]>([
    ['body requestingHospital = another hospital (reference)', XM, [{ name: 'requestingHospital', valueReference: { reference: `Organization/${ZZ}` } }], ''],
    ['body requestingHospital = another hospital (full URL)', XM, [{ name: 'requestingHospital', valueReference: { reference: `https://hie.xzq.example/fhir/Organization/${ZZ}` } }], ''],
    ['body requestingHospital = another hospital (identifier)', XM, [{ name: 'requestingHospital', valueIdentifier: { system: 'https://hie.xzq.example/fhir/sid/hospital', value: 'qz-fey' } }], ''],
    ['body hospital = another hospital (code)', XM, [{ name: 'hospital', valueCode: 'qz-fey' }], ''],
    ['body: own hospital, then another', XM, [{ name: 'requestingHospital', valueReference: { reference: `Organization/${XM}` } }, { name: 'hospital', valueString: ZZ }], ''],
    ['query hospital = another hospital', XM, [], `?hospital=${ZZ}`],
    ['query hospital = own and another', XM, [], `?hospital=${XM},${ZZ}`],
    ['query requestingHospital = another hospital', XM, [], `?requestingHospital=Organization/${ZZ}`],
    ["zz-syy's HIS naming xm-dyyy, to record a decision in xm-dyyy's name", ZZ, [{ name: 'requestingHospital', valueReference: { reference: `Organization/${XM}` } }], ''],
  ])('%s → 403 foreign-hospital, nothing stored, the attempt audited', async (_case, as, extra, query) => {
    const before = await stored();
    const audited = (await attempts()).length;
    const res = await post(as, decision(extra), query);
    expect(res.status).toBe(403);
    expectValidFhir(res.body);
    expect(errorCode(res.body)).toBe('foreign-hospital');
    expect(res.body.issue[0].severity).toBe('error');
    expect(await stored()).toBe(before);
    const after = await attempts();
    expect(after.length).toBe(audited + 1);
    expect(after.filter((o) => o !== 0).length).toBeGreaterThan(0);
  });

  test('a requesting hospital that names no hospital is a 400, nothing stored', async () => {
    const before = await stored();
    const res = await post(XM, decision([{ name: 'requestingHospital', valueBoolean: true }]));
    expect(res.status).toBe(400);
    expectValidFhir(res.body);
    expect(errorCode(res.body)).toBe('invalid-parameter');
    expect(await stored()).toBe(before);
  });

  test('a plain decision is recorded for the token\'s hospital', async () => {
    const before = await stored();
    const res = await post(XM, decision());
    expect(res.status).toBe(201);
    expectValidFhir(res.body);
    expect(param(res.body, 'requestingHospital')?.valueReference?.reference).toBe(`Organization/${XM}`);
    expect(await stored()).toBe(before + 1);
    const row = await db.db('recognition_decisions').where({ id: param(res.body, 'id')!.valueId }).first();
    expect(row).toMatchObject({ patient_id: patientId, requesting_hospital: XM, result_hospital: offered.hospital, practitioner_id: 'D1029' });
  });

  test('naming the own hospital explicitly, in the body and the query, is accepted and changes nothing', async () => {
    const before = await stored();
    const res = await post(
      XM,
      decision([
        { name: 'requestingHospital', valueReference: { reference: `Organization/${XM}` } },
        { name: 'hospital', valueCode: XM },
      ]),
      `?hospital=Organization/${XM}`,
    );
    expect(res.status).toBe(201);
    expectValidFhir(res.body);
    expect(await stored()).toBe(before + 1);
    const row = await db.db('recognition_decisions').where({ id: param(res.body, 'id')!.valueId }).first();
    expect(row.requesting_hospital).toBe(XM);
    // every stored decision is the token hospital's
    const hospitals = await db.db('recognition_decisions').where({ patient_id: patientId }).distinct('requesting_hospital');
    expect(hospitals.map((h) => h.requesting_hospital)).toEqual([XM]);
  });
});
