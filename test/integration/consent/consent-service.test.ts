import type { Bundle, Consent } from '@medplum/fhirtypes';
import { createConsentService, type ExplainingConsentGate, type GatewayConsentService } from '../../../consent/consent-service';
import { createConsentStore, VersionConflict } from '../../../consent/consent-store';
import { loadDemoConsents } from '../../../fixtures/demo/demo-consents';
import { isOperationOutcomeError, type OperationOutcomeError } from '../../../gateway/fhir/outcomes';
import { createDb, type Db } from '../../../gateway/storage/db';
import { consentRoutes } from '../../../gateway/http/routes/consent-routes';
import { testDatabases, type TestDb } from '../../support/databases';
import { expectValidFhir } from '../../support/fhir-validation';
import { addPatient, call, clinician, fixedClock, newConsent, registrar, serviceDeps, testConfig } from '../../support/consent-fixtures';

/**
 * The consent store and service (API.md §5) on a real database — SQLite always, PostgreSQL when
 * TEST_DATABASE_URL is set: versions and history, the registrar's endpoints, every refusal with
 * nothing stored, and a withdrawal seen by a second gateway instance on its own connection.
 */
const NID1 = '350203199001010018';
const NID2 = '350503198506150026';
const CBC = { resourceType: 'DiagnosticReport' as const, hospitalId: 'qz-dyyy', date: '2026-10-01', catalogItem: 'CBC', securityLabels: [] };

async function refusal(p: Promise<unknown>): Promise<OperationOutcomeError> {
  try {
    await p;
  } catch (e) {
    if (isOperationOutcomeError(e)) {
      expectValidFhir(e.outcome);
      return e;
    }
    throw e;
  }
  throw new Error('expected a refusal');
}

async function counts(db: Db) {
  const [a] = await db('consents').count({ n: '*' });
  const [b] = await db('consent_history').count({ n: '*' });
  return { consents: Number(a.n), history: Number(b.n) };
}

describe.each(testDatabases())('consent on %s', (_name, open) => {
  let t: TestDb;
  const clock = fixedClock('2026-11-29T04:00:00.000Z');
  let service: GatewayConsentService;

  beforeAll(async () => {
    t = await open();
    await addPatient(t.db, 'p1', NID1);
    await addPatient(t.db, 'p2', NID2);
    await addPatient(t.db, 'p3', '11010519491231002X');
    service = createConsentService(serviceDeps(t.db, clock));
  });
  afterAll(async () => t?.close());

  describe('the store', () => {
    it('keeps every version, sets versionId and lastUpdated, and reads the active ones', async () => {
      const store = createConsentStore(t.db, clock);
      const v1 = await store.create(newConsent('p2'), 'p2', 'xm-zsh');
      expect(v1.meta).toEqual({ versionId: '1', lastUpdated: '2026-11-29T04:00:00.000Z' });
      clock.set('2026-11-29T05:00:00.000Z');
      const v2 = await store.update(v1.id!, { ...v1, status: 'inactive' });
      expect(v2.meta).toEqual({ versionId: '2', lastUpdated: '2026-11-29T05:00:00.000Z' });
      expect((await store.history(v1.id!)).map((c) => [c.meta?.versionId, c.status])).toEqual([['2', 'inactive'], ['1', 'active']]);
      expect((await store.readVersion(v1.id!, 1))?.status).toBe('active');
      expect((await store.read(v1.id!))?.status).toBe('inactive');
      expect(await store.activeFor('p2')).toEqual([]);
      expect((await store.byPatient('p2')).map((c) => c.id)).toContain(v1.id);
      expect((await store.byPatient('p2', { status: 'inactive' })).map((c) => c.id)).toEqual([v1.id]);
      for (const c of await store.history(v1.id!)) expectValidFhir(c);
    });

    it('refuses a stale If-Match and gives concurrent writers distinct versions', async () => {
      const store = createConsentStore(t.db, clock);
      const c = await store.create(newConsent('p2'), 'p2', 'xm-zsh');
      await expect(store.update(c.id!, c, 7)).rejects.toBeInstanceOf(VersionConflict);
      const otherDb = createDb(t.config); // a second instance's own pool
      try {
        const other = createConsentStore(otherDb, clock);
        await Promise.all([1, 2, 3, 4].map((i) => (i % 2 ? store : other).update(c.id!, { ...c, dateTime: `2026-11-0${i}` })));
      } finally {
        await otherDb.destroy();
      }
      const versions = (await store.history(c.id!)).map((v) => Number(v.meta?.versionId));
      expect(versions).toEqual([5, 4, 3, 2, 1]);
    });
  });

  describe('POST, GET, PUT /Consent', () => {
    let created: Consent;

    it('POST stores version 1 and answers 201 with Location', async () => {
      const res = await call(consentRoutes(service.registry, testConfig().publicBaseUrl), 'POST', '/Consent', { body: newConsent('p1', { type: 'permit', actor: [ircp('xm-zsh')] }) });
      created = res.body as Consent;
      expect(res.status).toBe(201);
      expect(res.headers?.Location).toBe(`http://127.0.0.1:8080/Consent/${created.id}/_history/1`);
      expect(created.organization).toEqual([{ reference: 'Organization/xm-zsh' }]);
      expect(created.meta?.versionId).toBe('1');
      expect([...res.record.patients]).toEqual(['p1']);
      expect([...res.record.resourceIds]).toEqual([`Consent/${created.id}`]);
      expect(res.record.interaction).toBe('create');
      expectValidFhir(created);
    });

    it('GET by id, search by patient, history and vread', async () => {
      const routes = consentRoutes(service.registry, testConfig().publicBaseUrl);
      const read = await call(routes, 'GET', `/Consent/${created.id}`);
      expect(read.body).toEqual(created);
      expect(read.headers?.ETag).toBe('W/"1"');
      const search = await call(routes, 'GET', '/Consent?patient=Patient/p1');
      const bundle = search.body as Bundle;
      expectValidFhir(bundle);
      expect(bundle.type).toBe('searchset');
      expect(bundle.entry?.map((e) => e.resource?.id)).toEqual([created.id]);
      expect([...search.record.patients]).toEqual(['p1']);
      const history = (await call(routes, 'GET', `/Consent/${created.id}/_history`)).body as Bundle;
      expectValidFhir(history);
      expect(history.type).toBe('history');
      const v1 = await call(routes, 'GET', `/Consent/${created.id}/_history/1`);
      expect((v1.body as Consent).meta?.versionId).toBe('1');
      expectValidFhir(v1.body as Consent);
    });

    it('GET without patient is 400; unknown ids are 404', async () => {
      const routes = consentRoutes(service.registry, testConfig().publicBaseUrl);
      expect((await refusal(call(routes, 'GET', '/Consent'))).status).toBe(400);
      expect((await refusal(call(routes, 'GET', '/Consent/nope'))).status).toBe(404);
      expect((await refusal(call(routes, 'GET', `/Consent/${created.id}/_history/9`))).status).toBe(404);
      expect((await refusal(call(routes, 'GET', '/Consent/nope/_history'))).status).toBe(404);
    });

    it('DELETE is 405: consents are kept', async () => {
      for (const url of ['/Consent', `/Consent/${created.id}`]) {
        const e = await refusal(call(consentRoutes(service.registry, testConfig().publicBaseUrl), 'DELETE', url));
        expect(e.status).toBe(405);
      }
      expect(await service.store.read(created.id!)).toBeDefined();
    });

    it('another hospital\'s registrar may not change it (403), nothing stored', async () => {
      const before = await counts(t.db);
      const e = await refusal(call(consentRoutes(service.registry, testConfig().publicBaseUrl), 'PUT', `/Consent/${created.id}`, { body: { ...created, status: 'inactive' }, requester: registrar('xm-dyyy') }));
      expect(e.status).toBe(403);
      expect(e.outcome.issue[0].expression).toEqual(['Consent.organization']);
      expect(await counts(t.db)).toEqual(before);
    });

    it('PUT with another id in the body is 400; with a stale If-Match 412', async () => {
      expect((await refusal(call(consentRoutes(service.registry, testConfig().publicBaseUrl), 'PUT', `/Consent/${created.id}`, { body: { ...created, id: 'other' } }))).status).toBe(400);
      const e = await refusal(call(consentRoutes(service.registry, testConfig().publicBaseUrl), 'PUT', `/Consent/${created.id}`, { body: created, headers: { 'if-match': 'W/"5"' } }));
      expect(e.status).toBe(412);
    });

    it('withdrawal holds on the very next request, also for a second instance on its own connection', async () => {
      const secondDb = createDb(t.config);
      try {
        const second = createConsentService(serviceDeps(secondDb, clock));
        const gate = (await second.gateFor('p1', clinician('xm-zsh'))) as ExplainingConsentGate;
        expect(gate.permits(CBC)).toBe(true);
        expect(gate.breakGlass).toBe(false);

        const res = await call(consentRoutes(service.registry, testConfig().publicBaseUrl), 'PUT', `/Consent/${created.id}`, { body: { ...created, status: 'inactive' }, headers: { 'if-match': 'W/"1"' } });
        expect(res.status).toBe(200);
        expect((res.body as Consent).meta?.versionId).toBe('2');
        expectValidFhir(res.body as Consent);

        const refused = await refusal(second.gateFor('p1', clinician('xm-zsh')));
        expect(refused.status).toBe(403);
        expect(refused.outcome.issue[0].code).toBe('forbidden');
        // break-glass still passes, marked
        const emergency = await second.gateFor('p1', clinician('xm-zsh', 'ETREAT'));
        expect(emergency.breakGlass).toBe(true);
        expect(emergency.permits(CBC)).toBe(true);
        expect(emergency.permits({ ...CBC, securityLabels: ['R'] })).toBe(false);
      } finally {
        await secondDb.destroy();
      }
    });

    it('the registering hospital may re-activate it by PUT', async () => {
      const res = await call(consentRoutes(service.registry, testConfig().publicBaseUrl), 'PUT', `/Consent/${created.id}`, { body: { ...created, status: 'active' } });
      expect((res.body as Consent).meta?.versionId).toBe('3');
      const gate = await service.gateFor('p1', clinician());
      expect(gate.permits(CBC)).toBe(true);
      expect(gate.breakGlass).toBe(false);
    });

    it('an emergency request under a partial consent is marked break-glass; explain tells per result', async () => {
      const res = await call(consentRoutes(service.registry, testConfig().publicBaseUrl), 'POST', '/Consent', {
        body: newConsent('p3', { type: 'permit', class: [{ system: 'http://hl7.org/fhir/resource-types', code: 'ImagingStudy' }] }),
      });
      const gate = (await service.gateFor('p3', clinician('xm-zsh', 'ETREAT'))) as ExplainingConsentGate;
      expect(gate.breakGlass).toBe(true);
      expect(gate.explain({ ...CBC, resourceType: 'ImagingStudy' })).toMatchObject({ permit: true, reason: 'consent-permit', consentId: (res.body as Consent).id });
      expect(gate.explain(CBC)).toMatchObject({ permit: true, reason: 'break-glass', breakGlass: true });
    });
  });

  describe('bad input → the right status, the field named, nothing stored', () => {
    const base = () => newConsent('p1') as unknown as Record<string, any>;
    const cases: Array<[string, () => unknown, number, string]> = [
      ['not a Consent', () => ({ resourceType: 'Patient', id: 'x' }), 422, 'resourceType'],
      ['not an object', () => [base()], 422, 'Consent'],
      ['R4-invalid (unknown element)', () => ({ ...base(), flavour: 'x' }), 422, 'Consent.flavour'],
      ['R4-invalid status code', () => ({ ...base(), status: 'withdrawn' }), 422, 'Consent.status'],
      ['missing patient', () => ({ ...base(), patient: undefined }), 422, 'Consent.patient'],
      ['unknown patient', () => ({ ...base(), patient: { reference: 'Patient/ghost' } }), 422, 'Consent.patient'],
      ['root deny', () => ({ ...base(), provision: { type: 'deny' } }), 422, 'Consent.provision.type'],
      ['reversed period', () => ({ ...base(), provision: { type: 'permit', period: { start: '2027-01-01', end: '2026-01-01' } } }), 422, 'Consent.provision.period'],
      ['reversed nested dataPeriod', () => ({ ...base(), provision: { type: 'permit', provision: [{ type: 'deny', dataPeriod: { start: '2026-02-01', end: '2026-01-01' } }] } }), 422, 'Consent.provision.provision[0].dataPeriod'],
      ['unknown actor', () => ({ ...base(), provision: { type: 'permit', actor: [ircp('nowhere')] } }), 422, 'Consent.provision.actor[0].reference'],
      ['wrong scope', () => ({ ...base(), scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'research' }] } }), 422, 'Consent.scope'],
      ['wrong category', () => ({ ...base(), category: [{ coding: [{ system: 'http://loinc.org', code: '64292-6' }] }] }), 422, 'Consent.category'],
      ['another hospital as organization', () => ({ ...base(), organization: [{ reference: 'Organization/qz-dyyy' }] }), 403, 'Consent.organization'],
    ];
    it.each(cases)('%s → %i naming %s', async (_n, body, status, expression) => {
      const before = await counts(t.db);
      const e = await refusal(call(consentRoutes(service.registry, testConfig().publicBaseUrl), 'POST', '/Consent', { body: body() }));
      expect(e.status).toBe(status);
      expect(e.outcome.issue.flatMap((i) => i.expression ?? [])).toContain(expression);
      expect(e.outcome.issue.every((i) => i.details?.text)).toBe(true);
      expect(await counts(t.db)).toEqual(before);
    });

    it('a registrar without a hospital is refused (403)', async () => {
      const e = await refusal(call(consentRoutes(service.registry, testConfig().publicBaseUrl), 'POST', '/Consent', { body: base(), requester: { ...registrar(), hospitalId: undefined } }));
      expect(e.status).toBe(403);
    });
  });

  describe('opt-out and the demo loader', () => {
    it('with default permit and no consent, non-sensitive results pass without break-glass', async () => {
      const optOut = createConsentService(serviceDeps(t.db, clock, testConfig('permit')));
      const gate = await optOut.gateFor('nobody', clinician('qz-dyyy'));
      expect(gate.breakGlass).toBe(false);
      expect(gate.permits(CBC)).toBe(true);
      expect(gate.permits({ ...CBC, securityLabels: ['HIV'] })).toBe(false);
    });

    it('loads demo consents by national id, idempotently, and never brings back a withdrawn one', async () => {
      const fixture = { ...newConsent('x'), patient: { identifier: { system: 'urn:oid:2.16.156.10011.1.3', value: NID2 } }, organization: [{ reference: 'Organization/qz-dyyy' }] } as unknown as Consent;
      const unknown = { ...fixture, patient: { identifier: { system: 'urn:oid:2.16.156.10011.1.3', value: '350602197703080033' } } } as Consent;
      const deps = { services: { consent: service }, patientIndex: serviceDeps(t.db, clock).patientIndex };
      expect(await loadDemoConsents(deps, [fixture, unknown])).toEqual({ loaded: 1, skipped: 0, unresolved: 1 });
      expect(await loadDemoConsents(deps, [fixture, unknown])).toEqual({ loaded: 0, skipped: 1, unresolved: 1 });
      const [stored] = (await service.store.byPatient('p2')).filter((c) => c.organization?.[0]?.reference === 'Organization/qz-dyyy');
      expect(stored.patient).toEqual({ reference: 'Patient/p2' });
      expectValidFhir(stored);
      await service.store.update(stored.id!, { ...stored, status: 'inactive' });
      expect(await loadDemoConsents(deps, [fixture])).toEqual({ loaded: 0, skipped: 1, unresolved: 0 });
      await expect(loadDemoConsents(deps, [{ ...fixture, provision: { type: 'deny' } } as Consent])).rejects.toThrow(/consents\[0\]: not a valid consent/);
    });
  });
});

function ircp(hospital: string) {
  return {
    role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] },
    reference: { reference: `Organization/${hospital}` },
  };
}
