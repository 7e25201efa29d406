import type { AuditEvent, Bundle, OperationOutcome, Parameters, Patient } from '@medplum/fhirtypes';
import request from 'supertest';
import { testDatabases, type TestDb } from '../../../support/databases';
import { startDemoNetwork, type DemoNetwork } from '../../../support/demo-network';
import { expectValidFhir } from '../../../support/fhir-validation';

/**
 * Merging and unmerging residents (issue #18, docs/patient-data.md §5) over the demo network: the
 * survivor answers with the results of both identities; consent of both holds, the stricter where
 * they differ (docs/consent.md §13); the merged identity reads as inactive, replaced by the survivor;
 * the audit history of each is found under either id; unmerging restores exactly what was before.
 */

const NID = 'urn:oid:2.16.156.10011.1.3';
/** 林秀英: full consent; records at qz-dyyy, xm-zsh, zz-zyy — the survivor */
const LIN = '350503195807224662';
/** 吴美玲: consent for Xiamen hospitals only; records at xm-zsh, xm-dyyy, qz-dyyy — merged into 林秀英 */
const WU = '350206198405092667';

describe.each(testDatabases())('Patient $merge / $unmerge on %s', (_name, open) => {
  let db: TestDb;
  let net: DemoNetwork;
  let zsh: string; // xm-zsh HIS: clinician and registrar
  let qz: string; // qz-dyyy HIS (Quanzhou)
  let lhq: string; // zz-lhq HIS: knows neither resident
  let auditor: string;
  let linId: string;
  let wuId: string;

  beforeAll(async () => {
    db = await open();
    net = await startDemoNetwork({ db });
    [zsh, qz, lhq, auditor] = await Promise.all([net.token('xm-zsh-his'), net.token('qz-dyyy-his'), net.token('zz-lhq-his'), net.token('audit-office', { user: { id: 'A0001', name: '王审计' } })]);
    linId = (await patient(zsh, LIN)).id!;
    wuId = (await patient(zsh, WU)).id!;
  });
  afterAll(async () => {
    await net?.close();
    await db?.close();
  });

  const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });
  async function patient(token: string, nid: string): Promise<Patient> {
    const res = await request(net.app).get(`/Patient?identifier=${NID}|${nid}`).set(bearer(token));
    expect(res.status).toBe(200);
    return (res.body as Bundle).entry!.find((e) => e.resource?.resourceType === 'Patient')!.resource as Patient;
  }
  const reportIds = async (token: string, query: string) => {
    const res = await request(net.app).get(`/DiagnosticReport?${query}&_count=100`).set(bearer(token));
    return { status: res.status, ids: ((res.body as Bundle).entry ?? []).filter((e) => e.resource?.resourceType === 'DiagnosticReport').map((e) => e.resource!.id!).sort() };
  };
  const params = (p: Parameters['parameter']): Parameters => ({ resourceType: 'Parameters', parameter: p });
  const mergeBody = (source: string, target: string, extra: Parameters['parameter'] = []) =>
    params([
      { name: 'source-patient', valueReference: { reference: `Patient/${source}` } },
      { name: 'target-patient', valueReference: { reference: `Patient/${target}` } },
      { name: 'reason', valueString: '同一患者重复建档（身份证号录入错误）' },
      ...(extra ?? []),
    ]);
  const post = (path: string, token: string, body: unknown) => request(net.app).post(path).set(bearer(token)).set('Content-Type', 'application/fhir+json').send(body as object);
  const auditOf = async (res: request.Response) =>
    (await db.db('audit_events').where({ request_id: res.headers['x-request-id'] }).select('resource', 'patient_id')).map((r) => ({ patient: r.patient_id as string, event: JSON.parse(r.resource) as AuditEvent }));
  const trail = async (patientId: string) => {
    const res = await request(net.app).get(`/AuditEvent?patient=${patientId}&_count=200`).set(bearer(auditor));
    expect(res.status).toBe(200);
    return ((res.body as Bundle).entry ?? []).map((e) => e.resource as AuditEvent);
  };

  test('merge, search, consent of both, audit under both ids, unmerge restoring exactly, and the refusals', async () => {
    // before: each identity alone
    const linBefore = await reportIds(zsh, `patient=${linId}`);
    const wuBefore = await reportIds(zsh, `patient=${wuId}`);
    expect(linBefore.ids.length).toBeGreaterThan(0);
    expect(wuBefore.ids.length).toBeGreaterThan(0);
    expect((await reportIds(qz, `patient.identifier=${NID}|${LIN}`)).status).toBe(200);
    expect((await reportIds(qz, `patient.identifier=${NID}|${WU}`)).status).toBe(403); // Xiamen only
    const wuTrailBefore = (await trail(wuId)).map((e) => e.id);

    // a preview changes nothing
    const preview = await post('/Patient/$merge', zsh, mergeBody(wuId, linId, [{ name: 'preview', valueBoolean: true }]));
    expect(preview.status).toBe(200);
    expectValidFhir(preview.body);
    expect((await reportIds(zsh, `patient=${linId}`)).ids).toEqual(linBefore.ids);

    // the merge
    const merged = await post('/Patient/$merge', zsh, mergeBody(wuId, linId));
    expect(merged.status).toBe(200);
    expectValidFhir(merged.body);
    const result = (merged.body as Parameters).parameter!.find((p) => p.name === 'result')!.resource as Patient;
    expect(result).toMatchObject({ id: linId, active: true, link: [{ other: { reference: `Patient/${wuId}` }, type: 'replaces' }] });
    // the survivor keeps both identities' record numbers at xm-zsh
    expect(result.identifier!.filter((i) => i.assigner?.reference === 'Organization/xm-zsh').length).toBeGreaterThanOrEqual(2);
    const events = await auditOf(merged);
    expect(events.map((e) => e.patient).sort()).toEqual([linId, wuId].sort());
    for (const { event } of events) {
      expectValidFhir(event);
      expect(event.subtype?.map((c) => c.code)).toContain('$merge');
      expect(event.entity?.flatMap((x) => x.detail ?? []).find((d) => d.type === 'reason')?.valueString).toBe('同一患者重复建档（身份证号录入错误）');
    }

    // the survivor answers with both identities' results; so does the merged one's id and national id
    const both = [...new Set([...linBefore.ids, ...wuBefore.ids])].sort();
    expect((await reportIds(zsh, `patient=${linId}`)).ids).toEqual(both);
    expect((await reportIds(zsh, `patient=${wuId}`)).ids).toEqual(both);
    expect((await reportIds(zsh, `patient.identifier=${NID}|${WU}`)).ids).toEqual(both);
    // the stricter consent: 吴美玲's "Xiamen only" now holds for the survivor too
    const quanzhou = await request(net.app).get(`/DiagnosticReport?patient.identifier=${NID}|${LIN}`).set(bearer(qz));
    expect(quanzhou.status).toBe(403);
    expect((quanzhou.body as OperationOutcome).issue[0]!.details?.coding?.[0]?.code).toBe('consent-required');
    // by regional id the same: consent judged ahead for the id asked for is used only when that id
    // answers (the survivor), and judged again for the survivor when it is the merged one
    expect((await reportIds(qz, `patient=${linId}`)).status).toBe(403);
    expect((await reportIds(qz, `patient=${wuId}`)).status).toBe(403);

    // the merged identity reads as inactive, replaced by the survivor
    const old = await request(net.app).get(`/Patient/${wuId}`).set(bearer(zsh));
    expect(old.status).toBe(200);
    expectValidFhir(old.body);
    expect(old.body).toMatchObject({ id: wuId, active: false, link: [{ other: { reference: `Patient/${linId}` }, type: 'replaced-by' }] });

    // the audit history of both identities is found under either id; the chain is untouched
    const underLin = (await trail(linId)).map((e) => e.id);
    const underWu = (await trail(wuId)).map((e) => e.id);
    for (const id of wuTrailBefore) expect(underLin).toContain(id);
    // (the second search also finds the first: an auditor reading a trail is itself an access)
    for (const id of underLin) expect(underWu).toContain(id);
    const verify = await request(net.app).get('/AuditEvent/$verify').set(bearer(auditor));
    expect((verify.body as Parameters).parameter!.find((p) => p.name === 'valid')?.valueBoolean).toBe(true);

    // refusals, each changing nothing
    const refusals: Array<[string, string, unknown, number, string]> = [
      ['into itself', zsh, mergeBody(linId, linId), 422, 'merge-into-self'],
      ['a merged source again', zsh, mergeBody(wuId, linId), 422, 'patient-merged'],
      ['into a merged target (a cycle)', zsh, mergeBody(linId, wuId), 422, 'patient-merged'],
      ['an unknown patient', zsh, mergeBody('no-such-patient', linId), 422, 'unknown-patient'],
      ['a hospital that knows neither', lhq, mergeBody(linId, wuId), 403, 'not-own-resident'],
      ['no reason', zsh, params([{ name: 'source-patient', valueReference: { reference: `Patient/${linId}` } }, { name: 'target-patient', valueReference: { reference: `Patient/${wuId}` } }]), 400, 'parameter-required'],
      ['not Parameters', zsh, { resourceType: 'Patient' }, 400, 'invalid-body'],
      ['a bad reference', zsh, mergeBody('../x', linId), 400, 'invalid-parameter'],
    ];
    for (const [what, token, body, status, code] of refusals) {
      const res = await post('/Patient/$merge', token, body);
      expect([what, res.status]).toEqual([what, status]);
      expect([what, (res.body as OperationOutcome).issue?.[0]?.details?.coding?.[0]?.code]).toEqual([what, code]);
      expectValidFhir(res.body);
    }
    const auditorTry = await post('/Patient/$merge', auditor, mergeBody(wuId, linId));
    expect(auditorTry.status).toBe(403);
    expect((await reportIds(zsh, `patient=${linId}`)).ids).toEqual(both);

    // unmerge restores exactly the state before
    const unmerged = await post('/Patient/$unmerge', zsh, params([{ name: 'source-patient', valueReference: { reference: `Patient/${wuId}` } }, { name: 'reason', valueString: '误合并，撤销' }]));
    expect(unmerged.status).toBe(200);
    expectValidFhir(unmerged.body);
    expect((await auditOf(unmerged)).map((e) => e.patient).sort()).toEqual([linId, wuId].sort());
    expect((await reportIds(zsh, `patient=${linId}`)).ids).toEqual(linBefore.ids);
    expect((await reportIds(zsh, `patient=${wuId}`)).ids).toEqual(wuBefore.ids);
    expect((await reportIds(qz, `patient.identifier=${NID}|${LIN}`)).status).toBe(200);
    expect((await reportIds(qz, `patient.identifier=${NID}|${WU}`)).status).toBe(403);
    const restored = await request(net.app).get(`/Patient/${wuId}`).set(bearer(zsh));
    expect(restored.body.active).toBe(true);
    expect(restored.body.link).toBeUndefined();
    expect((await request(net.app).get(`/Patient/${linId}`).set(bearer(zsh))).body.link).toBeUndefined();

    // unmerging what is not merged
    const again = await post('/Patient/$unmerge', zsh, params([{ name: 'source-patient', valueReference: { reference: `Patient/${wuId}` } }, { name: 'reason', valueString: '再次撤销' }]));
    expect(again.status).toBe(422);
    expect(again.body.issue[0].details.coding[0].code).toBe('not-merged');
  });
});
