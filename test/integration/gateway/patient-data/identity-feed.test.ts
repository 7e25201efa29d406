import type { Bundle, OperationOutcome, Patient } from '@medplum/fhirtypes';
import request from 'supertest';
import { checkCharacter, NATIONAL_ID_SYSTEM } from '../../../../gateway/patient-index/national-id';
import { mrnSystem } from '../../../../gateway/patient-index/patient-resource';
import { testDatabases, type TestDb } from '../../../support/databases';
import { startDemoNetwork, type DemoNetwork } from '../../../support/demo-network';
import { expectValidFhir } from '../../../support/fhir-validation';

/**
 * The identity feed (issue #18, docs/patient-data.md §6): a hospital's registrar adds a resident
 * under its record numbers, corrects a mistyped national id, corrects a record number; bad feeds
 * are refused with nothing changed, and every feed is audited.
 */
const valid = (first17: string) => `${first17}${checkCharacter(first17)}`;
const NEWBORN = valid('35020320261101123'); // registered with a mistyped id…
const NEWBORN_RIGHT = valid('35020320261101145'); // …corrected from the id card
const LIN = '350503195807224662'; // 林秀英, known at xm-zsh already

describe.each(testDatabases())('identity feed on %s', (_name, open) => {
  let db: TestDb;
  let net: DemoNetwork;
  let zsh: string;
  let mrn: (h: string) => string;
  const bearer = (t: string) => ({ Authorization: `Bearer ${t}`, 'Content-Type': 'application/fhir+json' });
  const patient = (nid: string, mrns: string[], hospital = 'xm-zsh', extra: Patient['identifier'] = []): Patient => ({
    resourceType: 'Patient',
    identifier: [{ system: NATIONAL_ID_SYSTEM, value: nid }, ...mrns.map((value) => ({ system: mrn(hospital), value })), ...(extra ?? [])],
    name: [{ text: '不会被读取' }],
  });
  const pix = (value: string) => request(net.app).get(`/Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent(`${mrn('xm-zsh')}|${value}`)}`).set(bearer(zsh));
  const mrnRows = () => db.db('patient_mrns').count({ n: '*' }).first().then((r) => Number(r?.n));

  beforeAll(async () => {
    db = await open();
    net = await startDemoNetwork({ db });
    zsh = await net.token('xm-zsh-his');
    mrn = (h) => mrnSystem(net.config.canonicalBase, h);
    await request(net.app).get(`/Patient?identifier=${NATIONAL_ID_SYSTEM}|${LIN}`).set(bearer(zsh)); // links 林秀英 at xm-zsh
  });
  afterAll(async () => {
    await net?.close();
    await db?.close();
  });

  test('add, add again, correct the national id, correct the record number — each audited', async () => {
    const created = await request(net.app).post('/Patient').set(bearer(zsh)).send(patient(NEWBORN, ['ZS-2026-0001']));
    expect(created.status).toBe(201);
    expectValidFhir(created.body);
    const id = created.body.id as string;
    expect(created.headers.location).toBe(`${net.config.publicBaseUrl}/Patient/${id}`);
    expect(created.body.identifier).toEqual(expect.arrayContaining([expect.objectContaining({ system: mrn('xm-zsh'), value: 'ZS-2026-0001' })]));
    expect(JSON.stringify(created.body)).not.toContain('不会被读取'); // names stay with the hospital
    const events = await db.db('audit_events').where({ request_id: created.headers['x-request-id'] }).select('subtype', 'patient_id', 'outcome');
    expect(events).toEqual([{ subtype: 'create', patient_id: id, outcome: 0 }]);

    const again = await request(net.app).post('/Patient').set(bearer(zsh)).send(patient(NEWBORN, ['ZS-2026-0001']));
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(id);
    expect((await pix('ZS-2026-0001')).body.parameter.find((p: { name: string }) => p.name === 'targetId').valueReference.reference).toBe(`Patient/${id}`);

    // the national id was mistyped at registration: corrected on the same identity
    const cond = `/Patient?identifier=${encodeURIComponent(`${mrn('xm-zsh')}|ZS-2026-0001`)}`;
    const fixedId = await request(net.app).put(cond).set(bearer(zsh)).send(patient(NEWBORN_RIGHT, ['ZS-2026-0001']));
    expect(fixedId.status).toBe(200);
    expect(fixedId.body.id).toBe(id);
    expect(fixedId.body.identifier).toEqual(expect.arrayContaining([expect.objectContaining({ system: NATIONAL_ID_SYSTEM, value: NEWBORN_RIGHT })]));
    expect((await db.db('patients').where({ id }).first('national_id')).national_id).toBe(NEWBORN_RIGHT);

    // the record number was wrong: the old one is gone, the new one finds the resident
    const fixedMrn = await request(net.app).put(cond).set(bearer(zsh)).send(patient(NEWBORN_RIGHT, ['ZS-2026-0002']));
    expect(fixedMrn.status).toBe(200);
    expect((await pix('ZS-2026-0001')).status).toBe(404);
    expect((await pix('ZS-2026-0002')).status).toBe(200);
    const upd = await db.db('audit_events').where({ request_id: fixedMrn.headers['x-request-id'] }).select('subtype', 'patient_id');
    expect(upd).toEqual([{ subtype: 'update', patient_id: id }]);
  });

  test.each<[string, () => { method: 'post' | 'put'; url?: string; body: unknown }, number, string]>([
    ['a bad check digit', () => ({ method: 'post', body: patient(`${NEWBORN.slice(0, 17)}${NEWBORN[17] === '0' ? '1' : '0'}`, ['ZS-X1']) }), 422, 'national-id-check-digit'],
    ['a national id with no real birth date', () => ({ method: 'post', body: patient(valid('35020320261301123'), ['ZS-X2']) }), 422, 'national-id-birth-date'],
    ['no national id', () => ({ method: 'post', body: { resourceType: 'Patient', identifier: [{ system: mrn('xm-zsh'), value: 'ZS-X3' }] } }), 422, 'invalid-resource'],
    ['an unknown assigning authority', () => ({ method: 'post', body: patient(valid('35020319900101111'), ['ZS-X4'], 'xm-zsh', [{ system: 'urn:oid:1.2.3', value: 'X' }]) }), 422, 'unknown-system'],
    ['another hospital’s record number', () => ({ method: 'post', body: patient(valid('35020319900101111'), ['QZ-1'], 'qz-dyyy') }), 403, 'foreign-mrn'],
    ['a record number of another resident', () => ({ method: 'post', body: patient(LIN, ['ZS-2026-0002']) }), 409, 'duplicate-mrn'],
    ['a correction onto a national id another identity has', () => ({ method: 'put', url: `/Patient?identifier=${encodeURIComponent(`${mrn('xm-zsh')}|ZS-2026-0002`)}`, body: patient(LIN, ['ZS-2026-0002']) }), 409, 'identity-conflict'],
    ['a conditional update on another hospital’s numbers', () => ({ method: 'put', url: `/Patient?identifier=${encodeURIComponent(`${mrn('qz-dyyy')}|Q1`)}`, body: patient(LIN, ['ZS-Y']) }), 400, 'unknown-system'],
    ['a PUT without its condition', () => ({ method: 'put', body: patient(LIN, ['ZS-Y']) }), 400, 'identifier-required'],
    ['not a Patient', () => ({ method: 'post', body: { resourceType: 'Observation' } }), 422, 'invalid-resource'],
  ])('%s → refused, nothing changed', async (_what, make, status, code) => {
    const before = await mrnRows();
    const r = make();
    const res = await request(net.app)[r.method](r.url ?? '/Patient').set(bearer(zsh)).send(r.body as object);
    expect(res.status).toBe(status);
    expectValidFhir(res.body);
    expect((res.body as OperationOutcome).issue[0]!.details?.coding?.[0]?.code).toBe(code);
    expect(await mrnRows()).toBe(before);
    // refusals are audited like every request
    expect((await db.db('audit_events').where({ request_id: res.headers['x-request-id'] }).select('outcome')).map((e) => e.outcome)).toEqual([4]);
  });

  test('only registrars feed identities', async () => {
    const auditor = await net.token('audit-office', { user: { id: 'A0001', name: '王审计' } });
    const res = await request(net.app).post('/Patient').set(bearer(auditor)).send(patient(valid('35020319900101111'), ['ZS-Z']));
    expect(res.status).toBe(403);
    const search = await request(net.app).get(`/Patient?identifier=${NATIONAL_ID_SYSTEM}|${valid('35020319900101111')}`).set(bearer(zsh));
    expect(((search.body as Bundle).entry ?? []).filter((e) => e.resource?.resourceType === 'Patient')).toHaveLength(0);
  });
});
