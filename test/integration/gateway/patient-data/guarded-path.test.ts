import type { Bundle, DiagnosticReport, OperationOutcome, Parameters, Patient, Resource } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path_ from 'node:path';
import request from 'supertest';
import { orderSelectExample } from '../../../../fixtures/demo/demo-network';
import { buildCdsClientJwt, DEMO_KEYS_DIR } from '../../../../gateway/cli/token';
import { createExpressApp } from '../../../../gateway/http/express-app';
import type { Route } from '../../../../gateway/http/route';
import { NATIONAL_ID_SYSTEM } from '../../../../gateway/patient-index/national-id';
import { mrnSystem } from '../../../../gateway/patient-index/patient-resource';
import { PATIENT_DATA_TYPES, unreleasedIn } from '../../../../gateway/patient-data/release';
import type { Access } from '../../../../gateway/patient-data/contract';
import { AccessRecord, type Requester } from '../../../../gateway/context';
import { registrarConsent } from '../../../support/consent-http';
import { testDatabases, type TestDb } from '../../../support/databases';
import { DEMO_ANCHOR, startDemoNetwork, type DemoNetwork } from '../../../support/demo-network';
import { expectValidFhir } from '../../../support/fhir-validation';
import { metricSum } from '../../../support/metrics';

/**
 * The one guarded path to patient data (docs/patient-data.md), over the demo network: every route
 * of the route table that answers with patient data goes through the guarded patient data; an
 * answer holding patient data that did not come through it is refused; and identity answers show
 * only what consent permits the asking hospital to know.
 */
const FULL = '350203196203151595'; // DC001: permit, every hospital
const NONE = '350505198812038529'; // no consent (default deny); results at qz-zyy, xm-zsh, zz-syy

const FHIR_JSON = 'application/fhir+json';
const counterSum = (net: DemoNetwork, name: string) => metricSum(net.gateway.services.metrics, name);

describe.each(testDatabases())('the guarded path to patient data on %s', (_name, open) => {
  let t: TestDb;
  let net: DemoNetwork;
  const tokens = new Map<string, string>();
  const token = async (client: string) => {
    if (!tokens.has(client)) tokens.set(client, await net.token(client, client === 'audit-office' || client === 'ops-monitor' ? { user: { id: 'A1' } } : {}));
    return tokens.get(client)!;
  };
  let fullId: string;
  let noneId: string;
  const resultIds: Record<string, string> = {};

  beforeAll(async () => {
    t = await open();
    net = await startDemoNetwork({ db: t });
    const pix = await request(net.app)
      .get(`/Patient?identifier=${encodeURIComponent(`${NATIONAL_ID_SYSTEM}|${FULL}`)}`)
      .set('Authorization', `Bearer ${await token('xm-zsh-his')}`);
    fullId = (pix.body as Bundle).entry![0].resource!.id!;
    noneId = (await net.gateway.services.patientIndex.resolveNationalId(NONE))!.id;
    for (const type of ['DiagnosticReport', 'Observation', 'ImagingStudy']) {
      const res = await request(net.app).get(`/${type}?patient=${fullId}&_count=1`).set('Authorization', `Bearer ${await token('xm-zsh-his')}`);
      resultIds[type] = (res.body as Bundle).entry!.find((e) => e.search?.mode === 'match')!.resource!.id!;
    }
  }, 60_000);
  afterAll(async () => {
    await net?.close();
    await t?.close();
  });

  /** A request for a route as a HIS would make it: path parameters and the query filled in with real values. */
  function exampleRequest(route: Route): { url: string; client: string; form?: Record<string, string>; body?: unknown; bearer?: string } {
    if (route.access.kind === 'cds-client') {
      // A HIS's order screen asking about a 血常规 order, with the CDS client JWT for that service.
      const path = route.path.replace(':id', 'recognition-order-select');
      const bearer = buildCdsClientJwt({
        clientId: 'xm-zsh-his',
        privateJwk: JSON.parse(readFileSync(path_.join(DEMO_KEYS_DIR, 'xm-zsh-his.private.jwk.json'), 'utf8')),
        serviceUrl: `${net.config.publicBaseUrl}/cds-services/recognition-order-select`,
        nowSeconds: Math.floor(DEMO_ANCHOR.getTime() / 1000),
      });
      const body = route.interaction === 'feedback' ? { feedback: [{ card: 'no-such-card', outcome: 'accepted', outcomeTimestamp: DEMO_ANCHOR.toISOString() }] } : JSON.parse(orderSelectExample(FULL));
      return { url: path, client: 'xm-zsh-his', body, bearer };
    }
    const type = route.resourceType ?? '';
    const id = type === 'Patient' ? fullId : resultIds[type] ?? (type === 'Organization' ? 'xm-zsh' : 'x');
    const path = route.path.replace(':id', id).replace(':vid', '1').replace(':type', type)
      // DICOMweb: UIDs of no study of this ImagingStudy (the guarded path reads it, then answers 404)
      .replace(':study', '1.2.3').replace(':series', '1.2.3.1').replace(':instance', '1.2.3.1.1').replace(':frames', '1');
    const query: Record<string, string> = {};
    if (['DiagnosticReport', 'Observation', 'ImagingStudy'].includes(type) && route.interaction === 'search-type') query.patient = fullId;
    if (type === 'Patient' && route.interaction === 'search-type') query.identifier = `${NATIONAL_ID_SYSTEM}|${FULL}`;
    if (route.interaction === '$ihe-pix') query.sourceIdentifier = `${NATIONAL_ID_SYSTEM}|${FULL}`;
    if (route.interaction === '$recognition') query.item = 'CBC';
    if (route.interaction === 'qido-rs') query.PatientID = fullId;
    if (route.interaction === '$access-report') Object.assign(query, { from: DEMO_ANCHOR.toISOString().slice(0, 10), to: DEMO_ANCHOR.toISOString().slice(0, 10) });
    const roles = route.access.kind === 'token' ? route.access.roles ?? [] : [];
    const needsAuditor = roles.length > 0 && !roles.includes('clinician') && !roles.includes('registrar');
    const client = needsAuditor ? (roles.includes('auditor') ? 'audit-office' : 'ops-monitor') : route.resourceType === 'AuditEvent' ? 'audit-office' : 'xm-zsh-his';
    const qs = new URLSearchParams(query).toString();
    if (route.body === 'form') return { url: path, client, form: query };
    // a merge names its patients in the body (refused here: into itself, or not merged — after the guarded path has looked)
    if (route.interaction === '$merge' || route.interaction === '$unmerge') {
      const parameter = [
        { name: 'source-patient', valueReference: { reference: `Patient/${fullId}` } },
        ...(route.interaction === '$merge' ? [{ name: 'target-patient', valueReference: { reference: `Patient/${fullId}` } }] : []),
        { name: 'reason', valueString: 'guarded-path test' },
      ];
      return { url: path, client, body: { resourceType: 'Parameters', parameter } };
    }
    return { url: qs ? `${path}?${qs}` : path, client, body: route.method === 'GET' ? undefined : { resourceType: 'Parameters' } };
  }

  it('every route that answers with patient data goes through the guarded patient data, and no answer carries unreleased patient data', async () => {
    const dataRoutes: string[] = [];
    for (const route of net.gateway.routes) {
      const ex = exampleRequest(route);
      const before = await counterSum(net, 'xzq_patient_data_access_total');
      let req = request(net.app)[route.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete'](ex.url).set('Accept', FHIR_JSON);
      if (route.access.kind === 'token') req = req.set('Authorization', `Bearer ${await token(ex.client)}`);
      if (ex.bearer) req = req.set('Authorization', `Bearer ${ex.bearer}`);
      const res = await (ex.form ? req.type('form').send(ex.form) : ex.body ? req.set('Content-Type', FHIR_JSON).send(JSON.stringify(ex.body)) : req);
      const label = `${route.method} ${route.path}`;
      expect([label, res.status]).not.toEqual([label, 500]);
      const after = await counterSum(net, 'xzq_patient_data_access_total');
      // The CDS Hooks call reads the patient's results (its feedback reads only the gateway's own cards).
      const concernsPatientData = (PATIENT_DATA_TYPES.has(route.resourceType ?? '') && route.access.kind === 'token') || route.interaction === 'cds-hook';
      if (concernsPatientData) {
        dataRoutes.push(label);
        expect([label, after > before]).toEqual([label, true]);
      } else {
        // Routes of other owners (consent, audit, organizations, ops) never reach patient data.
        expect([label, after]).toEqual([label, before]);
      }
      if (res.body && typeof res.body === 'object' && 'resourceType' in res.body) expectValidFhir(res.body as Resource);
    }
    // Results (3 types × search, _search, read), patients (search, _search, read, PIXm), recognition (2), CDS Hooks (1).
    expect(dataRoutes.length).toBeGreaterThanOrEqual(16);
    expect(dataRoutes).toContain('POST /cds-services/:id');
    expect(await counterSum(net, 'xzq_unreleased_patient_data_refused_total')).toBe(0);
  }, 60_000);

  it('an answer with patient data that did not come through the guarded path is refused: 500, no data, counted', async () => {
    const leak: Route = {
      method: 'GET',
      path: '/leak',
      interaction: 'read',
      access: { kind: 'token' },
      audited: true,
      body: 'none',
      handler: async () => ({ body: { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: { resourceType: 'Patient', id: 'p', identifier: [{ system: NATIONAL_ID_SYSTEM, value: NONE }] } }] } }),
    };
    const s = net.gateway.services;
    const app = createExpressApp({ config: s.config, clock: s.clock, log: s.log, metrics: s.metrics, auth: s.auth, audit: s.audit }, [...net.gateway.routes, leak]);
    const res = await request(app).get('/leak').set('Authorization', `Bearer ${await token('xm-zsh-his')}`);
    expect(res.status).toBe(500);
    expectValidFhir(res.body);
    expect((res.body as OperationOutcome).resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(res.body)).not.toContain(NONE);
    expect(await counterSum(net, 'xzq_unreleased_patient_data_refused_total')).toBe(1);
  });

  describe('identity before consent', () => {
    const identifiers = (p: Patient) => (p.identifier ?? []).map((i) => i.system);
    const asHospital = async (hospital: string, url: string) =>
      request(net.app).get(url).set('Authorization', `Bearer ${await token(`${hospital}-his`)}`).set('Accept', FHIR_JSON);

    it('a resident whose consent permits the asker: the national id and every hospital\'s record number', async () => {
      const res = await asHospital('xm-dyyy', `/Patient?identifier=${encodeURIComponent(`${NATIONAL_ID_SYSTEM}|${FULL}`)}`);
      expect(res.status).toBe(200);
      expectValidFhir(res.body);
      const p = (res.body as Bundle).entry!.find((e) => e.search?.mode === 'match')!.resource as Patient;
      expect(identifiers(p)).toContain(NATIONAL_ID_SYSTEM);
      expect(new Set(identifiers(p).filter((s) => s !== NATIONAL_ID_SYSTEM)).size).toBeGreaterThan(1);
    });

    it('no consent, the asker treated the resident: regional id, the national id given, its own record number only — and a suppressed outcome', async () => {
      const res = await asHospital('xm-zsh', `/Patient?identifier=${encodeURIComponent(`${NATIONAL_ID_SYSTEM}|${NONE}`)}`);
      expect(res.status).toBe(200);
      expectValidFhir(res.body);
      const b = res.body as Bundle;
      const p = b.entry!.find((e) => e.search?.mode === 'match')!.resource as Patient;
      expect(p.id).toBe(noneId);
      expect(identifiers(p).sort()).toEqual([NATIONAL_ID_SYSTEM, mrnSystem(net.config.canonicalBase, 'xm-zsh')].sort());
      expect(b.entry!.some((e) => e.search?.mode === 'outcome' && (e.resource as OperationOutcome).issue[0].code === 'suppressed')).toBe(true);
    });

    it('no consent, a hospital that never treated the resident: the regional id and the national id it gave, nothing about other hospitals', async () => {
      const res = await asHospital('xm-dyyy', `/Patient?identifier=${encodeURIComponent(`${NATIONAL_ID_SYSTEM}|${NONE}`)}`);
      const p = (res.body as Bundle).entry!.find((e) => e.search?.mode === 'match')!.resource as Patient;
      expect(identifiers(p)).toEqual([NATIONAL_ID_SYSTEM]);
      const read = await asHospital('xm-dyyy', `/Patient/${noneId}`);
      expect(read.status).toBe(200);
      expectValidFhir(read.body);
      expect((read.body as Patient).identifier).toBeUndefined();
      expect((read.body as Patient).birthDate).toBeUndefined();
      const pix = await asHospital('xm-dyyy', `/Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent(`${NATIONAL_ID_SYSTEM}|${NONE}`)}`);
      expect(pix.status).toBe(200);
      expectValidFhir(pix.body);
      expect((pix.body as Parameters).parameter!.map((x) => x.name)).toEqual(['targetId']);
    });

    it('no consent, another hospital\'s record number: answered as unknown, so it cannot tell where the resident was treated', async () => {
      const links = (await net.gateway.services.patientIndex.get(noneId))!.links;
      const foreign = links.find((l) => l.hospitalId !== 'xm-dyyy' && l.mrns.length)!;
      const system = mrnSystem(net.config.canonicalBase, foreign.hospitalId);
      const search = await asHospital('xm-dyyy', `/Patient?identifier=${encodeURIComponent(`${system}|${foreign.mrns[0]}`)}`);
      expect(search.status).toBe(200);
      expect((search.body as Bundle).total).toBe(0);
      const pix = await asHospital('xm-dyyy', `/Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent(`${system}|${foreign.mrns[0]}`)}`);
      expect(pix.status).toBe(404);
      expectValidFhir(pix.body);
      // The hospital that issued the number is answered as before.
      const own = await asHospital(foreign.hospitalId, `/Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent(`${system}|${foreign.mrns[0]}`)}`);
      expect(own.status).toBe(200);
    });
  });

  describe("a report's members, released only when an answer shows them (PatientResults.membersOf)", () => {
    const requester = (hospitalId: string): Requester => ({ clientId: `${hospitalId}-his`, hospitalId, roles: ['clinician'], scopes: ['system/DiagnosticReport.rs'], user: { id: 'D1', roles: [] }, purposeOfUse: 'TREAT' });
    const accessAs = (hospitalId: string): Access => ({ requester: requester(hospitalId), record: new AccessRecord(randomUUID()) });

    it("a report's members: none among the results, each released as a result when asked for — gateway form, in the report's order, annotated, once", async () => {
      const access = accessAs('xm-zsh');
      const found = (await net.gateway.services.patientData.results(access, { patientId: fullId }, ['DiagnosticReport', 'ImagingStudy']))!;
      expect(found.results.map((f) => f.resource.resourceType)).not.toContain('Observation');
      const reports = found.results.filter((f) => f.resource.resourceType === 'DiagnosticReport' && (f.resource as DiagnosticReport).result?.length);
      expect(reports.length).toBeGreaterThan(1);
      for (const report of reports) {
        const members = found.membersOf(report);
        const refs = (report.resource as DiagnosticReport).result!.map((r) => r.reference);
        // every member the hospital sent, in the report's order, under the ids the report names
        expect(members.map((o) => `Observation/${o.id}`)).toEqual(refs);
        for (const o of members) {
          expectValidFhir(o);
          expect(unreleasedIn(o)).toBeUndefined();
          expect(o.subject?.reference).toBe(`Patient/${fullId}`);
          // annotated for recognition as any released result (the same extension as its report's)
          expect(JSON.stringify(o.extension ?? [])).toContain('recognition');
        }
        // released once: asked again, the same objects
        expect(found.membersOf(report)).toBe(members);
      }
      expect(access.record.suppressed).toBe(false);
      // nothing else has members to release: a study, a copy of a report, a report of another answer
      const study = found.results.find((f) => f.resource.resourceType === 'ImagingStudy')!;
      expect(found.membersOf(study)).toEqual([]);
      expect(found.membersOf({ ...reports[0], resource: structuredClone(reports[0].resource) })).toEqual([]);
      const again = (await net.gateway.services.patientData.results(accessAs('xm-zsh'), { patientId: fullId }, ['DiagnosticReport']))!;
      expect(again.membersOf(reports[0])).toEqual([]);
    });

    it('members consent withholds are left out and the access is marked suppressed, though their report is released', async () => {
      // 李娜 has no consent; one that permits reports only (every hospital) is recorded for this test
      const registrar = await net.token('xm-zsh-his');
      const provision = { type: 'permit' as const, class: [{ system: 'http://hl7.org/fhir/resource-types', code: 'DiagnosticReport' }] };
      const posted = await request(net.app).post('/Consent').set('Authorization', `Bearer ${registrar}`).set('Content-Type', FHIR_JSON).send(JSON.stringify(registrarConsent(noneId, provision)));
      expect(posted.status).toBe(201);
      try {
        const access = accessAs('xm-zsh');
        const found = (await net.gateway.services.patientData.results(access, { patientId: noneId }, ['DiagnosticReport']))!;
        const reports = found.results.filter((f) => (f.resource as DiagnosticReport).result?.length);
        expect(reports.length).toBeGreaterThan(0);
        expect(access.record.suppressed).toBe(false);
        for (const report of reports) expect(found.membersOf(report)).toEqual([]);
        expect(access.record.suppressed).toBe(true);
      } finally {
        // withdrawn again (stored with status inactive), so 李娜 is without consent for the rest of the file
        const withdrawn = await request(net.app)
          .put(`/Consent/${posted.body.id}`)
          .set('Authorization', `Bearer ${registrar}`)
          .set('Content-Type', FHIR_JSON)
          .set('If-Match', `W/"${posted.body.meta.versionId}"`)
          .send(JSON.stringify({ ...posted.body, status: 'inactive' }));
        expect(withdrawn.status).toBe(200);
      }
    });
  });
});
