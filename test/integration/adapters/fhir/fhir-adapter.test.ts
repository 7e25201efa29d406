import type { DiagnosticReport, ImagingStudy, Observation, Patient, Resource } from '@medplum/fhirtypes';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { AdapterError, type HospitalAdapter } from '../../../../adapters/adapter';
import { createAdapter } from '../../../../adapters/factory';
import type { HospitalConfig } from '../../../../gateway/config';
import { silentLogger } from '../../../../gateway/logger';
import { createMetrics } from '../../../../gateway/metrics';
import { type FhirHospitalServer, startFhirHospitalServer } from '../../../../fixtures/servers/fhir-hospital-server';
import { expectValidFhir } from '../../../support/fhir-validation';

const NID = '350203199001010018';
const NATIONAL = 'urn:oid:2.16.156.10011.1.3';

function hospitalData(): Resource[] {
  const patient: Patient = {
    resourceType: 'Patient',
    id: 'p1',
    identifier: [
      { system: NATIONAL, value: NID },
      { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] }, system: 'urn:xzq:mrn:qz-yy', value: 'MR-77' },
    ],
  };
  const out: Resource[] = [patient, { resourceType: 'Patient', id: 'p2', identifier: [{ system: NATIONAL, value: '350503198506150026' }] }];
  // 45 lab reports of 2 observations each: several pages at pageSize 20
  for (let i = 1; i <= 45; i++) {
    const o1: Observation = {
      resourceType: 'Observation', id: `r${i}o1`, status: 'final',
      code: { coding: [{ system: 'http://qzyy.example/lis', code: 'ALT', display: '谷丙转氨酶' }] },
      subject: { reference: 'Patient/p1' }, effectiveDateTime: '2024-03-01T08:00:00+08:00',
      valueQuantity: { value: 40 + i, unit: 'IU/L' },
    };
    const o2: Observation = {
      resourceType: 'Observation', id: `r${i}o2`, status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] }, subject: { reference: 'Patient/p1' },
      valueQuantity: { value: 130, unit: 'g/L', system: 'http://unitsofmeasure.org', code: 'g/L' },
    };
    const dr: DiagnosticReport = {
      resourceType: 'DiagnosticReport', id: `r${i}`, status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'CH' }] }],
      code: { coding: [{ system: 'http://qzyy.example/lis', code: 'LIVER', display: '肝功能' }] },
      subject: { reference: 'Patient/p1' }, effectiveDateTime: '2024-03-01T08:00:00+08:00',
      result: [{ reference: `Observation/${o1.id}` }, { reference: `Observation/${o2.id}` }],
    };
    out.push(dr, o1, o2);
  }
  const study: ImagingStudy = {
    resourceType: 'ImagingStudy', id: 's1', status: 'available', subject: { reference: 'Patient/p1' },
    modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'CT' }],
    procedureCode: [{ coding: [{ system: 'http://qzyy.example/ris', code: 'CT-CHEST' }] }],
  };
  out.push(study, { resourceType: 'Observation', id: 'other', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p2' } } as Observation);
  return out;
}

const hospital = (baseUrl: string, codeMap?: string): HospitalConfig =>
  ({ id: 'qz-yy', name: '泉州', city: '350500', grade: '3A', recognizedItems: [], adapter: { type: 'fhir', baseUrl, ...(codeMap ? { codeMap } : {}) } }) as HospitalConfig;

const signal = () => AbortSignal.timeout(5000);

describe('fhir adapter against the simulated hospital server', () => {
  let server: FhirHospitalServer;
  let adapter: HospitalAdapter;

  beforeAll(async () => {
    server = await startFhirHospitalServer({ resources: hospitalData(), pageSize: 20 });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xzq-fhir-'));
    const codeMap = path.join(dir, 'codes.json');
    writeFileSync(codeMap, JSON.stringify({ ALT: { loinc: '1742-6', display: 'ALT', unit: 'U/L' }, 'CT-CHEST': { loinc: '24627-2', display: 'CT Chest' } }));
    adapter = createAdapter(hospital(server.url, codeMap), { log: silentLogger(), metrics: createMetrics() });
    await adapter.start();
  });
  afterAll(async () => {
    await adapter.close();
    await server.close();
  });
  afterEach(() => server.setMode('normal'));

  test('findPatient by national id: local id and MR numbers', async () => {
    expect(await adapter.findPatient(NID, { signal: signal() })).toEqual({ localId: 'p1', mrns: ['MR-77'] });
    expect(await adapter.findPatient('11010519491231002X', { signal: signal() })).toBeNull();
  });

  test('fetchResults follows next links across pages, includes report members, maps codes and units', async () => {
    const before = server.requestCount();
    const res = await adapter.fetchResults({ localId: 'p1', mrns: [] }, ['DiagnosticReport', 'ImagingStudy'], { signal: signal() });
    expect(server.requestCount() - before).toBe(3 + 1); // 3 report pages + 1 study page
    expect(res.DiagnosticReport).toHaveLength(45);
    expect(new Set(res.DiagnosticReport!.map((r) => r.id)).size).toBe(45);
    expect(res.Observation).toHaveLength(90);
    expect(res.ImagingStudy).toHaveLength(1);
    for (const r of [...res.DiagnosticReport!, ...res.Observation!, ...res.ImagingStudy!]) expectValidFhir(r);
    const alt = res.Observation!.find((o) => o.id === 'r1o1')!;
    expect(alt.code.coding?.map((c) => c.code)).toEqual(['1742-6', 'ALT']);
    expect(alt.valueQuantity).toEqual({ value: 41, unit: 'IU/L', system: 'http://unitsofmeasure.org', code: 'U/L' });
    expect(res.DiagnosticReport![0].category?.map((c) => c.coding?.[0].code)).toEqual(['CH', 'LAB']);
    expect(res.ImagingStudy![0].procedureCode?.[0].coding?.map((c) => c.code)).toEqual(['24627-2', 'CT-CHEST']);
  });

  test('only the types asked for are searched', async () => {
    const before = server.requestCount();
    const res = await adapter.fetchResults({ localId: 'p1', mrns: [] }, ['ImagingStudy'], { signal: signal() });
    expect(server.requestCount() - before).toBe(1);
    expect(res).toEqual({ ImagingStudy: [expect.objectContaining({ id: 's1' })] });
  });

  test('Observation search alone pages too, without duplicates', async () => {
    const res = await adapter.fetchResults({ localId: 'p1', mrns: [] }, ['Observation', 'DiagnosticReport'], { signal: signal() });
    expect(res.Observation).toHaveLength(90);
  });

  test('readResult: the resource, the national id, and a report\'s members; 404 → null', async () => {
    const read = await adapter.readResult('DiagnosticReport', 'r3', { signal: signal() });
    expect(read?.nationalId).toBe(NID);
    expect(read?.resource.id).toBe('r3');
    expect(read?.contained?.map((o) => o.id)).toEqual(['r3o1', 'r3o2']);
    for (const r of [read!.resource, ...read!.contained!]) expectValidFhir(r);
    expect(await adapter.readResult('Observation', 'nope', { signal: signal() })).toBeNull();
    expect(await adapter.readResult('Observation', '../Patient/p1', { signal: signal() })).toBeNull();
  });

  test.each([
    ['status-500', 'transient'],
    ['invalid-json', 'exception'],
    ['not-fhir', 'exception'],
  ] as const)('server mode %s → AdapterError %s; the message leaks nothing', async (mode, kind) => {
    server.setMode(mode);
    const err = await adapter.fetchResults({ localId: 'p1', mrns: [] }, ['DiagnosticReport'], { signal: signal() }).catch((e) => e);
    expect(err).toBeInstanceOf(AdapterError);
    expect(err.kind).toBe(kind);
    expect(err.message).not.toMatch(/p1|350203/);
    const err2 = await adapter.findPatient(NID, { signal: signal() }).catch((e) => e);
    expect(err2.kind).toBe(kind);
    expect(err2.message).not.toContain(NID);
    expect(adapter.status().state).toBe('down');
    expect(adapter.status().lastError).not.toContain(NID);
  });

  test('a hanging server is cut by the AbortSignal → timeout', async () => {
    server.setMode('hang');
    const started = Date.now();
    const err = await adapter.findPatient(NID, { signal: AbortSignal.timeout(200) }).catch((e) => e);
    expect(err).toBeInstanceOf(AdapterError);
    expect(err.kind).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  test('recovers when the server does', async () => {
    server.setMode('normal');
    expect(await adapter.findPatient(NID, { signal: signal() })).not.toBeNull();
    expect(adapter.status().state).toBe('up');
  });
});

describe('fhir adapter failure modes without a server', () => {
  test('connection refused → transient', async () => {
    const s = http.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    const adapter = createAdapter(hospital(`http://127.0.0.1:${port}/fhir`), { log: silentLogger(), metrics: createMetrics() });
    await adapter.start();
    const err = await adapter.findPatient(NID, { signal: signal() }).catch((e) => e);
    expect(err).toBeInstanceOf(AdapterError);
    expect(err.kind).toBe('transient');
    await adapter.close();
  });

  test('a next link to another origin is refused as nonsense', async () => {
    const s = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/fhir+json' });
      res.end(JSON.stringify({ resourceType: 'Bundle', type: 'searchset', link: [{ relation: 'next', url: 'http://127.0.0.2:1/steal' }], entry: [] }));
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as AddressInfo).port;
    const adapter = createAdapter(hospital(`http://127.0.0.1:${port}/fhir`), { log: silentLogger(), metrics: createMetrics() });
    await adapter.start();
    const err = await adapter.fetchResults({ localId: 'p1', mrns: [] }, ['Observation'], { signal: signal() }).catch((e) => e);
    expect(err.kind).toBe('exception');
    await adapter.close();
    await new Promise<void>((r) => s.close(() => r()));
  });
});

describe('the simulated server itself', () => {
  test('paging links, includes, reads, modes and delay', async () => {
    const server = await startFhirHospitalServer({ resources: hospitalData(), pageSize: 10, delayMs: 5 });
    try {
      const page1 = await (await fetch(`${server.url}/DiagnosticReport?patient=p1&_include=DiagnosticReport:result`)).json();
      expect(page1).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 45 });
      expect(page1.entry.filter((e: { search: { mode: string } }) => e.search.mode === 'match')).toHaveLength(10);
      expect(page1.entry.filter((e: { search: { mode: string } }) => e.search.mode === 'include')).toHaveLength(20);
      expectValidFhir(page1);
      const next = page1.link.find((l: { relation: string }) => l.relation === 'next').url;
      expect(next).toContain('_offset=10');
      const pat = await fetch(`${server.url}/Patient?identifier=${encodeURIComponent(`${NATIONAL}|${NID}`)}`);
      expect(pat.headers.get('content-type')).toContain('application/fhir+json');
      expect((await pat.json()).entry[0].resource.id).toBe('p1');
      expect((await fetch(`${server.url}/Observation/r1o1`)).status).toBe(200);
      expect((await fetch(`${server.url}/Observation/missing`)).status).toBe(404);
      server.setMode('status-500');
      expect((await fetch(`${server.url}/Patient/p1`)).status).toBe(500);
      expect(server.requestCount()).toBe(5);
    } finally {
      await server.close();
    }
  });
});
