import { createHash } from 'node:crypto';
import type { Consent, OperationOutcome } from '@medplum/fhirtypes';
import request from 'supertest';
import { NATIONAL_ID_SYSTEM } from '../../../gateway/patient-index/national-id';
import { testDatabases, type TestDb } from '../../support/databases';
import { DEMO_ANCHOR, startDemoNetwork, type DemoNetwork } from '../../support/demo-network';
import { expectValidFhir } from '../../support/fhir-validation';
import { auditRowsOf, consentRows, errorCodeOf, FHIR_JSON, recipient, registrarConsent } from '../../support/consent-http';

/**
 * A consent cannot be self-granted (issue #14, finding 1; docs/consent.md §2), tried as an attacker
 * with a valid hospital client would, over the demo network: a registrar records consent only for
 * its own hospital's patients, with dates of now, and the signed form is kept with its hash.
 */
const NONE = '350505198812038529'; // no consent; a patient of qz-zyy, xm-zsh and zz-syy only
const HCV = '350583198006126216'; // DC008 by qz-fey: permit, no label; a patient of qz-fey and qz-dyyy only
const LABEL_R = { system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' };
const at = (offsetMs: number) => new Date(DEMO_ANCHOR.getTime() + offsetMs).toISOString();

describe.each(testDatabases())('consent cannot be self-granted, on %s', (_name, open) => {
  let t: TestDb;
  let net: DemoNetwork;
  const tokens = new Map<string, string>();
  const as = async (hospital: string) => {
    if (!tokens.has(hospital)) tokens.set(hospital, await net.token(`${hospital}-his`));
    const auth = (r: request.Test) => r.set('Authorization', `Bearer ${tokens.get(hospital)}`).set('Accept', FHIR_JSON);
    return {
      get: (url: string) => auth(request(net.app).get(url)),
      post: (url: string, body: unknown) => auth(request(net.app).post(url)).set('Content-Type', FHIR_JSON).send(JSON.stringify(body)),
      put: (url: string, body: unknown) => auth(request(net.app).put(url)).set('Content-Type', FHIR_JSON).send(JSON.stringify(body)),
    };
  };
  /** The regional id, looked up as the registrar's HIS would (API.md §5: look the resident up first). */
  const lookUp = async (hospital: string, nid: string) => {
    const res = await (await as(hospital)).get(`/Patient?identifier=${encodeURIComponent(`${NATIONAL_ID_SYSTEM}|${nid}`)}`);
    expect(res.status).toBe(200);
    return res.body.entry[0].resource.id as string;
  };
  const results = async (hospital: string, nid: string) =>
    (await as(hospital)).get(`/DiagnosticReport?patient.identifier=${encodeURIComponent(`${NATIONAL_ID_SYSTEM}|${nid}`)}&_count=200`);

  beforeAll(async () => {
    t = await open();
    net = await startDemoNetwork({ db: t });
  }, 60_000);
  afterAll(async () => {
    await net?.close();
    await t?.close();
  });

  it('a registrar of a hospital that never treated the resident is refused (403 not-registrar-patient), nothing stored, audited; its clinicians still see nothing', async () => {
    const patient = await lookUp('xm-dyyy', NONE);
    expect((await results('xm-dyyy', NONE)).status).toBe(403);
    const before = await consentRows(t.db);
    const attack = await (await as('xm-dyyy')).post('/Consent', registrarConsent(patient, { type: 'permit', actor: [recipient('xm-dyyy')], securityLabel: [LABEL_R] }));
    expect(attack.status).toBe(403);
    expectValidFhir(attack.body);
    expect(errorCodeOf(attack.body as OperationOutcome)).toBe('not-registrar-patient');
    expect(JSON.stringify(attack.body)).not.toContain(NONE);
    expect(await consentRows(t.db)).toEqual(before);
    const [audit] = await auditRowsOf(t.db, attack.headers['x-request-id']);
    expect(audit).toMatchObject({ patient_id: patient, client_id: 'xm-dyyy-his', subtype: 'create' });
    expect(Number(audit.outcome)).not.toBe(0);
    expect((await results('xm-dyyy', NONE)).status).toBe(403);
  });

  it('the sensitive results of a resident treated elsewhere cannot be opened with a self-made label consent', async () => {
    const patient = await lookUp('xm-zsh', HCV);
    const res = await (await as('xm-zsh')).post('/Consent', registrarConsent(patient, { type: 'permit', actor: [recipient('xm-zsh')], securityLabel: [LABEL_R] }));
    expect(res.status).toBe(403);
    expect(errorCodeOf(res.body as OperationOutcome)).toBe('not-registrar-patient');
  });

  it('the resident\'s own hospital records it (201), and the contract\'s Consent form is unchanged for it', async () => {
    const patient = await lookUp('xm-zsh', NONE);
    const res = await (await as('xm-zsh')).post('/Consent', registrarConsent(patient, { type: 'permit', actor: [recipient('xm-zsh')] }));
    expect(res.status).toBe(201);
    expectValidFhir(res.body);
    // No dateTime was given: the recording time stands in for it.
    expect((res.body as Consent).dateTime).toBe(DEMO_ANCHOR.toISOString());
    expect((await results('xm-zsh', NONE)).status).toBe(200);
  });

  it.each([
    ['a back-dated signature (2001)', { dateTime: '2001-03-04T10:00:00+08:00' }, 'consent-backdated', 'Consent.dateTime'],
    ['a signature two days ago', { dateTime: at(-2 * 86_400_000) }, 'consent-backdated', 'Consent.dateTime'],
    ['a future signature (2099)', { dateTime: '2099-01-01T10:00:00+08:00' }, 'consent-future-dated', 'Consent.dateTime'],
    ['a period from 1990', { provision: { type: 'permit', period: { start: '1990-01-01' } } }, 'period-starts-in-past', 'Consent.provision.period'],
    [
      'a nested period that started an hour ago',
      { provision: { type: 'permit', provision: [{ type: 'deny', period: { start: at(-3_600_000), end: at(86_400_000) } }] } },
      'period-starts-in-past',
      'Consent.provision.provision[0].period',
    ],
  ])('%s → 422 %s naming %s, nothing stored', async (_label, change, code, expression) => {
    const patient = await lookUp('xm-zsh', NONE);
    const before = await consentRows(t.db);
    const res = await (await as('xm-zsh')).post('/Consent', { ...registrarConsent(patient), ...change });
    expect(res.status).toBe(422);
    expectValidFhir(res.body);
    const issue = (res.body as OperationOutcome).issue.find((i) => i.details?.coding?.[0]?.code === code);
    expect(issue?.expression).toEqual([expression]);
    expect(await consentRows(t.db)).toEqual(before);
  });

  it('signed this morning, in force from today, or from next month: accepted', async () => {
    const patient = await lookUp('xm-zsh', NONE);
    const zsh = await as('xm-zsh');
    expect((await zsh.post('/Consent', { ...registrarConsent(patient), dateTime: at(-2 * 3_600_000), provision: { type: 'permit', period: { start: '2026-11-29' } } })).status).toBe(201);
    expect((await zsh.post('/Consent', { ...registrarConsent(patient), provision: { type: 'permit', period: { start: '2026-12-29', end: '2027-12-29' } } })).status).toBe(201);
  });

  it('the signed form is kept with its SHA-1 and size; a hash that does not match is refused', async () => {
    const patient = await lookUp('xm-zsh', NONE);
    const zsh = await as('xm-zsh');
    const form = Buffer.from('%PDF-1.4 知情同意书 (signed) …');
    const data = form.toString('base64');
    const ok = await zsh.post('/Consent', { ...registrarConsent(patient), sourceAttachment: { contentType: 'application/pdf', data, title: '知情同意书' } });
    expect(ok.status).toBe(201);
    expectValidFhir(ok.body);
    expect((ok.body as Consent).sourceAttachment).toMatchObject({ data, hash: createHash('sha1').update(form).digest('base64'), size: form.length });
    const stored = await t.db('consents').where({ id: (ok.body as Consent).id }).first();
    expect(JSON.parse(stored.resource).sourceAttachment.hash).toBe(createHash('sha1').update(form).digest('base64'));

    const bad = await zsh.post('/Consent', { ...registrarConsent(patient), sourceAttachment: { contentType: 'application/pdf', data, hash: createHash('sha1').update('other').digest('base64') } });
    expect(bad.status).toBe(422);
    expect((bad.body as OperationOutcome).issue.some((i) => i.details?.coding?.[0]?.code === 'evidence-hash-mismatch')).toBe(true);

    const byReference = await zsh.post('/Consent', { ...registrarConsent(patient), sourceReference: { reference: 'DocumentReference/consent-form-0042' } });
    expect(byReference.status).toBe(201);
    expect((byReference.body as Consent).sourceReference).toEqual({ reference: 'DocumentReference/consent-form-0042' });
  });

  it('the owner may always withdraw; the recorded consent changes are in the resident\'s audit trail', async () => {
    const patient = await lookUp('xm-zsh', NONE);
    const zsh = await as('xm-zsh');
    const created = (await zsh.post('/Consent', registrarConsent(patient))).body as Consent;
    const withdrawn = await zsh.put(`/Consent/${created.id}`, { ...created, status: 'inactive' });
    expect(withdrawn.status).toBe(200);
    const rows = await t.db('audit_events').where({ patient_id: patient }).whereIn('subtype', ['create', 'update']).select('subtype', 'client_id');
    expect(rows.filter((r) => r.subtype === 'update' && r.client_id === 'xm-zsh-his').length).toBeGreaterThanOrEqual(1);
    expect(rows.filter((r) => r.subtype === 'create').length).toBeGreaterThanOrEqual(2);
  });
});
