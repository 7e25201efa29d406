import type { Resource } from '@medplum/fhirtypes';
import fc from 'fast-check';
import request from 'supertest';
import { NATIONAL_ID_SYSTEM } from '../../../../gateway/patient-index/national-id';
import { makeTestClient, requestToken } from '../../../support/auth';
import { registrarConsent } from '../../../support/consent-http';
import { testDatabases, type TestDb } from '../../../support/databases';
import { hostileText, percentEncode, sendableHeaderValue, unsafeCharIn, unsafeStringsIn, urlComponent } from '../../../support/echo-safety';
import { expectValidFhir } from '../../../support/fhir-validation';
import { OFFLINE_HOSPITAL, startGateway, type StartedGateway } from '../../../support/gateway-harness';

/**
 * Issue #14 (finding 4): whatever a request carries in its path, query or headers, the answer of
 * the real app is never a 500, its body is a valid FHIR resource whose strings hold no control
 * character or lone surrogate, and no header value holds CR, LF or another control character.
 */

const FHIR_JSON = 'application/fhir+json';
const client = makeTestClient({ id: 'echo-his', hospital: OFFLINE_HOSPITAL.id, roles: ['clinician', 'registrar', 'auditor'] });
const RUNS = Number(process.env.ECHO_RUNS ?? 100);

describe.each(testDatabases())('error bodies echo nothing unsafe, on %s', (_name, open) => {
  let t: TestDb;
  let gw: StartedGateway;
  let token: string;

  beforeAll(async () => {
    t = await open();
    gw = await startGateway({ db: t, clients: [client] });
    token = await requestToken(gw.app, client);
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
    await t?.close();
  });

  type Req = { method?: 'get' | 'put'; url: string; headers?: Record<string, string>; body?: unknown; auth?: boolean };

  /** One request, and everything the answer must be whatever was sent. */
  async function expectSafe(r: Req): Promise<{ status: number; body: Resource }> {
    let call = request(gw.app)[r.method ?? 'get'](r.url).set('Accept', FHIR_JSON);
    if (r.auth !== false) call = call.set('Authorization', `Bearer ${token}`);
    for (const [k, v] of Object.entries(r.headers ?? {})) call = call.set(k, v);
    if (r.body !== undefined) call = call.set('Content-Type', FHIR_JSON).send(JSON.stringify(r.body));
    const res = await call.buffer(true).parse((response, done) => {
      const chunks: Buffer[] = [];
      response.on('data', (c: Buffer) => chunks.push(c));
      response.on('end', () => done(null, Buffer.concat(chunks).toString('utf8')));
    });
    const where = `${r.method ?? 'GET'} ${r.url} ${JSON.stringify(r.headers ?? {})} → ${res.status}`;
    expect({ where, status: res.status === 500 ? 500 : 'not 500' }).toEqual({ where, status: 'not 500' });
    for (const [header, v] of Object.entries(res.headers)) {
      for (const one of Array.isArray(v) ? v : [String(v)]) {
        const bad = /[\r\n]/.test(one) ? 'CR/LF' : unsafeCharIn(one);
        expect({ where, header, bad }).toEqual({ where, header, bad: undefined });
      }
    }
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    // Parsed as a client parses it: an escaped lone surrogate (\ud800) becomes one again here.
    const body = JSON.parse(res.body as unknown as string) as Resource;
    expect([where, unsafeStringsIn(body)]).toEqual([where, []]);
    expectValidFhir(body);
    return { status: res.status, body };
  }

  describe('plain cases', () => {
    test('GET /Organization/%00 (the reported bug): a 400 that echoes nothing; a NUL never reaches a handler or the store', async () => {
      const { status, body } = await expectSafe({ url: '/Organization/%00' });
      expect(status).toBe(400);
      expect(body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ details: { coding: [{ code: 'invalid-parameter' }] } }] });
    });

    test.each([
      ['a query value (PostgreSQL text refuses U+0000: was a 500 there)', '/AuditEvent?agent=%00'],
      ['a patient id', '/Patient/a%00b'],
      ['a result search value', '/DiagnosticReport?patient=rp%00-1'],
    ])('a NUL in %s is a 400 invalid-parameter', async (_case, url) => {
      const { status, body } = await expectSafe({ url });
      expect(status).toBe(400);
      expect(body).toMatchObject({ issue: [{ details: { coding: [{ code: 'invalid-parameter' }] } }] });
    });

    test.each([
      ['a C1 control (NEL)', '/Patient/a%C2%85b', 'Patient/a\\u0085b is not known'],
      ['a pair cut at 64 units by the route', `/Patient/${'a'.repeat(63)}%F0%9F%98%80`, `Patient/${'a'.repeat(63)}\ufffd is not known`],
      ['DEL and ESC in a result id', '/DiagnosticReport/h0.r%7F%1B', 'DiagnosticReport/h0.r\\u007f\\u001b is not known'],
    ])('%s', async (_case, url, text) => {
      const { status, body } = await expectSafe({ url });
      expect(status).toBe(404);
      expect(body).toMatchObject({ issue: [{ details: { text } }] });
    });

    test.each([
      ['a lone surrogate in WTF-8 (undecodable)', '/Consent/%ED%A0%80'],
      ['a broken escape', '/Organization/%zz'],
      ['an unknown parameter named by a control', '/Patient?%00=1&identifier=x'],
      ['an unknown parameter with an empty name', '/Patient?=1&identifier=x'],
      ['an unknown parameter named by whitespace', '/Organization?%20=1'],
    ])('%s', async (_case, url) => {
      const { status } = await expectSafe({ url, headers: { Prefer: 'handling=strict' } });
      expect(status).toBe(400);
    });

    test.each([
      ['a result search', '/DiagnosticReport?patient=rp-1&date=%0A'],
      ['an audit search', '/AuditEvent?date=2025%0A01'],
    ])('a line break in the date of %s is a 400 invalid-date (was a 500)', async (_case, url) => {
      const { status, body } = await expectSafe({ url });
      expect(status).toBe(400);
      expect(body).toMatchObject({ issue: [{ details: { coding: [{ code: 'invalid-date' }] }, expression: ['date'] }] });
    });

    test('headers: a C1 byte in If-Match, Prefer and the bearer token', async () => {
      await expectSafe({ method: 'put', url: '/Consent/c-1', headers: { 'If-Match': 'W/"1\x85"' }, body: registrarConsent('p-1') });
      await expectSafe({ url: '/Patient?foo=1&identifier=x', headers: { Prefer: 'handling=strict\x9b' } });
      const { status } = await expectSafe({ url: '/Organization', headers: { Authorization: 'Bearer \x85\xff' }, auth: false });
      expect(status).toBe(401);
    });
  });

  describe('properties', () => {
    const ids = fc.tuple(fc.constantFrom('Organization', 'DiagnosticReport', 'Patient', 'Consent'), urlComponent());

    test('any path id', async () => {
      await fc.assert(
        fc.asyncProperty(ids, async ([type, id]) => {
          await expectSafe({ url: `/${type}/${id}` });
        }),
        { numRuns: RUNS * 2 },
      );
    });

    test('any query value, lenient or strict', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.tuple(urlComponent(), urlComponent()).map(([p, d]) => `/DiagnosticReport?patient=${p}&date=${d}`),
            fc.tuple(urlComponent()).map(([d]) => `/DiagnosticReport?patient=rp-1&date=${d}`),
            urlComponent().map((v) => `/Patient?identifier=${v}`),
            urlComponent().map((v) => `/Patient?identifier=${encodeURIComponent(NATIONAL_ID_SYSTEM)}|${v}`),
            fc.tuple(urlComponent(), urlComponent()).map(([n, v]) => `/Organization?${n}=${v}`),
            fc.tuple(urlComponent(), urlComponent()).map(([n, v]) => `/DiagnosticReport?patient=rp-1&${n}=${v}`),
            fc.tuple(urlComponent(), urlComponent()).map(([n, v]) => `/Consent?${n}=${v}`),
            fc.tuple(fc.constantFrom('date', 'patient', 'agent', 'request-id', '_cursor'), urlComponent()).map(([n, v]) => `/AuditEvent?${n}=${v}`),
          ),
          fc.boolean(),
          async (url, strict) => {
            await expectSafe({ url, headers: strict ? { Prefer: 'handling=strict' } : {} });
          },
        ),
        { numRuns: RUNS * 2 },
      );
    });

    test('any If-Match, Prefer or bearer token a client can send', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('If-Match', 'Prefer', 'Authorization'),
          sendableHeaderValue(),
          hostileText(6).map(percentEncode),
          async (header, value, id) => {
            if (header === 'If-Match') {
              await expectSafe({ method: 'put', url: `/Consent/c-${id}`, headers: { 'If-Match': value }, body: registrarConsent('p-1') });
              await expectSafe({ method: 'put', url: '/Consent/c-1', headers: { 'If-Match': value }, body: registrarConsent('p-1') });
            } else if (header === 'Prefer') {
              await expectSafe({ url: `/Patient?identifier=${id}&x${id}=1`, headers: { Prefer: value } });
              await expectSafe({ url: `/Patient?identifier=${id}&x=1`, headers: { Prefer: `handling=strict, ${value}` } });
            } else {
              await expectSafe({ url: `/Organization/${id}`, headers: { Authorization: `Bearer ${value}` }, auth: false });
              await expectSafe({ url: `/Organization/${id}`, headers: { Authorization: value }, auth: false });
            }
          },
        ),
        { numRuns: RUNS },
      );
    });
  });
});
