import type { AuditEvent, ImagingStudy, Bundle, Endpoint, OperationOutcome } from '@medplum/fhirtypes';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { instanceUid, seriesUid, syntheticStudy } from '../../../../fixtures/generator/dicom-writer';
import { orthancAvailable, startOrthanc, type OrthancServer } from '../../../../fixtures/servers/orthanc';
import { NATIONAL_ID_SYSTEM } from '../../../../gateway/patient-index/national-id';
import { makeTestClient, requestToken } from '../../../support/auth';
import { CDA_DIR, CDA_FILES, CDA_NID, cdaText } from '../../../support/cda-samples';
import { auditRowsOf, registrarConsent } from '../../../support/consent-http';
import { testDatabases, type TestDb } from '../../../support/databases';
import { expectValidFhir } from '../../../support/fhir-validation';
import { startGateway, type StartedGateway } from '../../../support/gateway-harness';
import { createExpressApp } from '../../../../gateway/http/express-app';

/**
 * Images through the gateway against a real PACS: Debian's Orthanc with its DICOMweb plugin,
 * started here on a free port and loaded with synthetic CT studies (dcmjs). The ImagingStudies come
 * from WS/T 500 exam reports (the cda adapter); consent is recorded through the API. Every answer is
 * checked on the wire (status, media type, bytes against Orthanc's own), and in the audit trail.
 */
const haveOrthanc = orthancAvailable();
if (!haveOrthanc) console.warn('Orthanc is not installed (apt-get install -y orthanc orthanc-dicomweb): the DICOMweb proxy tests are skipped');
const describeOrthanc = haveOrthanc ? describe.each(testDatabases()) : describe.skip.each(testDatabases());

const STUDY = '1.2.156.112606.3.20261121.7'; // exam-ct-chest.xml
const OTHER_NID = '350503198506150026';
const OTHER_STUDY = '1.2.156.112605.9.20261101.1';
const HANG_STUDY = '1.2.156.112606.3.20261122.8';
const DOWN_STUDY = '1.2.156.112606.3.20261123.9';
const JSON_TYPES = /application\/(dicom\+)?json/;

/** An exam report for another resident, study or hospital, from the committed exam document. */
function examDoc(opts: { report: string; nid?: string; uid: string }): string {
  return cdaText(CDA_FILES.exam)
    .replace(/E20261121007/g, opts.report)
    .replace('350203199001010018', opts.nid ?? CDA_NID)
    .replace(STUDY, opts.uid);
}

describeOrthanc('DICOMweb through the gateway, a real Orthanc behind it, on %s', (_name, open) => {
  let t: TestDb;
  let gw: StartedGateway;
  let orthanc: OrthancServer;
  let token: string;
  let root: string;
  let hanging: net.Server;
  const hangingSockets = new Set<net.Socket>();
  let patientId: string;
  const auth = () => ({ Authorization: `Bearer ${token}` });
  const studyId = 'zz-xcq.E20261121007';
  const base = `/dicomweb/${studyId}/studies/${STUDY}`;

  beforeAll(async () => {
    t = await open();
    orthanc = await startOrthanc();
    await orthanc.upload(syntheticStudy({ studyUid: STUDY, patientId: 'MZ0098123', patientName: 'LIN^XIAOMING', accession: 'E20261121007', studyDate: '20261121', description: 'CT CHEST', series: [3, 1] }));
    await orthanc.upload(syntheticStudy({ studyUid: OTHER_STUDY, patientId: 'Q55667', patientName: 'CHEN^MEILI', accession: 'E-OTHER-1', studyDate: '20261101', series: [1] }));
    // a PACS that accepts connections and never answers
    hanging = net.createServer((s) => {
      hangingSockets.add(s);
      s.on('close', () => hangingSockets.delete(s));
    });
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', () => r()));
    const hangPort = (hanging.address() as net.AddressInfo).port;

    root = mkdtempSync(path.join(os.tmpdir(), 'xzq-dicomweb-'));
    const folder = (name: string, files: Record<string, string>) => {
      const dir = path.join(root, name);
      mkdirSync(dir);
      for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
      return dir;
    };
    const own = folder('zz-xcq', {});
    copyFileSync(path.join(CDA_DIR, CDA_FILES.exam), path.join(own, 'exam.xml'));
    copyFileSync(path.join(CDA_DIR, CDA_FILES.lab), path.join(own, 'lab.xml'));
    const hospital = (id: string, documents: string, pacs: string, timeoutMs = 3000) => ({
      id,
      name: `医院 ${id}`,
      city: '350600',
      grade: '2A',
      recognizedItems: ['CT-CHEST'],
      adapter: { type: 'cda', documents, pollMs: 60_000 },
      pacs: { dicomweb: pacs, timeoutMs },
    });
    const client = makeTestClient({ id: 'zz-xcq-his', hospital: 'zz-xcq', roles: ['clinician', 'registrar'] });
    gw = await startGateway({
      db: t,
      clients: [client],
      hospitals: [
        hospital('zz-xcq', own, orthanc.dicomweb),
        hospital('qz-other', folder('qz-other', { 'exam.xml': examDoc({ report: 'E-OTHER-1', nid: OTHER_NID, uid: OTHER_STUDY }) }), orthanc.dicomweb),
        hospital('zz-hang', folder('zz-hang', { 'exam.xml': examDoc({ report: 'E-HANG-1', uid: HANG_STUDY }) }), `http://127.0.0.1:${hangPort}/dicom-web`, 500),
        hospital('zz-down', folder('zz-down', { 'exam.xml': examDoc({ report: 'E-DOWN-1', uid: DOWN_STUDY }) }), 'http://127.0.0.1:9/dicom-web'),
      ],
    });
    token = await requestToken(gw.app, client, { user: { id: 'D2001', name: '影像医生' } });
    // the registrar finds the resident and records their consent (opt-in); the other resident has none
    const found = await request(gw.app).get(`/Patient?identifier=${NATIONAL_ID_SYSTEM}|${CDA_NID}`).set(auth());
    patientId = (found.body as Bundle).entry![0].resource!.id!;
    const consent = await request(gw.app).post('/Consent').set(auth()).set('Content-Type', 'application/fhir+json').send(JSON.stringify(registrarConsent(patientId)));
    expect(consent.status).toBe(201);
    await request(gw.app).get(`/Patient?identifier=${NATIONAL_ID_SYSTEM}|${OTHER_NID}`).set(auth());
  }, 90_000);

  afterAll(async () => {
    await gw?.close();
    await orthanc?.stop();
    for (const s of hangingSockets) s.destroy();
    await new Promise((r) => hanging?.close(r));
    rmSync(root, { recursive: true, force: true });
    await t?.close();
  });

  test('the released ImagingStudy points at the gateway\'s WADO-RS base for that study (a contained Endpoint), valid R4', async () => {
    const res = await request(gw.app).get(`/ImagingStudy/${studyId}`).set(auth());
    expect(res.status).toBe(200);
    const study = res.body as ImagingStudy;
    expectValidFhir(study);
    expect(study.endpoint).toEqual([{ reference: '#dicomweb' }]);
    const ep = study.contained?.[0] as Endpoint;
    expect(ep).toMatchObject({ resourceType: 'Endpoint', status: 'active', connectionType: { code: 'dicom-wado-rs' }, address: `${gw.config.publicBaseUrl}/dicomweb/${studyId}` });
  });

  test('WADO-RS study: the PACS\'s multipart answer streamed through unchanged, one AuditEvent naming the patient and the study', async () => {
    const direct = await fetch(`${orthanc.dicomweb}/studies/${STUDY}`, { headers: { Accept: 'multipart/related; type="application/dicom"' } });
    const directBytes = Buffer.from(await direct.arrayBuffer());
    const res = await request(gw.app).get(base).set(auth()).buffer(true).parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^multipart\/related; type="application\/dicom"; boundary=/);
    const body = res.body as Buffer;
    // four instances, each a DICOM Part 10 object ("DICM" at offset 128)
    expect(body.toString('latin1').split('DICM').length - 1).toBe(4);
    // same bytes as asking the PACS directly, but for the multipart boundary
    const strip = (b: Buffer, ct: string) => b.toString('latin1').split(/boundary=/.test(ct) ? `--${/boundary=([^;]+)/.exec(ct)![1].replace(/"/g, '')}` : '\0').join('');
    expect(strip(body, res.headers['content-type']).length).toBe(strip(directBytes, direct.headers.get('content-type')!).length);
    const rows = await auditRowsOf(t.db, res.headers['x-request-id']);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ patient_id: patientId, subtype: 'wado-rs', outcome: 0, client_id: 'zz-xcq-his' });
    const event = JSON.parse(rows[0].resource) as AuditEvent;
    expectValidFhir(event);
    expect(JSON.stringify(event.entity)).toContain('Organization/zz-xcq');
    expect(JSON.stringify(event.entity)).toContain(`ImagingStudy/${studyId}`);
  });

  test('WADO-RS metadata: DICOM JSON with every PACS address rewritten to the gateway\'s', async () => {
    const res = await request(gw.app).get(`${base}/metadata`).set(auth());
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(JSON_TYPES);
    const text = res.text;
    const meta = JSON.parse(text) as Array<Record<string, { Value?: unknown[] }>>;
    expect(meta).toHaveLength(4);
    expect(meta.map((m) => m['00080018'].Value![0]).sort()).toEqual([instanceUid(STUDY, 1, 1), instanceUid(STUDY, 1, 2), instanceUid(STUDY, 1, 3), instanceUid(STUDY, 2, 1)].sort());
    expect(text).not.toContain(orthanc.rest);
    expect(text).not.toContain(`127.0.0.1:${orthanc.port}`);
  });

  test('WADO-RS series, instance, frames and rendered JPEG', async () => {
    const series = await request(gw.app).get(`${base}/series/${seriesUid(STUDY, 1)}/metadata`).set(auth());
    expect(series.status).toBe(200);
    expect(JSON.parse(series.text)).toHaveLength(3);
    const inst = `${base}/series/${seriesUid(STUDY, 1)}/instances/${instanceUid(STUDY, 1, 2)}`;
    const rendered = await request(gw.app).get(`${inst}/rendered`).set(auth()).set('Accept', 'image/jpeg').buffer(true).parse((r, cb) => {
      const c: Buffer[] = [];
      r.on('data', (x: Buffer) => c.push(x));
      r.on('end', () => cb(null, Buffer.concat(c)));
    });
    expect(rendered.status).toBe(200);
    expect(rendered.headers['content-type']).toBe('image/jpeg');
    expect([...(rendered.body as Buffer).subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    const studyRendered = await request(gw.app).get(`${base}/rendered`).set(auth());
    expect(studyRendered.status).toBe(200);
    const frame = await request(gw.app).get(`${inst}/frames/1`).set(auth());
    expect(frame.status).toBe(200);
    expect(frame.headers['content-type']).toMatch(/^multipart\/related/);
  });

  test('an access that cannot be audited sends no image byte: 503, and the PACS stream is dropped', async () => {
    const s = gw.services;
    const failing = { ...s.audit, recordRequest: () => Promise.reject(new Error('audit store down')) };
    const app = createExpressApp({ config: s.config, clock: s.clock, log: s.log, metrics: s.metrics, auth: s.auth, audit: failing }, gw.gateway.routes);
    const res = await request(app).get(base).set(auth());
    expect(res.status).toBe(503);
    expect((res.body as OperationOutcome).issue[0].details?.coding?.[0].code).toBe('audit-unavailable');
    expect(res.text).not.toContain('DICM');
  });

  test('a study of a resident without consent: 403 with no metadata, audited as refused', async () => {
    for (const p of ['', '/metadata', '/rendered']) {
      const res = await request(gw.app).get(`/dicomweb/qz-other.E-2DOTHER-2D1/studies/${OTHER_STUDY}${p}`).set(auth());
      expect(res.status).toBe(403);
      expect(res.headers['content-type']).toMatch(/application\/fhir\+json/);
      expectValidFhir(res.body as OperationOutcome);
      expect(res.text).not.toContain(OTHER_STUDY.slice(0, 0) + 'CHEN');
      expect(res.text).not.toContain('00100010');
      const [row] = await auditRowsOf(t.db, res.headers['x-request-id']);
      expect(row).toMatchObject({ subtype: 'wado-rs', outcome: 4 });
    }
    const qido = await request(gw.app).get(`/dicomweb/studies?PatientID=${OTHER_NID}`).set(auth());
    expect(qido.status).toBe(403);
  });

  test('a UID of another resident\'s study under a consented ImagingStudy: 404, the PACS never asked for it', async () => {
    const res = await request(gw.app).get(`/dicomweb/${studyId}/studies/${OTHER_STUDY}/metadata`).set(auth());
    expect(res.status).toBe(404);
    expect(res.text).not.toContain('CHEN');
    // a series of the other study under ours: the PACS itself says it is not there
    const series = await request(gw.app).get(`${base}/series/${seriesUid(OTHER_STUDY, 1)}/metadata`).set(auth());
    expect(series.status).toBe(404);
    expect(series.text).not.toContain('CHEN');
  });

  test.each([
    [`/dicomweb/${studyId}/studies/..%2F..%2Fsystem`, 400],
    [`/dicomweb/${studyId}/studies/${STUDY}%2F..%2F..%2Fpatients`, 400],
    [`/dicomweb/${studyId}/studies/1.2.3.abc`, 400],
    [`/dicomweb/${studyId}/studies/01.2.3`, 400],
    [`/dicomweb/${studyId}/studies/${'1.'.repeat(40)}1`, 400],
    [`/dicomweb/${studyId}/studies/${STUDY}/series/${seriesUid(STUDY, 1)}/instances/${instanceUid(STUDY, 1, 1)}/frames/0`, 400],
    [`/dicomweb/${studyId}/studies/${STUDY}/series/${seriesUid(STUDY, 1)}/instances/${instanceUid(STUDY, 1, 1)}/frames/1;rm`, 400],
    [`/dicomweb/zz-xcq.E2026%00/studies/${STUDY}`, 400],
    [`/dicomweb/${studyId}/studies/${STUDY}?url=http://127.0.0.1:9/`, 400],
    [`/dicomweb/${studyId}/studies/${STUDY}/bulk/7fe00010`, 404],
    ['/dicomweb/studies?PatientID=../../patients', 400],
    ['/dicomweb/studies', 400],
  ])('path trick %s → %d, no PACS address or data in the answer', async (url, status) => {
    const res = await request(gw.app).get(url).set(auth());
    expect(res.status).toBe(status);
    expect(res.text).not.toContain(orthanc.rest);
    expect(res.text).not.toContain('LIN^');
    if (status === 400) expect(JSON.stringify(res.body)).toMatch(/invalid-dicom-uid|bad-request|patient-required|invalid-parameter/);
  });

  test('a PACS that never answers: 502 OperationOutcome within its timeout; a PACS that refuses: 502 at once', async () => {
    const started = Date.now();
    const hang = await request(gw.app).get(`/dicomweb/zz-hang.E-2DHANG-2D1/studies/${HANG_STUDY}/metadata`).set(auth());
    const took = Date.now() - started;
    expect(hang.status).toBe(502);
    expect(took).toBeGreaterThanOrEqual(450);
    expect(took).toBeLessThan(500 + 1000);
    expect((hang.body as OperationOutcome).issue[0].details?.coding?.[0].code).toBe('pacs-unavailable');
    expect(hang.body.issue[0].details.text).toMatch(/did not answer within 500 ms/);
    expectValidFhir(hang.body);
    const down = await request(gw.app).get(`/dicomweb/zz-down.E-2DDOWN-2D1/studies/${DOWN_STUDY}`).set(auth());
    expect(down.status).toBe(502);
    expect(down.body.issue[0].details.text).toMatch(/could not be reached \(ECONNREFUSED\)/);
    const [row] = await auditRowsOf(t.db, down.headers['x-request-id']);
    expect(row).toMatchObject({ subtype: 'wado-rs', outcome: 8 });
  });

  test('QIDO-RS by regional id or national id: the consented studies the PACS holds, merged, RetrieveURL the gateway\'s; a failed PACS is a Warning', async () => {
    for (const id of [patientId, CDA_NID]) {
      const res = await request(gw.app).get(`/dicomweb/studies?PatientID=${id}`).set(auth()).set('Accept', 'application/dicom+json');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/dicom\+json/);
      const studies = JSON.parse(res.text) as Array<Record<string, { Value?: unknown[] }>>;
      expect(studies.map((s) => s['0020000D'].Value![0])).toEqual([STUDY]);
      expect(studies[0]['00081190'].Value![0]).toBe(`${gw.config.publicBaseUrl}${base}`);
      expect(studies[0]['00100020'].Value![0]).toBe(patientId);
      expect(res.text).not.toContain(orthanc.rest);
      expect(res.headers.warning).toMatch(/^299 xzq-gateway "PACS did not answer: (zz-hang, zz-down|zz-down, zz-hang)"$/);
      const [row] = await auditRowsOf(t.db, res.headers['x-request-id']);
      expect(row).toMatchObject({ subtype: 'qido-rs', patient_id: patientId, outcome: 0 });
    }
    const none = await request(gw.app).get(`/dicomweb/studies?PatientID=${patientId}&ModalitiesInStudy=MR`).set(auth());
    expect(JSON.parse(none.text)).toEqual([]);
  });
});
