import { mkdtempSync, rmSync } from 'node:fs';
import { rename, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { HospitalAdapter } from '../../../../adapters/adapter';
import { createAdapter } from '../../../../adapters/factory';
import type { Hl7v2Adapter } from '../../../../adapters/hl7v2/hl7v2-adapter';
import type { HospitalConfig } from '../../../../gateway/config';
import { createMetrics, type Metrics } from '../../../../gateway/metrics';
import { expectValidFhir } from '../../../support/fhir-validation';
import { cbcV251, chemV23, ctV24, join, NID, NID2 } from '../../../support/hl7-samples';

const signal = () => AbortSignal.timeout(5000);

async function waitFor(check: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('hl7v2 adapter on an inbox folder', () => {
  let dir: string;
  let adapter: HospitalAdapter;
  let metrics: Metrics;
  const logLines: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'xzq-inbox-'));
    await writeFile(path.join(dir, '001-cbc.hl7'), join(cbcV251(), '\r\n'));
    await writeFile(path.join(dir, '002-mixed.hl7'), join(chemV23(), '\n') + join(ctV24(), '\r'));
    await writeFile(path.join(dir, '003-broken.hl7'), `garbage for ${NID}\r` + join(cbcV251()));
    await writeFile(path.join(dir, 'readme.txt'), 'not an hl7 file');
    metrics = createMetrics();
    const log = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, cb) => { logLines.push(String(chunk)); cb(); } }));
    const hospital = { id: 'xm-zsh', name: '中山', city: '350200', grade: '3A', recognizedItems: [], adapter: { type: 'hl7v2', inbox: dir, pollMs: 100 } } as HospitalConfig;
    adapter = createAdapter(hospital, { log, metrics });
    await adapter.start();
  });

  afterAll(async () => {
    await adapter.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('all files are read at start; the broken one is skipped, counted and logged by name only', async () => {
    expect(adapter.status()).toMatchObject({ state: 'up', details: { filesRead: 2, filesRejected: 1, lastRejected: '003-broken.hl7' } });
    const metric = await metrics.registry.getSingleMetricAsString('xzq_hl7v2_files_rejected_total');
    expect(metric).toContain('xzq_hl7v2_files_rejected_total{hospital="xm-zsh"} 1');
    const rejected = logLines.find((l) => l.includes('hl7v2 file rejected'))!;
    expect(rejected).toContain('003-broken.hl7');
    expect(rejected).not.toContain(NID);
    expect(rejected).not.toContain('garbage');
  });

  test('findPatient by national id; unknown → null', async () => {
    expect(await adapter.findPatient(NID, { signal: signal() })).toEqual({ localId: NID, mrns: ['M000123', 'M000999'] });
    expect(await adapter.findPatient(NID2, { signal: signal() })).toEqual({ localId: NID2, mrns: ['Q55667'] });
    expect(await adapter.findPatient('11010519491231002X', { signal: signal() })).toBeNull();
  });

  test('fetchResults: lab and imaging, every resource valid FHIR', async () => {
    const res = await adapter.fetchResults({ localId: NID, mrns: [] }, ['DiagnosticReport', 'Observation', 'ImagingStudy'], { signal: signal() });
    expect(res.DiagnosticReport?.map((r) => r.id).sort()).toEqual(['L2024030100012', 'RIS77001.rad']);
    expect(res.ImagingStudy?.map((s) => s.id)).toEqual(['ACC77001']);
    expect(res.Observation).toHaveLength(8);
    for (const r of [...res.DiagnosticReport!, ...res.Observation!, ...res.ImagingStudy!]) expectValidFhir(r);
    const only = await adapter.fetchResults({ localId: NID, mrns: [] }, ['ImagingStudy'], { signal: signal() });
    expect(Object.keys(only)).toEqual(['ImagingStudy']);
  });

  test('results are copies: changing them does not change what the adapter serves', async () => {
    const a = await adapter.fetchResults({ localId: NID, mrns: [] }, ['DiagnosticReport'], { signal: signal() });
    a.DiagnosticReport![0].id = 'changed';
    const b = await adapter.fetchResults({ localId: NID, mrns: [] }, ['DiagnosticReport'], { signal: signal() });
    expect(b.DiagnosticReport!.map((r) => r.id)).not.toContain('changed');
  });

  test('readResult by local id, with the national id and the report members', async () => {
    const read = await adapter.readResult('DiagnosticReport', 'L2024030100012', { signal: signal() });
    expect(read?.nationalId).toBe(NID);
    expect(read?.contained).toHaveLength(7);
    expect((await adapter.readResult('ImagingStudy', 'ACC77001', { signal: signal() }))?.resource.resourceType).toBe('ImagingStudy');
    expect(await adapter.readResult('Observation', 'nope', { signal: signal() })).toBeNull();
  });

  test('a file added while running is picked up by polling; a correction in an earlier-named file wins', async () => {
    await writeFile(path.join(dir, '.000-corr.tmp'), join(cbcV251({ status: 'C', reportedAt: '20240301160000', hb: '128' })));
    await rename(path.join(dir, '.000-corr.tmp'), path.join(dir, '000-corr.hl7'));
    await waitFor(async () => (await adapter.readResult('DiagnosticReport', 'L2024030100012', { signal: signal() }))?.resource.status === 'corrected');
    const read = await adapter.readResult('DiagnosticReport', 'L2024030100012', { signal: signal() });
    const hb = read!.contained!.find((o) => o.code.coding?.some((c) => c.code === '718-7'));
    expect(hb?.valueQuantity?.value).toBe(128);
    const res = await adapter.fetchResults({ localId: NID, mrns: [] }, ['DiagnosticReport'], { signal: signal() });
    expect(res.DiagnosticReport!.filter((r) => r.id === 'L2024030100012')).toHaveLength(1);
  });

  test('a fixed file is re-read; a removed file is forgotten', async () => {
    await writeFile(path.join(dir, '003-broken.hl7'), join(cbcV251({ filler: 'L-NEW', nid: NID2 })));
    await waitFor(() => (adapter.status().details?.filesRejected ?? 1) === 0);
    expect((await adapter.fetchResults({ localId: NID2, mrns: [] }, ['DiagnosticReport'], { signal: signal() })).DiagnosticReport?.map((r) => r.id)).toContain('L-2DNEW');
    await unlink(path.join(dir, '003-broken.hl7'));
    await (adapter as Hl7v2Adapter).scan();
    expect((await adapter.fetchResults({ localId: NID2, mrns: [] }, ['DiagnosticReport'], { signal: signal() })).DiagnosticReport?.map((r) => r.id)).not.toContain('L-2DNEW');
  });

  test('a missing inbox makes the adapter down, not crashed', async () => {
    const missing = createAdapter(
      { id: 'xm-x', name: 'x', city: '350200', grade: '2A', recognizedItems: [], adapter: { type: 'hl7v2', inbox: path.join(dir, 'nope'), pollMs: 100 } } as HospitalConfig,
      { log: pino({ level: 'silent' }), metrics },
    );
    await missing.start();
    expect(missing.status()).toMatchObject({ state: 'down', lastError: 'inbox cannot be read (ENOENT)' });
    await missing.close();
  });
});
