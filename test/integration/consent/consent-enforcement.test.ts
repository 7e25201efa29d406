import type { Bundle, Consent, DiagnosticReport, ImagingStudy, OperationOutcome, Resource } from '@medplum/fhirtypes';
import request from 'supertest';
import { createGateway, type Gateway } from '../../../gateway/app';
import { silentLogger } from '../../../gateway/logger';
import { NATIONAL_ID_SYSTEM } from '../../../gateway/patient-index/national-id';
import { createDb, type Db } from '../../../gateway/storage/db';
import { testDatabases, type TestDb } from '../../support/databases';
import { fixedClock, startDemoNetwork, type DemoNetwork } from '../../support/demo-network';
import { expectValidFhir } from '../../support/fhir-validation';
import { auditDetails, auditPurposes, auditRowsOf, errorCodeOf, FHIR_JSON, matches, outcomeEntries } from '../../support/consent-http';

/**
 * Consent enforced on results (API.md §5) over the demo network of fixtures/ — ten simulated
 * hospitals (FHIR, HL7 v2 and SQL adapters) behind the real gateway, the demo consents of
 * fixtures/consents.json loaded — on every test database. Each demo client is a hospital's HIS
 * with roles clinician and registrar.
 *
 * The residents (fixtures/demo-patients.json), by the consent they gave:
 */
const NONE = '350505198812038529'; // no consent; results at qz-zyy, xm-zsh, zz-syy
const FULL = '350203196203151595'; // DC001: permit, every hospital; results in all three cities
const FULL_2 = '350503195807224662'; // DC002 (recorded by qz-dyyy): permit; withdrawn in the second-instance test
const XIAMEN_ONLY = '350206198405092667'; // DC004: actors = the four Xiamen hospitals
const NO_IMAGING_FOR_LHQ = '35060319550226479X'; // DC009: permit with a nested deny of ImagingStudy to zz-lhq
const SYPHILIS = '350211199001178486'; // DC006 permit + DC007 permit naming label R, to xm-dyyy and xm-zsh only
const HCV = '350583198006126216'; // DC008 (recorded by qz-fey): permit, no label; a positive HCV antibody (R)
const WITHDRAWN = '35058219690930943X'; // DC005: inactive

const R_LABEL = { system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' };
const hospitalOf = (r: Resource) => r.id!.slice(0, r.id!.indexOf('.'));
const isRestricted = (r: Resource) => Boolean(r.meta?.security?.some((s) => s.system === R_LABEL.system && s.code === 'R'));

describe.each(testDatabases())('consent enforcement over the demo network on %s', (_name, open) => {
  let t: TestDb;
  let net: DemoNetwork;
  const tokens = new Map<string, string>();
  const cityOf: Record<string, string> = {};

  beforeAll(async () => {
    t = await open();
    net = await startDemoNetwork({ db: t });
    for (const h of net.config.hospitals) cityOf[h.id] = h.city;
  }, 60_000);
  afterAll(async () => {
    await net?.close();
    await t?.close();
  });

  async function token(clientId: string, purposeOfUse?: string): Promise<string> {
    const key = `${clientId}|${purposeOfUse ?? ''}`;
    if (!tokens.has(key)) tokens.set(key, await net.token(clientId, { purposeOfUse }));
    return tokens.get(key)!;
  }
  /** GET as a hospital's HIS (`xm-zsh` → client `xm-zsh-his`), optionally for a purpose of use */
  async function get(hospital: string, url: string, purposeOfUse?: string, app = net.app) {
    const res = await request(app)
      .get(url)
      .set('Authorization', `Bearer ${await token(`${hospital}-his`, purposeOfUse)}`)
      .set('Accept', FHIR_JSON);
    expect(res.body?.resourceType).toBeTruthy();
    expectValidFhir(res.body);
    return res;
  }
  const search = (type: string, nid: string) => `/${type}?patient.identifier=${encodeURIComponent(`${NATIONAL_ID_SYSTEM}|${nid}`)}&_count=200`;
  const regionalId = async (nid: string) => (await net.gateway.services.patientIndex.resolveNationalId(nid))!.id;

  /** a 403 `forbidden` OperationOutcome that names no patient data */
  function expectForbidden(res: request.Response, nid: string): OperationOutcome {
    expect(res.status).toBe(403);
    const o = res.body as OperationOutcome;
    expect(o.resourceType).toBe('OperationOutcome');
    expect(o.issue[0]).toMatchObject({ severity: 'error', code: 'forbidden' });
    expect(JSON.stringify(o)).not.toContain(nid);
    return o;
  }

  /** The one `suppressed` outcome entry: information, no count, no detail of what was left out. */
  function expectOneSuppressed(bundle: Bundle): void {
    const outcomes = outcomeEntries(bundle);
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0].issue).toHaveLength(1);
    const issue = outcomes[0].issue[0];
    expect(issue).toMatchObject({ severity: 'information', code: 'suppressed' });
    expect(issue.diagnostics).toBeUndefined();
    expect(issue.expression).toBeUndefined();
    expect(issue.location).toBeUndefined();
    expect(JSON.stringify(outcomes[0])).not.toMatch(/\d/); // no count, no id, no date
  }

  describe('a patient with no consent (the default is deny)', () => {
    it('search → 403 forbidden, for every result type, audited against the patient', async () => {
      const patientId = await regionalId(NONE);
      for (const type of ['DiagnosticReport', 'ImagingStudy', 'Observation']) {
        const res = await get('xm-zsh', search(type, NONE));
        const o = expectForbidden(res, NONE);
        expect(errorCodeOf(o)).toBe('consent-required');
        const audit = await auditRowsOf(t.db, res.headers['x-request-id']);
        expect(audit).toEqual([expect.objectContaining({ patient_id: patientId, outcome: 4, subtype: 'search-type', purpose: 'TREAT' })]);
        expect(auditDetails(audit[0]).breakGlass).toBeUndefined();
      }
    });

    it('a read of one of their results → 403 forbidden', async () => {
      // the ids come from an emergency search; a normal read of the same result is refused
      const found = await get('xm-zsh', search('DiagnosticReport', NONE), 'ETREAT');
      const [report] = matches<DiagnosticReport>(found.body);
      expect(report).toBeDefined();
      const res = await get('xm-zsh', `/DiagnosticReport/${report.id}`);
      expectForbidden(res, NONE);
      const audit = await auditRowsOf(t.db, res.headers['x-request-id']);
      expect(audit).toEqual([expect.objectContaining({ patient_id: await regionalId(NONE), outcome: 4, subtype: 'read' })]);
    });

    it('a withdrawn consent counts as none → 403', async () => {
      expectForbidden(await get('qz-fey', search('DiagnosticReport', WITHDRAWN)), WITHDRAWN);
    });
  });

  describe('what a consent permits', () => {
    it('a full consent → 200 with results from hospitals in all three cities; a read → 200', async () => {
      const res = await get('xm-zsh', search('DiagnosticReport', FULL));
      expect(res.status).toBe(200);
      const reports = matches<DiagnosticReport>(res.body);
      const hospitals = new Set(reports.map(hospitalOf));
      expect(hospitals.size).toBeGreaterThanOrEqual(3);
      expect(new Set([...hospitals].map((h) => cityOf[h]))).toEqual(new Set(['350200', '350500', '350600']));
      expect(outcomeEntries(res.body)).toEqual([]);
      const audit = await auditRowsOf(t.db, res.headers['x-request-id']);
      expect(audit).toEqual([expect.objectContaining({ patient_id: await regionalId(FULL), outcome: 0 })]);
      // no break-glass, nothing withheld; only the kinds of result released (codes, never values)
      const { items, ...others } = auditDetails(audit[0]);
      expect(others).toEqual({});
      expect(items?.split(',')).toEqual(expect.arrayContaining(['CBC']));

      const read = await get('xm-zsh', `/DiagnosticReport/${reports[0].id}`);
      expect(read.status).toBe(200);
      expect(read.body.id).toBe(reports[0].id);
    });

    it('a consent limited to Xiamen hospitals: a Xiamen hospital gets results (from any city), a Quanzhou one 403', async () => {
      const xm = await get('xm-zsh', search('DiagnosticReport', XIAMEN_ONLY));
      expect(xm.status).toBe(200);
      const reports = matches<DiagnosticReport>(xm.body);
      expect(reports.length).toBeGreaterThan(0);
      // the actors limit who receives, not where the results come from
      expect(reports.some((r) => cityOf[hospitalOf(r)] === '350500')).toBe(true);
      expect(outcomeEntries(xm.body)).toEqual([]);
      const alsoXiamen = await get('xm-dyyy', search('ImagingStudy', XIAMEN_ONLY));
      expect(alsoXiamen.status).toBe(200);

      for (const hospital of ['qz-dyyy', 'zz-syy']) {
        const res = await get(hospital, search('DiagnosticReport', XIAMEN_ONLY));
        expectForbidden(res, XIAMEN_ONLY);
        const [audit] = await auditRowsOf(t.db, res.headers['x-request-id']);
        expect(audit).toMatchObject({ outcome: 4, client_id: `${hospital}-his` });
      }
    });

    it('a nested deny (imaging to zz-lhq): those studies are left out with exactly one bare `suppressed` outcome', async () => {
      const other = await get('zz-syy', search('ImagingStudy', NO_IMAGING_FOR_LHQ));
      expect(other.status).toBe(200);
      const studies = matches<ImagingStudy>(other.body);
      expect(studies.length).toBeGreaterThan(0);
      expect(outcomeEntries(other.body)).toEqual([]);

      const lhq = await get('zz-lhq', search('ImagingStudy', NO_IMAGING_FOR_LHQ));
      expect(lhq.status).toBe(200);
      expect(matches(lhq.body)).toEqual([]);
      expect(lhq.body.total).toBe(0);
      expectOneSuppressed(lhq.body);
      const [audit] = await auditRowsOf(t.db, lhq.headers['x-request-id']);
      expect(audit).toMatchObject({ outcome: 0, patient_id: await regionalId(NO_IMAGING_FOR_LHQ) });
      expect(auditDetails(audit).consentSuppressed).toBe('true');

      // reports are not denied to zz-lhq: the same as another hospital sees
      const lhqReports = await get('zz-lhq', search('DiagnosticReport', NO_IMAGING_FOR_LHQ));
      const syyReports = await get('zz-syy', search('DiagnosticReport', NO_IMAGING_FOR_LHQ));
      expect(matches(lhqReports.body).map((r) => r.id).sort()).toEqual(matches(syyReports.body).map((r) => r.id).sort());
      expect(outcomeEntries(lhqReports.body)).toEqual([]);

      // a read of a denied study is refused outright
      const read = await get('zz-lhq', `/ImagingStudy/${studies[0].id}`);
      const o = expectForbidden(read, NO_IMAGING_FOR_LHQ);
      expect(errorCodeOf(o)).toBe('consent-withheld');

      // break-glass does not pass an explicit deny
      const emergency = await get('zz-lhq', search('ImagingStudy', NO_IMAGING_FOR_LHQ), 'ETREAT');
      expect(emergency.status).toBe(200);
      expect(matches(emergency.body)).toEqual([]);
      expectOneSuppressed(emergency.body);
      const [eAudit] = await auditRowsOf(t.db, emergency.headers['x-request-id']);
      expect(eAudit).toMatchObject({ purpose: 'ETREAT', outcome: 0 });
      expect(auditDetails(eAudit).consentSuppressed).toBe('true');
    });
  });

  describe('sensitive results (catalog items marked sensitive, labelled R)', () => {
    it('released to a hospital the label-naming consent (DC007) names, labelled R', async () => {
      const res = await get('xm-dyyy', search('DiagnosticReport', SYPHILIS));
      expect(res.status).toBe(200);
      const restricted = matches<DiagnosticReport>(res.body).filter(isRestricted);
      expect(restricted).toHaveLength(1);
      expect(restricted[0].meta?.security).toEqual(expect.arrayContaining([expect.objectContaining(R_LABEL)]));
      expect(outcomeEntries(res.body)).toEqual([]);
      const read = await get('xm-dyyy', `/DiagnosticReport/${restricted[0].id}`);
      expect(read.status).toBe(200);
      expect(isRestricted(read.body)).toBe(true);
    });

    it('left out for a hospital the full consent covers but the label-naming one does not', async () => {
      const named = matches<DiagnosticReport>((await get('xm-dyyy', search('DiagnosticReport', SYPHILIS))).body);
      const res = await get('qz-dyyy', search('DiagnosticReport', SYPHILIS));
      expect(res.status).toBe(200);
      const reports = matches<DiagnosticReport>(res.body);
      expect(reports.some(isRestricted)).toBe(false);
      expect(reports.map((r) => r.id).sort()).toEqual(named.filter((r) => !isRestricted(r)).map((r) => r.id).sort());
      expectOneSuppressed(res.body);
      const read = await get('qz-dyyy', `/DiagnosticReport/${named.find(isRestricted)!.id}`);
      expect(errorCodeOf(expectForbidden(read, SYPHILIS))).toBe('consent-withheld');
    });

    it('left out under a full consent that names no label (the HCV antibody)', async () => {
      const res = await get('qz-dyyy', search('DiagnosticReport', HCV));
      expect(res.status).toBe(200);
      const reports = matches<DiagnosticReport>(res.body);
      expect(reports.length).toBeGreaterThan(0);
      expect(reports.some(isRestricted)).toBe(false);
      expectOneSuppressed(res.body);
    });
  });

  describe('break-glass: ETREAT or BTG by a clinician', () => {
    it.each(['ETREAT', 'BTG'])('%s on a patient with no consent → 200, non-sensitive results, marked in the audit trail', async (purpose) => {
      const res = await get('xm-zsh', search('DiagnosticReport', NONE), purpose);
      expect(res.status).toBe(200);
      const reports = matches<DiagnosticReport>(res.body);
      expect(new Set(reports.map(hospitalOf)).size).toBeGreaterThanOrEqual(2);
      expect(reports.some(isRestricted)).toBe(false);
      const audit = await auditRowsOf(t.db, res.headers['x-request-id']);
      expect(audit).toEqual([expect.objectContaining({ patient_id: await regionalId(NONE), outcome: 0, purpose })]);
      expect(auditDetails(audit[0]).breakGlass).toBe('true');
      expect(auditPurposes(audit[0])).toEqual(expect.arrayContaining([purpose, 'BTG']));

      const read = await get('xm-zsh', `/DiagnosticReport/${reports[0].id}`, purpose);
      expect(read.status).toBe(200);
      const [readAudit] = await auditRowsOf(t.db, read.headers['x-request-id']);
      expect(auditDetails(readAudit).breakGlass).toBe('true');
    });

    it('where a consent already permits, an emergency sees what the consent permits, no more', async () => {
      const normal = await get('xm-zsh', search('DiagnosticReport', FULL));
      const res = await get('xm-zsh', search('DiagnosticReport', FULL), 'ETREAT');
      expect(res.status).toBe(200);
      expect(matches(res.body).map((r) => r.id)).toEqual(matches(normal.body).map((r) => r.id));
      const [audit] = await auditRowsOf(t.db, res.headers['x-request-id']);
      expect(audit).toMatchObject({ purpose: 'ETREAT', outcome: 0 });
    });

    it('an emergency never releases a sensitive result the label-naming consent does not give this hospital', async () => {
      // the syphilis result is released only by DC007 (xm-dyyy, xm-zsh); break-glass never releases a label
      const res = await get('qz-dyyy', search('DiagnosticReport', SYPHILIS), 'ETREAT');
      expect(res.status).toBe(200);
      expect(matches<DiagnosticReport>(res.body).some(isRestricted)).toBe(false);
      expectOneSuppressed(res.body);
    });
  });

  describe('withdrawal (PUT status inactive) holds from the very next request', () => {
    it('on the same instance: 403 at once; break-glass then passes, but not past the sensitive label', async () => {
      const patientId = await regionalId(HCV);
      expect((await get('qz-fey', search('DiagnosticReport', HCV))).status).toBe(200);

      const found = await get('qz-fey', `/Consent?patient=${patientId}`);
      const consent = (found.body as Bundle<Consent>).entry!.map((e) => e.resource!).find((c) => c.status === 'active')!;
      expect(consent.organization).toEqual([expect.objectContaining({ reference: 'Organization/qz-fey' })]);
      // only the recording hospital may withdraw it
      const foreign = await request(net.app)
        .put(`/Consent/${consent.id}`)
        .set('Authorization', `Bearer ${await token('qz-dyyy-his')}`)
        .set('Content-Type', FHIR_JSON)
        .send(JSON.stringify({ ...consent, status: 'inactive' }));
      expect(foreign.status).toBe(403);
      expectValidFhir(foreign.body);

      const put = await request(net.app)
        .put(`/Consent/${consent.id}`)
        .set('Authorization', `Bearer ${await token('qz-fey-his')}`)
        .set('Content-Type', FHIR_JSON)
        .set('If-Match', `W/"${consent.meta!.versionId}"`)
        .send(JSON.stringify({ ...consent, status: 'inactive' }));
      expect(put.status).toBe(200);
      expectValidFhir(put.body);
      expect(put.body.status).toBe('inactive');

      expectForbidden(await get('qz-fey', search('DiagnosticReport', HCV)), HCV);
      expectForbidden(await get('qz-dyyy', search('DiagnosticReport', HCV)), HCV);

      const emergency = await get('qz-fey', search('DiagnosticReport', HCV), 'ETREAT');
      expect(emergency.status).toBe(200);
      const reports = matches<DiagnosticReport>(emergency.body);
      expect(reports.length).toBeGreaterThan(0);
      expect(reports.some(isRestricted)).toBe(false);
      expectOneSuppressed(emergency.body);
      const [audit] = await auditRowsOf(t.db, emergency.headers['x-request-id']);
      expect(audit).toMatchObject({ patient_id: patientId, purpose: 'ETREAT', outcome: 0 });
      expect(auditDetails(audit)).toMatchObject({ breakGlass: 'true', consentSuppressed: 'true' });
    });

    it('on a second gateway instance sharing the database, on its very next request', async () => {
      let db2: Db | undefined;
      let second: Gateway | undefined;
      try {
        db2 = createDb(t.config);
        second = await createGateway(net.config, { db: db2, clock: fixedClock(), log: silentLogger() });
        const before = await get('xm-zsh', search('DiagnosticReport', FULL_2), undefined, second.app);
        expect(before.status).toBe(200);
        expect(matches(before.body).length).toBeGreaterThan(0);

        const patientId = await regionalId(FULL_2);
        const [consent] = (await get('qz-dyyy', `/Consent?patient=${patientId}&status=active`)).body.entry.map((e: { resource: Consent }) => e.resource);
        const put = await request(net.app)
          .put(`/Consent/${consent.id}`)
          .set('Authorization', `Bearer ${await token('qz-dyyy-his')}`)
          .set('Content-Type', FHIR_JSON)
          .send(JSON.stringify({ ...consent, status: 'inactive' }));
        expect(put.status).toBe(200);

        const after = await get('xm-zsh', search('DiagnosticReport', FULL_2), undefined, second.app);
        expectForbidden(after, FULL_2);
        // the second instance wrote its own audit record to the shared trail
        const [audit] = await auditRowsOf(t.db, after.headers['x-request-id']);
        expect(audit).toMatchObject({ patient_id: patientId, outcome: 4 });
        // and the history of the consent, read through the second instance, has both versions
        const history = await get('qz-dyyy', `/Consent/${consent.id}/_history`, undefined, second.app);
        expect(history.body.entry.map((e: { resource: Consent }) => e.resource.status)).toEqual(['inactive', 'active']);
      } finally {
        await second?.close();
        await db2?.destroy();
      }
    });
  });
});
