import type { AuditEvent, Bundle, OperationOutcome, Parameters } from '@medplum/fhirtypes';
import request from 'supertest';
import { makeTestClient, requestToken, signClientAssertion, tokenRequestForm, TOKEN_PATH } from '../../../support/auth';
import { testDatabases, type TestDb } from '../../../support/databases';
import { expectValidFhir } from '../../../support/fhir-validation';
import { startGateway, TEST_BASE_URL, type StartedGateway } from '../../../support/gateway-harness';

/**
 * The audit trail through the real gateway over HTTP (API.md §7): every request, allowed or
 * refused, leaves an AuditEvent an auditor finds by the response's X-Request-Id; writes are 405; a
 * trail that cannot be written turns the answer into a 503 with no data.
 */

const auditorClient = makeTestClient({ id: 'audit-office', roles: ['auditor'] });
const hisClient = makeTestClient({ id: 'xm-offline-his', hospital: 'xm-offline', roles: ['clinician'] });

describe.each(testDatabases())('audit trail over HTTP on %s', (_name, open) => {
  let t: TestDb;
  let gw: StartedGateway;
  let auditorToken: string;
  let hisToken: string;

  beforeAll(async () => {
    t = await open();
    gw = await startGateway({ db: t, clients: [auditorClient, hisClient] });
    auditorToken = await requestToken(gw.app, auditorClient, { user: { id: 'A001', name: '审计员' } });
    hisToken = await requestToken(gw.app, hisClient, { user: { id: 'D1029', name: '林医生', role: { system: 'urn:oid:2.16.156.10011.2.3.3.1', code: '221' } }, purposeOfUse: 'ETREAT' });
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
    await t?.close();
  });

  const asAuditor = (path: string) => request(gw.app).get(path).set('Authorization', `Bearer ${auditorToken}`);
  async function eventsOf(requestId: string): Promise<AuditEvent[]> {
    const res = await asAuditor(`/AuditEvent?request-id=${encodeURIComponent(requestId)}`);
    expect(res.status).toBe(200);
    const b = res.body as Bundle<AuditEvent>;
    expectValidFhir(b);
    return (b.entry ?? []).map((e) => e.resource!);
  }
  const agent = (e: AuditEvent, code: string) => e.agent.find((a) => a.type?.coding?.[0]?.code === code);

  test('a token request is recorded with the client and the person it was issued for', async () => {
    const assertion = signClientAssertion(hisClient, { aud: `${TEST_BASE_URL}${TOKEN_PATH}`, user: { id: 'D77', name: '王医生' } });
    const res = await request(gw.app).post(TOKEN_PATH).type('form').send(tokenRequestForm(assertion));
    expect(res.status).toBe(200);
    const [ev, more] = await eventsOf(res.headers['x-request-id']);
    expect(more).toBeUndefined();
    expect(ev.subtype?.map((s) => s.code)).toEqual(['token']);
    expect(ev.outcome).toBe('0');
    expect(agent(ev, '110153')?.who?.identifier?.value).toBe('xm-offline-his');
    expect(ev.agent.find((a) => a.requestor)?.who?.identifier?.value).toBe('D77');
    expect(Buffer.from(ev.entity!.find((x) => x.role?.code === '24')!.query!, 'base64').toString()).toBe('POST /auth/token');
    expect(JSON.stringify(ev)).not.toContain(assertion.split('.')[2]);
  });

  test('a refused token request (bad signature) names the claimed client', async () => {
    const other = makeTestClient({ id: 'someone-else', roles: ['auditor'] });
    const assertion = signClientAssertion(hisClient, { aud: `${TEST_BASE_URL}${TOKEN_PATH}`, key: other.privateKey });
    const res = await request(gw.app).post(TOKEN_PATH).type('form').send(tokenRequestForm(assertion));
    expect([400, 401]).toContain(res.status);
    const [ev] = await eventsOf(res.headers['x-request-id']);
    expect(ev.outcome).toBe('4');
    expect(agent(ev, '110153')?.who?.identifier?.value).toBe('xm-offline-his');
    expect(agent(ev, '110153')?.who?.display).toMatch(/claimed/);
  });

  test('401 without a token and 403 for a clinician are recorded', async () => {
    const anon = await request(gw.app).get('/AuditEvent?patient=p1');
    expect(anon.status).toBe(401);
    const [e401] = await eventsOf(anon.headers['x-request-id']);
    expect(e401.outcome).toBe('4');
    expect(e401.outcomeDesc).toBe('HTTP 401');

    const denied = await request(gw.app).get('/AuditEvent').set('Authorization', `Bearer ${hisToken}`);
    expect(denied.status).toBe(403);
    expect(denied.body.resourceType).toBe('OperationOutcome');
    const [e403] = await eventsOf(denied.headers['x-request-id']);
    expect(e403.outcome).toBe('4');
    expect(e403.agent.find((a) => a.requestor)?.who?.identifier?.value).toBe('D1029');
    expect(e403.purposeOfEvent?.[0].coding?.[0].code).toBe('ETREAT');
  });

  test('an unknown endpoint (404) is recorded with the caller', async () => {
    const res = await request(gw.app).get('/NoSuchThing/1?x=y').set('Authorization', `Bearer ${hisToken}`);
    expect(res.status).toBe(404);
    const [ev] = await eventsOf(res.headers['x-request-id']);
    expect(ev.outcome).toBe('4');
    expect(agent(ev, '110153')?.who?.identifier?.value).toBe('xm-offline-his');
    expect(Buffer.from(ev.entity!.find((x) => x.role?.code === '24')!.query!, 'base64').toString()).toBe('GET /NoSuchThing/1?x=y');
  });

  test('GET /AuditEvent: searchset, newest first, paged by next links', async () => {
    for (let i = 0; i < 3; i++) await request(gw.app).get('/Organization').set('Authorization', `Bearer ${hisToken}`);
    let res = await asAuditor('/AuditEvent?agent=D1029&_count=2');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/fhir\+json/);
    const seen: string[] = [];
    for (let guard = 0; guard < 20; guard++) {
      const b = res.body as Bundle<AuditEvent>;
      expectValidFhir(b);
      seen.push(...(b.entry ?? []).map((e) => e.resource!.recorded));
      const next = b.link?.find((l) => l.relation === 'next')?.url;
      if (!next) break;
      res = await asAuditor(next.slice(TEST_BASE_URL.length));
      expect(res.status).toBe(200);
    }
    expect(seen.length).toBeGreaterThanOrEqual(5);
    expect([...seen].sort().reverse()).toEqual(seen);
  });

  test('bad parameters → 400 OperationOutcome', async () => {
    for (const qs of ['_count=1000', 'date=sa2025-01-01', 'outcome=7']) {
      const res = await asAuditor(`/AuditEvent?${qs}`);
      expect(res.status).toBe(400);
      expectValidFhir(res.body as OperationOutcome);
    }
    const strict = await asAuditor('/AuditEvent?nonsense=1').set('Prefer', 'handling=strict');
    expect(strict.status).toBe(400);
    expect((await asAuditor('/AuditEvent?nonsense=1')).status).toBe(200);
  });

  test('GET /AuditEvent/:id and $verify', async () => {
    const list = (await asAuditor('/AuditEvent?_count=1')).body as Bundle<AuditEvent>;
    const id = list.entry![0].resource!.id!;
    const read = await asAuditor(`/AuditEvent/${id}`);
    expect(read.status).toBe(200);
    expect(read.body.id).toBe(id);
    expect((await asAuditor('/AuditEvent/does-not-exist')).status).toBe(404);
    const v = await asAuditor('/AuditEvent/$verify');
    expect(v.status).toBe(200);
    const p = v.body as Parameters;
    expectValidFhir(p);
    expect(p.parameter?.find((x) => x.name === 'valid')?.valueBoolean).toBe(true);
    expect(p.parameter?.find((x) => x.name === 'checked')?.valueInteger).toBeGreaterThan(5);
  });

  test.each([
    ['post', '/AuditEvent'], ['put', '/AuditEvent/x'], ['patch', '/AuditEvent/x'], ['delete', '/AuditEvent/x'], ['delete', '/AuditEvent'],
  ] as const)('%s %s → 405, and the attempt is recorded', async (method, path) => {
    const res = await request(gw.app)[method](path).set('Authorization', `Bearer ${auditorToken}`).set('Content-Type', 'application/fhir+json').send('{"resourceType":"AuditEvent"}');
    expect(res.status).toBe(405);
    expect(res.body.resourceType).toBe('OperationOutcome');
    const [ev] = await eventsOf(res.headers['x-request-id']);
    expect(ev.outcome).toBe('4');
  });

  test('a huge forged query string is answered and recorded safely', async () => {
    const res = await request(gw.app).get(`/AuditEvent?patient=${'x'.repeat(6000)}&junk=%00%ff`).set('Authorization', `Bearer ${auditorToken}`);
    expect(res.status).toBe(400);
    const [ev] = await eventsOf(res.headers['x-request-id']);
    expect(ev.outcome).toBe('4');
    expect(ev.entity!.find((x) => x.role?.code === '24')!.detail?.[0].type).toBe('truncated');
  });

  test('when the trail cannot be written the answer is 503 with no data', async () => {
    await t.db.schema.renameTable('audit_events', 'audit_events_away');
    try {
      const res = await request(gw.app).get('/Organization').set('Authorization', `Bearer ${hisToken}`);
      expect(res.status).toBe(503);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(JSON.stringify(res.body)).not.toContain('Organization/');
    } finally {
      await t.db.schema.renameTable('audit_events_away', 'audit_events');
    }
    expect((await asAuditor('/AuditEvent/$verify')).body.parameter[0].valueBoolean).toBe(true);
  });
});
