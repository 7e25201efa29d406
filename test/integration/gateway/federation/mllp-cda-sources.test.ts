import type { Bundle, DiagnosticReport, Observation } from '@medplum/fhirtypes';
import { Hl7Message } from '@medplum/core';
import { Hl7Client } from '@medplum/hl7';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { NATIONAL_ID_SYSTEM } from '../../../../gateway/patient-index/national-id';
import { makeTestClient, requestToken } from '../../../support/auth';
import { CDA_CODE_MAP, CDA_DIR, CDA_FILES, CDA_NID } from '../../../support/cda-samples';
import { testDatabases, type TestDb } from '../../../support/databases';
import { expectValidFhir } from '../../../support/fhir-validation';
import { startGateway, type StartedGateway } from '../../../support/gateway-harness';
import { cbcV251, join } from '../../../support/hl7-samples';
import { sendAndWait } from '../../../support/mllp-client';

/**
 * The two new kinds of source end to end through the gateway: a LIS pushing ORU^R01 over MLLP to
 * the gateway's listener, and a hospital publishing WS/T 500 documents. One federated search finds
 * both hospitals' reports in gateway form; /healthz reports the MLLP listener and the skipped documents.
 */
describe.each(testDatabases())('MLLP and CDA hospitals through the gateway on %s', (_name, open) => {
  let t: TestDb;
  let gw: StartedGateway;
  let token: string;
  let root: string;

  beforeAll(async () => {
    t = await open();
    root = mkdtempSync(path.join(os.tmpdir(), 'xzq-sources-'));
    const docs = path.join(root, 'documents');
    mkdirSync(docs);
    for (const f of [CDA_FILES.lab, CDA_FILES.exam, CDA_FILES.malformed, CDA_FILES.xxe]) copyFileSync(path.join(CDA_DIR, f), path.join(docs, f));
    writeFileSync(path.join(root, 'codemap.json'), JSON.stringify(CDA_CODE_MAP));
    const store = path.join(root, 'mllp-store');
    mkdirSync(store);
    const client = makeTestClient({ id: 'xm-his', hospital: 'qz-fzq', roles: ['clinician'] });
    gw = await startGateway({
      db: t,
      clients: [client],
      consentDefault: 'permit',
      hospitals: [
        { id: 'qz-fzq', name: '泉州市丰泽区第二医院', city: '350500', grade: '2A', recognizedItems: ['CBC'], adapter: { type: 'hl7v2', inbox: store, mllp: { host: '127.0.0.1', port: 0 } } },
        { id: 'zz-xcq', name: '漳州市芗城区第二医院', city: '350600', grade: '2A', recognizedItems: ['CBC', 'CT-CHEST'], adapter: { type: 'cda', documents: docs, codeMap: path.join(root, 'codemap.json') } },
      ],
    });
    token = await requestToken(gw.app, client);
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
    rmSync(root, { recursive: true, force: true });
    await t?.close();
  });

  test('a LIS pushes over MLLP; the next search finds its report beside the CDA hospital\'s, all in gateway form', async () => {
    const health = await request(gw.app).get('/healthz');
    const mllp = health.body.hospitals.find((h: { id: string }) => h.id === 'qz-fzq');
    expect(mllp).toMatchObject({ kind: 'hl7v2', state: 'up', details: { mllpAccepted: 0 } });
    const lis = new Hl7Client({ host: '127.0.0.1', port: mllp.details.mllpPort });
    const ack = await sendAndWait(lis, Hl7Message.parse(join(cbcV251({ nid: CDA_NID, filler: 'FZ-001' }), '\r').trimEnd()));
    await lis.close();
    expect(ack.getSegment('MSA')?.getField(1)?.toString()).toBe('AA');

    const res = await request(gw.app)
      .get(`/DiagnosticReport?patient.identifier=${NATIONAL_ID_SYSTEM}|${CDA_NID}&_include=DiagnosticReport:result&_count=50`)
      .set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    const bundle = res.body as Bundle;
    expectValidFhir(bundle);
    const reports = bundle.entry!.filter((e) => e.search?.mode === 'match').map((e) => e.resource as DiagnosticReport);
    expect(reports.map((r) => r.id).sort()).toEqual(['qz-fzq.FZ-2D001', 'zz-xcq.E20261121007.rad', 'zz-xcq.L20261120001']);
    for (const r of reports) {
      const hospital = r.id!.split('.')[0];
      expect(r.meta?.source).toBe(`${gw.config.publicBaseUrl}/Organization/${hospital}`);
      expect(r.extension?.some((e) => e.url.endsWith('/StructureDefinition/recognition'))).toBe(true);
    }
    // the CDA report keeps its source document and signature
    const cda = reports.find((r) => r.id === 'zz-xcq.L20261120001')!;
    expect(cda.extension?.find((e) => e.url === `${gw.config.canonicalBase}/StructureDefinition/source-document`)?.extension?.find((e) => e.url === 'signatureCode')?.valueCode).toBe('S');
    const included = bundle.entry!.filter((e) => e.search?.mode === 'include').map((e) => e.resource as Observation);
    expect(included.some((o) => o.id === 'zz-xcq.L20261120001-7CWBC' && o.code.coding?.[0].code === '6690-2')).toBe(true);
    expect(bundle.entry!.filter((e) => e.search?.mode === 'outcome')).toEqual([]);
  });

  test('/healthz: the listener\'s counts, the CDA documents skipped and the last one by name, no patient data', async () => {
    const res = await request(gw.app).get('/healthz');
    expect(res.status).toBe(200);
    const byId = Object.fromEntries(res.body.hospitals.map((h: { id: string }) => [h.id, h]));
    expect(byId['qz-fzq']).toMatchObject({ state: 'up', details: { mllpAccepted: 1, mllpErrors: 0, mllpRejected: 0, filesRead: 1 } });
    expect(byId['zz-xcq']).toMatchObject({ kind: 'cda', state: 'up', details: { filesRead: 2, filesRejected: 2 } });
    expect([CDA_FILES.malformed, CDA_FILES.xxe]).toContain(byId['zz-xcq'].details.lastRejected);
    expect(JSON.stringify(res.body)).not.toContain(CDA_NID);
  });
});
