import type { DiagnosticReport } from '@medplum/fhirtypes';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { rename, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { CdaAdapter } from '../../../../adapters/cda/cda-adapter';
import { createAdapter } from '../../../../adapters/factory';
import { parseConfig, type HospitalConfig } from '../../../../gateway/config';
import { createMetrics, type Metrics } from '../../../../gateway/metrics';
import { CDA_CODE_MAP, CDA_DIR, CDA_FILES, CDA_NID, cdaText } from '../../../support/cda-samples';
import { expectValidFhir } from '../../../support/fhir-validation';

/**
 * The cda adapter on a real folder of WS/T 500 documents (test/support/cda/): every good document
 * served as valid FHIR, every bad one (not XML, malformed, another template, no resident id, XXE,
 * entity expansion) skipped, counted and named in status() without its content.
 */
const signal = () => AbortSignal.timeout(5000);

describe('cda adapter on a document folder', () => {
  let dir: string;
  let adapter: CdaAdapter;
  let metrics: Metrics;
  const logs: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'xzq-cda-'));
    for (const f of Object.values(CDA_FILES)) if (f !== CDA_FILES.labCorrected) copyFileSync(path.join(CDA_DIR, f), path.join(dir, f));
    writeFileSync(path.join(dir, 'readme.txt'), 'not a document');
    const codeMap = path.join(dir, 'codemap.json.map');
    writeFileSync(codeMap, JSON.stringify(CDA_CODE_MAP));
    metrics = createMetrics();
    const log = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => { logs.push(String(c)); cb(); } }));
    const config = parseConfig({
      publicBaseUrl: 'http://127.0.0.1:8080',
      hospitals: [{ id: 'zz-xcq', name: '芗城区第二医院', city: '350600', grade: '2A', adapter: { type: 'cda', documents: dir, codeMap, pollMs: 100 } }],
    });
    adapter = createAdapter(config.hospitals[0] as HospitalConfig, { log, metrics, canonicalBase: config.canonicalBase }) as CdaAdapter;
    await adapter.start();
  });
  afterAll(async () => {
    await adapter.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the good documents are read; each bad one is skipped, counted and logged by name and rule only', async () => {
    expect(adapter.status()).toMatchObject({ state: 'up', details: { filesRead: 3, filesRejected: 6, reports: 3 } });
    expect(await metrics.registry.getSingleMetricAsString('xzq_cda_documents_rejected_total')).toContain('xzq_cda_documents_rejected_total{hospital="zz-xcq"} 6');
    const rejected = logs.filter((l) => l.includes('cda document rejected')).map((l) => JSON.parse(l) as { file: string; reason: string });
    expect(Object.fromEntries(rejected.map((r) => [r.file, r.reason]))).toEqual({
      [CDA_FILES.malformed]: 'not well-formed XML',
      [CDA_FILES.notXml]: expect.any(String),
      [CDA_FILES.wrongTemplate]: 'not a WS/T 500 lab (C0007) or exam (C0006) report template',
      [CDA_FILES.noResidentId]: 'recordTarget has no resident id under OID 2.16.156.10011.1.3',
      [CDA_FILES.xxe]: 'a DOCTYPE is not allowed (no DTD, no entities)',
      [CDA_FILES.entityExpansion]: 'a DOCTYPE is not allowed (no DTD, no entities)',
    });
    const all = logs.join('');
    expect(all).not.toContain(CDA_NID);
    expect(all).not.toContain('root:'); // nothing of /etc/passwd
    expect(all).not.toContain('林小明');
  });

  test('findPatient by the resident id; results as valid FHIR, the unknown-code item kept with its local code', async () => {
    expect(await adapter.findPatient(CDA_NID, { signal: signal() })).toEqual({ localId: CDA_NID, mrns: ['MZ0098123'] });
    expect(await adapter.findPatient('11010519491231002X', { signal: signal() })).toBeNull();
    const res = await adapter.fetchResults({ localId: CDA_NID, mrns: [] }, ['DiagnosticReport', 'Observation', 'ImagingStudy'], { signal: signal() });
    expect(res.DiagnosticReport!.map((r) => r.id).sort()).toEqual(['E20261121007.rad', 'L20261120001', 'L20261120002']);
    expect(res.ImagingStudy!.map((s) => s.id)).toEqual(['E20261121007']);
    for (const r of [...res.DiagnosticReport!, ...res.Observation!, ...res.ImagingStudy!]) expectValidFhir(r);
    expect(res.Observation!.some((o) => o.code.coding?.length === 1 && o.code.coding[0].code === 'ZX-NEW-0097')).toBe(true);
  });

  test('a replacing version (RPLC, version 2) published later wins; removing it brings version 1 back', async () => {
    await writeFile(path.join(dir, '.v2.tmp'), cdaText(CDA_FILES.labCorrected));
    await rename(path.join(dir, '.v2.tmp'), path.join(dir, 'lab-cbc-v2.xml'));
    await adapter.scan();
    const read = await adapter.readResult('DiagnosticReport', 'L20261120001', { signal: signal() });
    expect(read?.nationalId).toBe(CDA_NID);
    expect((read!.resource as DiagnosticReport).status).toBe('corrected');
    expect(read!.contained!.find((o) => o.code.coding?.some((c) => c.code === '718-7'))?.valueQuantity?.value).toBe(128);
    await unlink(path.join(dir, 'lab-cbc-v2.xml'));
    await adapter.scan();
    expect(((await adapter.readResult('DiagnosticReport', 'L20261120001', { signal: signal() }))!.resource as DiagnosticReport).status).toBe('final');
  });

  test('a fixed document is re-read', async () => {
    await writeFile(path.join(dir, CDA_FILES.malformed), cdaText(CDA_FILES.lab).replace(/L20261120001/g, 'L-FIXED'));
    await adapter.scan();
    expect(adapter.status().details).toMatchObject({ filesRejected: 5 });
    expect(await adapter.readResult('DiagnosticReport', 'L-2DFIXED', { signal: signal() })).not.toBeNull();
  });
});
