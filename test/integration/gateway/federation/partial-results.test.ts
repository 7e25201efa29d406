import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import request from 'supertest';
import { startFhirHospitalServer } from '../../../../fixtures/servers/fhir-hospital-server';
import { NATIONAL_ID_SYSTEM } from '../../../../gateway/patient-index/national-id';
import { makeTestClient, requestToken } from '../../../support/auth';
import { openSqlite, type TestDb } from '../../../support/databases';
import { expectValidFhir } from '../../../support/fhir-validation';
import { startGateway, type StartedGateway } from '../../../support/gateway-harness';

const NID = '350203199001010018';

function hospitalData(tag: string): Resource[] {
  return [
    { resourceType: 'Patient', id: `p-${tag}`, identifier: [{ system: NATIONAL_ID_SYSTEM, value: NID }, { system: `urn:mrn:${tag}`, value: `MR-${tag}` }] },
    {
      resourceType: 'Observation',
      id: `o-${tag}`,
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '718-7', display: 'Hemoglobin' }] },
      subject: { reference: `Patient/p-${tag}` },
      effectiveDateTime: '2026-11-25T09:00:00+08:00',
      valueQuantity: { value: 135, unit: 'g/L', system: 'http://unitsofmeasure.org', code: 'g/L' },
    },
    {
      resourceType: 'DiagnosticReport',
      id: `r-${tag}`,
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'HM' }, { system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '58410-2', display: 'CBC panel' }] },
      subject: { reference: `Patient/p-${tag}` },
      effectiveDateTime: '2026-11-25T09:00:00+08:00',
      issued: '2026-11-25T11:00:00+08:00',
      result: [{ reference: `Observation/o-${tag}` }],
    },
  ] as Resource[];
}

type Mode = 'normal' | 'status-500' | 'hang' | 'invalid-json' | 'not-fhir';

describe('a hospital that fails never fails the search', () => {
  let db: TestDb;
  let gw: StartedGateway;
  let token: string;
  const servers: Array<Awaited<ReturnType<typeof startFhirHospitalServer>>> = [];
  const modes: Mode[] = ['normal', 'status-500', 'hang', 'invalid-json', 'not-fhir'];
  const TIMEOUT = 400;

  beforeAll(async () => {
    db = await openSqlite();
    for (const m of modes) servers.push(await startFhirHospitalServer({ resources: hospitalData(m), mode: 'normal' }));
    const hospitals = modes.map((m, i) => ({
      id: `h-${m}`.replace(/[^a-z0-9-]/g, '-'),
      name: `医院 ${m}`,
      city: ['350200', '350500', '350600'][i % 3],
      grade: '3A',
      recognizedItems: ['CBC'],
      timeoutMs: TIMEOUT,
      adapter: { type: 'fhir', baseUrl: servers[i].url },
    }));
    hospitals.push({ id: 'h-refused', name: '关闭的医院', city: '350200', grade: '2A', recognizedItems: [], timeoutMs: TIMEOUT, adapter: { type: 'fhir', baseUrl: 'http://127.0.0.1:9/fhir' } });
    const client = makeTestClient({ id: 'his-1', hospital: 'h-normal', roles: ['clinician'] });
    gw = await startGateway({ db, hospitals, clients: [client], consentDefault: 'permit' });
    token = await requestToken(gw.app, client, { user: { id: 'D1', name: '医生' } });
    // Link the patient everywhere while every hospital answers; then break them.
    const first = await request(gw.app).get(`/Patient?identifier=${NATIONAL_ID_SYSTEM}|${NID}`).set('Authorization', `Bearer ${token}`);
    expect(first.status).toBe(200);
    modes.forEach((m, i) => servers[i].setMode(m));
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await Promise.all(servers.map((s) => s.close()));
    await db?.close();
  });

  test('the answering hospital\'s results come back with one outcome entry per failed hospital', async () => {
    const started = Date.now();
    const res = await request(gw.app)
      .get(`/DiagnosticReport?patient.identifier=${NATIONAL_ID_SYSTEM}|${NID}`)
      .set('Authorization', `Bearer ${token}`);
    const elapsed = Date.now() - started;
    expect(res.status).toBe(200);
    const bundle = res.body as Bundle;
    expectValidFhir(bundle);
    const matches = bundle.entry!.filter((e) => e.search?.mode === 'match');
    expect(matches.map((e) => e.resource!.id)).toEqual(['h-normal.r-normal']);
    const failed = bundle.entry!.filter((e) => e.search?.mode === 'outcome').map((e) => e.resource as OperationOutcome);
    const named = failed.map((o) => o.issue[0].diagnostics ?? o.issue[0].details?.text ?? '');
    for (const id of ['h-status-500', 'h-hang', 'h-invalid-json', 'h-not-fhir', 'h-refused']) {
      expect(named.some((t) => t.includes(id))).toBe(true);
    }
    for (const o of failed) {
      expect(o.issue[0].severity).toBe('warning');
      expect(['timeout', 'transient', 'exception']).toContain(o.issue[0].code);
    }
    expect(failed.find((o) => o.issue[0].diagnostics?.includes('h-hang'))!.issue[0].code).toBe('timeout');
    // Functional bound, generous for a shared machine; the figure itself comes from npm run bench.
    expect(elapsed).toBeLessThan(TIMEOUT + 1500);
  });

  test('the health endpoint reports the failing hospitals without patient data', async () => {
    const res = await request(gw.app).get('/healthz');
    expect(res.status).toBe(200);
    const byId = Object.fromEntries(res.body.hospitals.map((h: { id: string }) => [h.id, h]));
    expect(byId['h-normal'].state).toBe('up');
    expect(byId['h-hang'].lastError).toMatch(/timeout/);
    expect(JSON.stringify(res.body)).not.toContain(NID);
  });

  test('repeated failures open the circuit; the search still answers at once', async () => {
    for (let i = 0; i < 6; i++) {
      await request(gw.app).get(`/Observation?patient.identifier=${NATIONAL_ID_SYSTEM}|${NID}`).set('Authorization', `Bearer ${token}`);
    }
    const health = await request(gw.app).get('/healthz');
    const states = Object.fromEntries(health.body.hospitals.map((h: { id: string; state: string }) => [h.id, h.state]));
    expect(states['h-status-500']).toBe('circuit-open');
    const started = Date.now();
    const res = await request(gw.app).get(`/Observation?patient.identifier=${NATIONAL_ID_SYSTEM}|${NID}`).set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(TIMEOUT);
  });
});
