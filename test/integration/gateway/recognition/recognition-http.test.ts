import type { OperationOutcome, Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';
import request from 'supertest';
import { startFhirHospitalServer, type FhirHospitalServer } from '../../../../fixtures/servers/fhir-hospital-server';
import { NATIONAL_ID_SYSTEM } from '../../../../gateway/patient-index/national-id';
import { makeTestClient, requestToken } from '../../../support/auth';
import { testDatabases, type TestDb } from '../../../support/databases';
import { expectValidFhir } from '../../../support/fhir-validation';
import { startGateway, type StartedGateway } from '../../../support/gateway-harness';

/**
 * $recognition, $recognition-decision and $recognition-stats over HTTP (API.md §6): the real app,
 * real signed tokens, simulated hospital FHIR servers on loopback, the audit trail checked.
 */

const NID = '350203199001010018';
const DAY = 86_400_000;
const LOINC = 'http://loinc.org';
const iso = (ms: number) => new Date(ms).toISOString();

function hospitalResources(tag: string, at: number, opts: { ct?: boolean } = {}): Resource[] {
  const patient = `P-${tag}`;
  const out: Resource[] = [
    { resourceType: 'Patient', id: patient, identifier: [{ system: NATIONAL_ID_SYSTEM, value: NID }, { system: `urn:mrn:${tag}`, value: `MR-${tag}` }] },
    {
      resourceType: 'Observation',
      id: `HGB-${tag}`,
      status: 'final',
      code: { coding: [{ system: LOINC, code: '718-7', display: 'Hemoglobin' }] },
      subject: { reference: `Patient/${patient}` },
      effectiveDateTime: iso(at),
      valueQuantity: { value: 135, unit: 'g/L', system: 'http://unitsofmeasure.org', code: 'g/L' },
    },
    {
      resourceType: 'DiagnosticReport',
      id: `CBC-${tag}`,
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'HM' }] }],
      // a local code only: the report is a CBC through its hemoglobin
      code: { coding: [{ system: `urn:local:${tag}`, code: 'XCG', display: '血常规' }] },
      subject: { reference: `Patient/${patient}` },
      effectiveDateTime: iso(at),
      issued: iso(at + 2 * 3_600_000),
      result: [{ reference: `Observation/HGB-${tag}` }],
    },
  ];
  if (opts.ct) {
    out.push({
      resourceType: 'ImagingStudy',
      id: `CT-${tag}`,
      status: 'available',
      subject: { reference: `Patient/${patient}` },
      started: iso(at),
      modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'CT' }],
      procedureCode: [{ coding: [{ system: 'https://hie.xzq.example/fhir/CodeSystem/imaging-exam', code: 'CT-CHEST-PLAIN', display: '胸部CT平扫' }] }],
      description: '胸部CT平扫',
    } as Resource);
  }
  return out;
}

const part = (p: ParametersParameter | undefined, name: string) => p?.part?.find((x) => x.name === name);
const param = (b: Parameters, name: string) => b.parameter?.find((p) => p.name === name);

describe.each(testDatabases())('mutual recognition over HTTP on %s', (_name, open) => {
  let db: TestDb;
  let gw: StartedGateway;
  let servers: FhirHospitalServer[] = [];
  let clinicianToken: string;
  let auditorToken: string;
  let patientId: string;
  const now = Date.now();

  beforeAll(async () => {
    db = await open();
    servers = [
      // a 3A hospital in Xiamen: a CBC 5 days ago and a chest CT 20 days ago
      await startFhirHospitalServer({ resources: hospitalResources('xm', now - 5 * DAY, { ct: true }) }),
      // a second-level hospital in Xiamen: a newer CBC, 1 day ago
      await startFhirHospitalServer({ resources: hospitalResources('hc', now - DAY) }),
    ];
    const hospitals = [
      { id: 'xm-zsh', name: '厦门大学附属中山医院', city: '350200', grade: '3A', recognizedItems: ['CBC', 'CT-CHEST'], adapter: { type: 'fhir', baseUrl: servers[0].url } },
      { id: 'xm-hc', name: '厦门市海沧医院', city: '350200', grade: '2A', recognizedItems: ['CBC'], adapter: { type: 'fhir', baseUrl: servers[1].url } },
      { id: 'zz-sy', name: '漳州市医院', city: '350600', grade: '3A', recognizedItems: ['CBC'], adapter: { type: 'fhir', baseUrl: 'http://127.0.0.1:9/fhir' }, timeoutMs: 300 },
    ];
    const his = makeTestClient({ id: 'zz-sy-his', hospital: 'zz-sy', roles: ['clinician'] });
    const audit = makeTestClient({ id: 'audit-office', roles: ['auditor'] });
    gw = await startGateway({ db, hospitals, clients: [his, audit], consentDefault: 'permit' });
    clinicianToken = await requestToken(gw.app, his, { user: { id: 'D1029', name: '林医生' } });
    auditorToken = await requestToken(gw.app, audit, { user: { id: 'A1', name: '审计员' } });
    const found = await request(gw.app).get(`/Patient?identifier=${NATIONAL_ID_SYSTEM}|${NID}`).set('Authorization', `Bearer ${clinicianToken}`);
    expect(found.status).toBe(200);
    patientId = found.body.entry[0].resource.id;
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await Promise.all(servers.map((s) => s.close()));
    await db?.close();
  });

  const auth = (t: string) => ({ Authorization: `Bearer ${t}` });

  test('$recognition: the 3A CBC is offered to a 3A in Zhangzhou, the 2A one is not; the down hospital is an outcome', async () => {
    const res = await request(gw.app).get(`/Patient/${patientId}/$recognition?item=CBC&item=CT-CHEST&item=HBA1C`).set(auth(clinicianToken));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/fhir\+json/);
    const body = res.body as Parameters;
    expectValidFhir(body);
    const items = body.parameter!.filter((p) => p.name === 'item');
    const cbc = items.find((p) => part(p, 'code')?.valueCode === 'CBC');
    expect(part(cbc, 'recognizable')?.valueBoolean).toBe(true);
    expect(part(cbc, 'result')?.valueReference?.reference).toBe('DiagnosticReport/xm-zsh.CBC-xm');
    expect(part(cbc, 'validUntil')?.valueDateTime).toBe(iso(now - 5 * DAY + 7 * DAY));
    const ct = items.find((p) => part(p, 'code')?.valueCode === 'CT-CHEST');
    expect(part(ct, 'result')?.valueReference?.reference).toBe('ImagingStudy/xm-zsh.CT-xm');
    const hba1c = items.find((p) => part(p, 'code')?.valueCode === 'HBA1C');
    expect(part(hba1c, 'recognizable')?.valueBoolean).toBe(false);
    // zz-sy's own system is down: the answer says so
    const outcomes = body.parameter!.filter((p) => p.name === 'outcome').map((p) => p.resource as OperationOutcome);
    expect(outcomes.some((o) => JSON.stringify(o).includes('zz-sy'))).toBe(true);
  });

  test('$recognition: bad input is a clear OperationOutcome; auditors are refused', async () => {
    const none = await request(gw.app).get(`/Patient/${patientId}/$recognition`).set(auth(clinicianToken));
    expect(none.status).toBe(400);
    expectValidFhir(none.body);
    const unknown = await request(gw.app).get(`/Patient/${patientId}/$recognition?item=XRAY`).set(auth(clinicianToken));
    expect(unknown.status).toBe(400);
    expect(unknown.body.issue[0].details.text).toContain('XRAY');
    const nobody = await request(gw.app).get(`/Patient/nobody-here/$recognition?item=CBC`).set(auth(clinicianToken));
    expect(nobody.status).toBe(404);
    const auditor = await request(gw.app).get(`/Patient/${patientId}/$recognition?item=CBC`).set(auth(auditorToken));
    expect(auditor.status).toBe(403);
    const anonymous = await request(gw.app).get(`/Patient/${patientId}/$recognition?item=CBC`);
    expect(anonymous.status).toBe(401);
  });

  test('$recognition-decision: accepted and retested are stored and audited; bad ones are not', async () => {
    const post = (parameter: ParametersParameter[]) =>
      request(gw.app)
        .post(`/Patient/${patientId}/$recognition-decision`)
        .set(auth(clinicianToken))
        .set('Content-Type', 'application/fhir+json')
        .send({ resourceType: 'Parameters', parameter });
    const accepted = await post([
      { name: 'item', valueCode: 'CBC' },
      { name: 'result', valueReference: { reference: 'DiagnosticReport/xm-zsh.CBC-xm' } },
      { name: 'decision', valueCode: 'accepted' },
    ]);
    expect(accepted.status).toBe(201);
    expectValidFhir(accepted.body);
    const id = param(accepted.body, 'id')?.valueId;
    expect(param(accepted.body, 'recognitionStatus')?.valueCode).toBe('recognizable');
    const retested = await post([
      { name: 'item', valueCode: 'CT-CHEST' },
      { name: 'result', valueReference: { reference: 'ImagingStudy/xm-zsh.CT-xm' } },
      { name: 'decision', valueCode: 'retested' },
      { name: 'reason', valueCode: 'condition-changed' },
    ]);
    expect(retested.status).toBe(201);

    const bad = await post([
      { name: 'item', valueCode: 'CBC' },
      { name: 'result', valueReference: { reference: 'DiagnosticReport/xm-zsh.CBC-xm' } },
      { name: 'decision', valueCode: 'retested' },
      { name: 'reason', valueCode: 'other' },
    ]);
    expect(bad.status).toBe(400);
    expectValidFhir(bad.body);
    expect(bad.body.issue[0].details.coding[0].code).toBe('note-required');
    const wrongItem = await post([
      { name: 'item', valueCode: 'CBC' },
      { name: 'result', valueReference: { reference: 'ImagingStudy/xm-zsh.CT-xm' } },
      { name: 'decision', valueCode: 'accepted' },
    ]);
    expect(wrongItem.status).toBe(422);

    const rows = await db.db('recognition_decisions').select('*').orderBy('recorded_at');
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => r.id === id)).toMatchObject({ patient_id: patientId, item: 'CBC', result_hospital: 'xm-zsh', requesting_hospital: 'zz-sy', practitioner_id: 'D1029' });

    const events = await db.db('audit_events').where({ patient_id: patientId, subtype: '$recognition-decision' }).select('outcome', 'user_id');
    expect(events.length).toBeGreaterThanOrEqual(4);
    expect(events.every((e) => e.user_id === 'D1029')).toBe(true);
  });

  test('$recognition-stats: an auditor sees the figures; a clinician may not', async () => {
    const month = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 7);
    const res = await request(gw.app).get(`/$recognition-stats?from=${month}&to=${month}`).set(auth(auditorToken));
    expect(res.status).toBe(200);
    expectValidFhir(res.body);
    expect(param(res.body, 'decisions')?.valueInteger).toBe(2);
    expect(param(res.body, 'accepted')?.valueInteger).toBe(1);
    expect(param(res.body, 'recognitionRate')?.valueDecimal).toBe(0.5);
    expect(param(res.body, 'costAvoided')?.valueMoney).toEqual({ value: 20, currency: 'CNY' });
    const reasons = res.body.parameter.filter((p: ParametersParameter) => p.name === 'retestedReason');
    expect(reasons.find((p: ParametersParameter) => part(p, 'reason')?.valueCode === 'condition-changed').part[1].valueInteger).toBe(1);
    const bad = await request(gw.app).get(`/$recognition-stats?from=2025-13-01`).set(auth(auditorToken));
    expect(bad.status).toBe(400);
    expectValidFhir(bad.body);
    const clinician = await request(gw.app).get(`/$recognition-stats`).set(auth(clinicianToken));
    expect(clinician.status).toBe(403);
  });
});
