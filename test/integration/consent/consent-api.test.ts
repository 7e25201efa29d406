import type { Bundle, Consent, OperationOutcome } from '@medplum/fhirtypes';
import request from 'supertest';
import { makeTestClient, requestToken } from '../../support/auth';
import { testDatabases, type TestDb } from '../../support/databases';
import { expectValidFhir } from '../../support/fhir-validation';
import { OFFLINE_HOSPITAL, startGateway, TEST_BASE_URL, type StartedGateway } from '../../support/gateway-harness';
import { auditRowsOf, consentRows, errorCodeOf, expressionsOf, FHIR_JSON, recipient, registrarConsent } from '../../support/consent-http';

/**
 * The registrar's consent endpoints (API.md §5) through the real app: real config, real signed
 * tokens, real routes, dispatcher and audit trail, on every test database. Hospitals are offline:
 * recording a consent never asks one.
 */

const hospital = (id: string, city: string) => ({ ...OFFLINE_HOSPITAL, id, city });
const HOSPITALS = [hospital('xm-zsh', '350200'), hospital('xm-dyyy', '350200'), hospital('qz-dyyy', '350500')];

const registrarZsh = makeTestClient({ id: 'xm-zsh-registry', hospital: 'xm-zsh', roles: ['registrar'] });
const registrarQz = makeTestClient({ id: 'qz-dyyy-registry', hospital: 'qz-dyyy', roles: ['registrar'] });
const clinicianZsh = makeTestClient({ id: 'xm-zsh-doctor', hospital: 'xm-zsh', roles: ['clinician'] });

const P1 = 'rp-consent-api-1';
const P2 = 'rp-consent-api-2';

describe.each(testDatabases())('consent API over HTTP on %s', (_name, open) => {
  let t: TestDb;
  let gw: StartedGateway;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    t = await open();
    gw = await startGateway({ db: t, hospitals: HOSPITALS, clients: [registrarZsh, registrarQz, clinicianZsh] });
    await t.db('patients').insert([
      { id: P1, national_id: '350203199001010018', created_at: '2026-01-01T00:00:00.000Z' },
      { id: P2, national_id: '350503198506150026', created_at: '2026-01-01T00:00:00.000Z' },
    ]);
    // Both residents are patients of both registrars' hospitals (a consent is recorded where the resident is cared for).
    await t.db('patient_links').insert(
      [P1, P2].flatMap((p) => ['xm-zsh', 'qz-dyyy'].map((h) => ({ patient_id: p, hospital_id: h, local_id: `L-${p}`, updated_at: '2026-01-01T00:00:00.000Z' }))),
    );
    for (const c of [registrarZsh, registrarQz, clinicianZsh]) tokens[c.id] = await requestToken(gw.app, c);
  });
  afterAll(async () => {
    await gw?.close();
    await t?.close();
  });

  const as = (clientId: string) => {
    const auth = (r: request.Test) => r.set('Authorization', `Bearer ${tokens[clientId]}`).set('Accept', FHIR_JSON);
    return {
      get: (url: string) => auth(request(gw.app).get(url)),
      post: (url: string, body: unknown) => auth(request(gw.app).post(url)).set('Content-Type', FHIR_JSON).send(JSON.stringify(body)),
      put: (url: string, body: unknown, ifMatch?: string) => {
        const r = auth(request(gw.app).put(url)).set('Content-Type', FHIR_JSON);
        if (ifMatch) r.set('If-Match', ifMatch);
        return r.send(JSON.stringify(body));
      },
      delete: (url: string) => auth(request(gw.app).delete(url)),
    };
  };
  const zsh = as(registrarZsh.id);
  const qz = as(registrarQz.id);
  const doctor = as(clinicianZsh.id);

  /** the OperationOutcome of a refusal, valid R4, with no stack trace or SQL */
  function refusal(res: request.Response, status: number): OperationOutcome {
    expect(res.status).toBe(status);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expectValidFhir(res.body);
    expect(JSON.stringify(res.body)).not.toMatch(/at \S+\.(ts|js):\d+|node_modules|SELECT |INSERT /);
    return res.body as OperationOutcome;
  }

  describe('the life of one consent: create, read, search, withdraw, history', () => {
    let created: Consent;

    it('POST /Consent → 201 with Location; stored with organization = the registrar\'s hospital', async () => {
      const before = await consentRows(t.db);
      const res = await zsh.post('/Consent', registrarConsent(P1, { type: 'permit', actor: [recipient('xm-dyyy'), recipient('xm-zsh')] }));
      expect(res.status).toBe(201);
      expectValidFhir(res.body);
      created = res.body as Consent;
      expect(created.id).toMatch(/^[A-Za-z0-9\-.]{1,64}$/);
      expect(res.headers.location).toBe(`${TEST_BASE_URL}/Consent/${created.id}/_history/1`);
      expect(res.headers.etag).toBe('W/"1"');
      expect(created).toMatchObject({
        status: 'active',
        patient: { reference: `Patient/${P1}` },
        organization: [{ reference: 'Organization/xm-zsh' }],
        meta: { versionId: '1' },
      });
      expect(await consentRows(t.db)).toEqual({ consents: before.consents + 1, history: before.history + 1 });
      const row = await t.db('consents').where({ id: created.id }).first();
      expect(row).toMatchObject({ patient_id: P1, status: 'active', organization: 'xm-zsh' });
      expect(Number(row.version_id)).toBe(1);
      expect(JSON.parse(row.resource)).toEqual(created);

      const [audit] = await auditRowsOf(t.db, res.headers['x-request-id']);
      expect(audit).toMatchObject({ patient_id: P1, client_id: registrarZsh.id, outcome: 0, subtype: 'create' });
    });

    it('a registrar cannot name another hospital as organization (403), nothing stored', async () => {
      const before = await consentRows(t.db);
      const res = await zsh.post('/Consent', { ...registrarConsent(P1), organization: [{ reference: 'Organization/qz-dyyy' }] });
      const o = refusal(res, 403);
      expect(o.issue[0].code).toBe('forbidden');
      expect(expressionsOf(o)).toContain('Consent.organization');
      expect(await consentRows(t.db)).toEqual(before);
      const [audit] = await auditRowsOf(t.db, res.headers['x-request-id']);
      expect(audit).toMatchObject({ outcome: 4, subtype: 'create' });
    });

    it('GET /Consent/{id} and GET /Consent?patient= find it', async () => {
      const read = await zsh.get(`/Consent/${created.id}`);
      expect(read.status).toBe(200);
      expectValidFhir(read.body);
      expect(read.body).toEqual(created);

      for (const q of [P1, `Patient/${P1}`]) {
        const res = await zsh.get(`/Consent?patient=${encodeURIComponent(q)}`);
        expect(res.status).toBe(200);
        expectValidFhir(res.body);
        const bundle = res.body as Bundle;
        expect(bundle.type).toBe('searchset');
        expect(bundle.total).toBe(1);
        expect(bundle.entry?.map((e) => e.resource)).toEqual([created]);
        const [audit] = await auditRowsOf(t.db, res.headers['x-request-id']);
        expect(audit).toMatchObject({ patient_id: P1, outcome: 0, subtype: 'search-type' });
      }
      const other = await zsh.get(`/Consent?patient=${P2}`);
      expect(other.status).toBe(200);
      expectValidFhir(other.body);
      expect(other.body.total).toBe(0);
    });

    it('another hospital\'s registrar cannot PUT it (403), nothing stored', async () => {
      const before = await consentRows(t.db);
      const res = await qz.put(`/Consent/${created.id}`, { ...created, status: 'inactive' });
      const o = refusal(res, 403);
      expect(o.issue[0].code).toBe('forbidden');
      expect(errorCodeOf(o)).toBe('foreign-consent');
      expect(await consentRows(t.db)).toEqual(before);
      expect((await zsh.get(`/Consent/${created.id}`)).body.status).toBe('active');
      const [audit] = await auditRowsOf(t.db, res.headers['x-request-id']);
      expect(audit).toMatchObject({ patient_id: P1, client_id: registrarQz.id, outcome: 4, subtype: 'update' });
    });

    it('PUT with a stale If-Match → 412, nothing stored', async () => {
      const before = await consentRows(t.db);
      const o = refusal(await zsh.put(`/Consent/${created.id}`, { ...created, status: 'inactive' }, 'W/"7"'), 412);
      expect(o.issue[0].code).toBe('conflict');
      expect(await consentRows(t.db)).toEqual(before);
    });

    it('PUT status inactive withdraws it: version 2, the same id, 200', async () => {
      const res = await zsh.put(`/Consent/${created.id}`, { ...created, status: 'inactive' }, 'W/"1"');
      expect(res.status).toBe(200);
      expectValidFhir(res.body);
      expect(res.body).toMatchObject({ id: created.id, status: 'inactive', meta: { versionId: '2' }, organization: [{ reference: 'Organization/xm-zsh' }] });
      expect(res.headers.etag).toBe('W/"2"');
      const row = await t.db('consents').where({ id: created.id }).first();
      expect(row.status).toBe('inactive');
      expect(Number(row.version_id)).toBe(2);
      const [audit] = await auditRowsOf(t.db, res.headers['x-request-id']);
      expect(audit).toMatchObject({ patient_id: P1, outcome: 0, subtype: 'update' });

      const active = await zsh.get(`/Consent?patient=${P1}&status=active`);
      expectValidFhir(active.body);
      expect(active.body.total).toBe(0);
      const withdrawn = await zsh.get(`/Consent?patient=${P1}&status=inactive`);
      expect(withdrawn.body.entry.map((e: { resource: Consent }) => e.resource.id)).toEqual([created.id]);
    });

    it('GET /Consent/{id}/_history holds both versions, newest first; vread gives each', async () => {
      const res = await zsh.get(`/Consent/${created.id}/_history`);
      expect(res.status).toBe(200);
      expectValidFhir(res.body);
      const bundle = res.body as Bundle<Consent>;
      expect(bundle.type).toBe('history');
      expect(bundle.entry?.map((e) => [e.resource?.meta?.versionId, e.resource?.status])).toEqual([
        ['2', 'inactive'],
        ['1', 'active'],
      ]);
      expect(bundle.entry?.map((e) => e.request?.method)).toEqual(['PUT', 'POST']);

      const v1 = await zsh.get(`/Consent/${created.id}/_history/1`);
      expect(v1.status).toBe(200);
      expectValidFhir(v1.body);
      expect(v1.body).toEqual(created);
      const v2 = await zsh.get(`/Consent/${created.id}/_history/2`);
      expectValidFhir(v2.body);
      expect(v2.body.status).toBe('inactive');
      refusal(await zsh.get(`/Consent/${created.id}/_history/3`), 404);
      expect(await t.db('consent_history').where({ id: created.id }).count({ n: '*' }).then(([r]) => Number(r.n))).toBe(2);
    });

    it('DELETE /Consent/{id} and DELETE /Consent → 405; the consent is kept', async () => {
      for (const url of [`/Consent/${created.id}`, '/Consent']) {
        const res = await zsh.delete(url);
        const o = refusal(res, 405);
        expect(o.issue[0].code).toBe('not-supported');
        const [audit] = await auditRowsOf(t.db, res.headers['x-request-id']);
        expect(audit).toMatchObject({ outcome: 4, subtype: 'delete' });
      }
      expect((await zsh.get(`/Consent/${created.id}`)).status).toBe(200);
    });
  });

  describe('who may use the endpoints', () => {
    it('a clinician (no registrar role) → 403 on every consent endpoint, audited, nothing stored', async () => {
      const before = await consentRows(t.db);
      const existing = (await t.db('consents').first('id')).id as string;
      for (const res of [
        await doctor.post('/Consent', registrarConsent(P2)),
        await doctor.get(`/Consent?patient=${P2}`),
        await doctor.get(`/Consent/${existing}`),
        await doctor.put(`/Consent/${existing}`, registrarConsent(P2)),
      ]) {
        const o = refusal(res, 403);
        expect(o.issue[0].code).toBe('forbidden');
        const [audit] = await auditRowsOf(t.db, res.headers['x-request-id']);
        expect(audit).toMatchObject({ client_id: clinicianZsh.id, outcome: 4 });
      }
      expect(await consentRows(t.db)).toEqual(before);
    });

    it('no token → 401', async () => {
      const res = await request(gw.app).get(`/Consent?patient=${P1}`);
      const o = refusal(res, 401);
      expect(o.issue[0].code).toBe('login');
    });
  });

  describe('bad input → 400/422 naming the problem, nothing stored, audited', () => {
    const base = () => registrarConsent(P2) as unknown as Record<string, any>;
    const withProvision = (provision: unknown) => ({ ...base(), provision });
    const rows: Array<[string, () => unknown, number, string]> = [
      ['not a Consent', () => ({ resourceType: 'Patient', id: 'x' }), 422, 'resourceType'],
      ['a JSON array', () => [base()], 422, 'Consent'],
      ['no patient', () => ({ ...base(), patient: undefined }), 422, 'Consent.patient'],
      ['patient not a Patient reference', () => ({ ...base(), patient: { reference: 'Organization/xm-zsh' } }), 422, 'Consent.patient.reference'],
      ['an unknown patient', () => ({ ...base(), patient: { reference: 'Patient/nobody-here' } }), 422, 'Consent.patient'],
      ['R4-invalid: dateTime of the wrong type', () => ({ ...base(), dateTime: 20261120 }), 422, 'Consent.dateTime'],
      ['R4-invalid: an element R4 does not have', () => ({ ...base(), expires: '2027-01-01' }), 422, 'Consent.expires'],
      ['status draft on POST', () => ({ ...base(), status: 'draft' }), 422, 'Consent.status'],
      ['a wrong scope', () => ({ ...base(), scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'treatment' }] } }), 422, 'Consent.scope'],
      ['a wrong category', () => ({ ...base(), category: [{ coding: [{ system: 'http://loinc.org', code: '57016-8' }] }] }), 422, 'Consent.category'],
      ['a root deny', () => withProvision({ type: 'deny' }), 422, 'Consent.provision.type'],
      ['a reversed period', () => withProvision({ type: 'permit', period: { start: '2027-01-01', end: '2026-01-01' } }), 422, 'Consent.provision.period'],
      ['a reversed dataPeriod', () => withProvision({ type: 'permit', dataPeriod: { start: '2026-03-01', end: '2026-02-28' } }), 422, 'Consent.provision.dataPeriod'],
      [
        'a reversed nested period',
        () => withProvision({ type: 'permit', provision: [{ type: 'deny', period: { start: '2026-12-31T10:00:00+08:00', end: '2026-12-31T09:00:00+08:00' } }] }),
        422,
        'Consent.provision.provision[0].period',
      ],
      ['an unknown actor', () => withProvision({ type: 'permit', actor: [recipient('sh-ruijin')] }), 422, 'Consent.provision.actor[0].reference'],
      ['organization of another hospital', () => ({ ...base(), organization: [{ reference: 'Organization/xm-dyyy' }] }), 403, 'Consent.organization'],
    ];

    // the body builder last, so the title prints the status and the field
    it.each(rows.map(([what, body, status, expression]) => [what, status, expression, body] as const))('%s → %i naming %s', async (_what, status, expression, body) => {
      const before = await consentRows(t.db);
      const res = await zsh.post('/Consent', body());
      const o = refusal(res, status);
      expect(expressionsOf(o)).toContain(expression);
      for (const i of o.issue) {
        expect(i.severity).toBe('error');
        expect(i.details?.text).toBeTruthy();
      }
      expect(JSON.stringify(o)).not.toContain('350503198506150026');
      expect(await consentRows(t.db)).toEqual(before);
      const audit = await auditRowsOf(t.db, res.headers['x-request-id']);
      expect(audit.length).toBeGreaterThanOrEqual(1);
      for (const a of audit) expect(a).toMatchObject({ client_id: registrarZsh.id, outcome: 4, subtype: 'create' });
    });

    it('an unknown patient is named in the audit trail of the refused request', async () => {
      const res = await zsh.post('/Consent', { ...base(), patient: { reference: 'Patient/nobody-here' } });
      refusal(res, 422);
      const audit = await auditRowsOf(t.db, res.headers['x-request-id']);
      expect(audit.map((a) => a.patient_id)).toEqual(['nobody-here']);
    });

    it.each<[string, number, string, string]>([
      ['malformed JSON', 400, FHIR_JSON, '{"resourceType": "Consent", '],
      ['an empty body', 400, FHIR_JSON, ''],
      ['a body that is not JSON at all', 415, 'text/plain', 'consent please'],
    ])('%s → %i, nothing stored', async (_what, status, type, raw) => {
      const before = await consentRows(t.db);
      const res = await request(gw.app)
        .post('/Consent')
        .set('Authorization', `Bearer ${tokens[registrarZsh.id]}`)
        .set('Content-Type', type)
        .send(raw);
      refusal(res, status);
      expect(await consentRows(t.db)).toEqual(before);
      const [audit] = await auditRowsOf(t.db, res.headers['x-request-id']);
      expect(audit).toMatchObject({ outcome: 4 });
    });

    it('PUT of an unknown consent → 404; PUT with another id in the body → 400; nothing stored', async () => {
      const before = await consentRows(t.db);
      refusal(await zsh.put('/Consent/does-not-exist', { ...base(), id: 'does-not-exist' }), 404);
      const posted = await zsh.post('/Consent', base());
      expect(posted.status).toBe(201);
      const after = await consentRows(t.db);
      expect(after).toEqual({ consents: before.consents + 1, history: before.history + 1 });
      const o = refusal(await zsh.put(`/Consent/${posted.body.id}`, { ...posted.body, id: 'another' }), 400);
      expect(expressionsOf(o)).toContain('Consent.id');
      const bad = refusal(await zsh.put(`/Consent/${posted.body.id}`, { ...posted.body, status: 'draft' }), 422);
      expect(expressionsOf(bad)).toContain('Consent.status');
      expect(await consentRows(t.db)).toEqual(after);
    });

    it('GET /Consent without patient → 400', async () => {
      const o = refusal(await zsh.get('/Consent'), 400);
      expect(o.issue[0].details?.text).toMatch(/patient/);
    });
  });
});
