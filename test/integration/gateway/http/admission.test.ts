import net, { type AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import { startFhirHospitalServer } from '../../../../fixtures/servers/fhir-hospital-server';
import { NATIONAL_ID_SYSTEM } from '../../../../gateway/patient-index/national-id';
import { makeTestClient, requestToken } from '../../../support/auth';
import { openSqlite, type TestDb } from '../../../support/databases';
import { expectValidFhir } from '../../../support/fhir-validation';
import { waitsForAdmission } from '../../../../gateway/http/admission';
import { startGateway, TEST_BASE_URL, type StartedGateway } from '../../../support/gateway-harness';
import { metricSum } from '../../../support/metrics';

/**
 * Admission control through the real gateway over HTTP (gateway/http/admission.ts): with one
 * request at a time and one allowed to wait, a second search waits its turn without reaching the
 * hospital, a third is refused at once with 503 `gateway-busy` (audited like any refusal), health
 * checks never wait, and a request whose client left while it waited is neither answered, sent to a
 * hospital nor audited.
 */
const NID = '350203199001010018';
const DELAY = 1500;

const resources: Resource[] = [
  { resourceType: 'Patient', id: 'p1', identifier: [{ system: NATIONAL_ID_SYSTEM, value: NID }, { system: 'urn:mrn:h1', value: 'MR-1' }] },
  {
    resourceType: 'Observation',
    id: 'o1',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '718-7', display: 'Hemoglobin' }] },
    subject: { reference: 'Patient/p1' },
    effectiveDateTime: '2026-11-25T09:00:00+08:00',
    valueQuantity: { value: 135, unit: 'g/L', system: 'http://unitsofmeasure.org', code: 'g/L' },
  },
] as Resource[];

describe('admission: one request at a time, one waiting', () => {
  let db: TestDb;
  let gw: StartedGateway;
  let hospital: Awaited<ReturnType<typeof startFhirHospitalServer>>;
  let server: Server;
  let base: string;
  let auth: Record<string, string>;
  let searchUrl: string;

  beforeAll(async () => {
    db = await openSqlite();
    hospital = await startFhirHospitalServer({ resources });
    const client = makeTestClient({ id: 'his-1', hospital: 'h1', roles: ['clinician', 'monitor'] });
    gw = await startGateway({
      db,
      clients: [client],
      consentDefault: 'permit',
      hospitals: [{ id: 'h1', name: '医院一', city: '350200', grade: '3A', recognizedItems: [], timeoutMs: 5000, adapter: { type: 'fhir', baseUrl: hospital.url } }],
      extra: { admission: { minConcurrency: 1, maxConcurrency: 1, maxQueue: 1 } },
    });
    server = gw.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    auth = { authorization: `Bearer ${await requestToken(gw.app, client, { publicBaseUrl: TEST_BASE_URL, user: { id: 'D1', name: '医生' } })}` };
    const linked = await fetch(`${base}/Patient?identifier=${NATIONAL_ID_SYSTEM}|${NID}`, { headers: auth });
    expect(linked.status).toBe(200);
    searchUrl = `${base}/Observation?patient.identifier=${NATIONAL_ID_SYSTEM}|${NID}`;
    hospital.setDelay(DELAY);
  }, 60_000);

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await gw?.close();
    await hospital?.close();
    await db?.close();
  });

  const waiting = () => metricSum(gw.services.metrics, 'xzq_admission_waiting');
  const inFlight = () => metricSum(gw.services.metrics, 'xzq_admission_in_flight');
  const abandoned = () => metricSum(gw.services.metrics, 'xzq_admission_abandoned_total');
  const until = async (what: () => Promise<boolean> | boolean, ms = 3000) => {
    const end = Date.now() + ms;
    while (!(await what())) {
      if (Date.now() > end) throw new Error('condition not reached');
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const auditRows = async () => Number((await db.db('audit_events').count({ n: '*' }))[0].n);

  test('the second search waits without reaching the hospital, the third is refused at once, health checks never wait', async () => {
    const before = hospital.requestCount();
    const started = Date.now();
    const first = fetch(searchUrl, { headers: auth });
    await until(() => hospital.requestCount() > before);
    const second = fetch(searchUrl, { headers: auth });
    await until(async () => (await waiting()) === 1);

    // the queue is full: refused at once, with an OperationOutcome saying why and when to retry
    const refused = await fetch(searchUrl, { headers: auth });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    const outcome = (await refused.json()) as OperationOutcome;
    expect(outcome.issue[0].details?.coding?.[0].code).toBe('gateway-busy');
    // audited like any refusal, naming its caller
    const refusedId = refused.headers.get('x-request-id')!;
    const rows = await db.db('audit_events').where({ request_id: refusedId }).select('client_id');
    expect(rows).toEqual([{ client_id: 'his-1' }]);

    // routes with nothing to audit do not queue behind searches
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    const metrics = await fetch(`${base}/metrics`, { headers: auth });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^xzq_admission_waiting 1$/m);

    // the waiting search has not reached the hospital while the first holds the only place
    expect(hospital.requestCount()).toBe(before + 1);
    const [a, b] = await Promise.all([first, second]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2 * DELAY - 20);
    expect(hospital.requestCount()).toBe(before + 2);
    expect(await inFlight()).toBe(0);
    expectValidFhir(outcome); // here: the first validation loads the FHIR definitions, which takes a while
    for (const r of [a, b]) {
      const rows = await db.db('audit_events').where({ request_id: r.headers.get('x-request-id')! }).count({ n: '*' });
      expect(Number(rows[0].n)).toBeGreaterThanOrEqual(1);
    }
  });

  test('a request whose client left while it waited is not answered, not sent to a hospital and not audited', async () => {
    const events = await auditRows();
    const before = hospital.requestCount();
    const gone = await abandoned();
    const holder = fetch(searchUrl, { headers: auth });
    await until(() => hospital.requestCount() > before);
    const leaving = new AbortController();
    const left = fetch(searchUrl, { headers: auth, signal: leaving.signal }).catch((e: Error) => e.name);
    await until(async () => (await waiting()) === 1);
    leaving.abort();
    await expect(left).resolves.toBe('AbortError');
    const held = await holder;
    expect(held.status).toBe(200);
    await until(async () => (await abandoned()) === gone + 1);
    expect(hospital.requestCount()).toBe(before + 1);
    const ofHolder = Number((await db.db('audit_events').where({ request_id: held.headers.get('x-request-id')! }).count({ n: '*' }))[0].n);
    expect(ofHolder).toBeGreaterThanOrEqual(1);
    expect(await auditRows()).toBe(events + ofHolder);
    expect(await waiting()).toBe(0);
    expect(await inFlight()).toBe(0);
  });

  test('a client that sends its body slowly holds no place: the request waits its turn only once it is read', async () => {
    const slow = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
    await new Promise((r) => slow.once('connect', r));
    slow.write('POST /auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_');
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    const res = await fetch(searchUrl, { headers: auth });
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(2 * DELAY);
    slow.destroy();
    await until(async () => (await inFlight()) === 0);
    expect(await waiting()).toBe(0);
  });

  // which requests wait for admission: the rule (waitsForAdmission) over this gateway's own route table
  test.each([
    // method, path, waits
    ['GET', '/DiagnosticReport', true], // reads patient data
    ['GET', '/Observation/:id', true],
    ['GET', '/Patient', true],
    ['POST', '/Consent', true],
    ['GET', '/AuditEvent', true],
    ['POST', '/cds-services/:id', true],
    ['GET', '/metadata', false], // nothing to audit
    ['GET', '/healthz', false],
    ['GET', '/.well-known/jwks.json', false],
    ['GET', '/.well-known/smart-configuration', false],
    ['GET', '/cds-services', false],
    ['GET', '/auth/authorize', false],
    ['GET', '/metrics', false], // a scrape must see a busy gateway
    ['POST', '/auth/token', false], // no patient data; its durable writes batch better unqueued
    ['POST', '/auth/authorize', false],
    ['POST', '/auth/revoke', false],
  ] as const)('%s %s → %p', (method, path, waits) => {
    const route = gw.gateway.routes.find((r) => r.method === method && r.path === path);
    expect(route).toBeDefined();
    expect(waitsForAdmission(route)).toBe(waits);
  });

  test('an unknown path never waits for admission', () => {
    expect(waitsForAdmission(undefined)).toBe(false);
  });
});
