import type { DiagnosticReport } from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knex, { type Knex } from 'knex';
import { AdapterError, type HospitalAdapter } from '../../../../adapters/adapter';
import { createAdapter } from '../../../../adapters/factory';
import type { HospitalConfig } from '../../../../gateway/config';
import { silentLogger } from '../../../../gateway/logger';
import { createMetrics } from '../../../../gateway/metrics';
import { expectValidFhir } from '../../../support/fhir-validation';

const NID = '350602197703080033';
const OTHER = '350503198506150026';
const signal = () => AbortSignal.timeout(5000);

/** The hospital's front-end database: the two views of API.md §2, made as tables. */
async function seed(db: Knex): Promise<void> {
  await db.schema.createTable('v_lis', (t) => {
    for (const c of ['national_id', 'mrn', 'report_no', 'item_code', 'item_name', 'loinc', 'value', 'unit', 'ref_low', 'ref_high', 'flag', 'status', 'specimen', 'collected_at', 'reported_at']) t.string(c);
  });
  await db.schema.createTable('v_ris', (t) => {
    for (const c of ['national_id', 'mrn', 'accession_no', 'study_uid', 'modality', 'body_part', 'exam_code', 'exam_name', 'status', 'study_at', 'reported_at']) t.string(c);
    t.text('findings');
    t.text('conclusion');
  });
  const lab = (report_no: string, item_code: string, item_name: string, value: string, extra: Record<string, string | null> = {}) => ({
    national_id: NID, mrn: 'ZZ-9', report_no, item_code, item_name, loinc: null, value, unit: 'mmol/L', ref_low: '3.5', ref_high: '5.3',
    flag: null, status: 'final', specimen: '血清', collected_at: '2024-03-01 08:00:00', reported_at: '2024-03-01 11:00:00', ...extra,
  });
  await db('v_lis').insert([
    lab('E-100', 'K', '钾', '4.1'),
    lab('E-100', 'NA', '钠', '150', { loinc: '2951-2', ref_low: '137', ref_high: '147', flag: 'H' }),
    lab('E-200', 'ALT', '丙氨酸氨基转移酶', '56', { unit: 'IU/L', ref_low: '9', ref_high: '50', flag: '↑', status: 'corrected' }),
    lab('E-300', 'K', '钾', '3.9', { national_id: OTHER, mrn: 'ZZ-1' }),
    // a value that looks like SQL must stay a value
    lab('E-100', 'NOTE', '备注', "'); DROP TABLE v_lis; --", { unit: null, ref_low: null, ref_high: null }),
  ]);
  await db('v_ris').insert({
    national_id: NID, mrn: 'ZZ-9', accession_no: 'E-100', study_uid: '1.2.156.1.2.3', modality: 'CT', body_part: '胸部', exam_code: 'CT-CHEST',
    exam_name: '胸部CT平扫', findings: '双肺纹理清晰。', conclusion: '未见异常', status: 'final', study_at: '2024-03-02 09:00:00', reported_at: '2024-03-02 10:00:00',
  });
}

type Target = { name: string; open: () => Promise<{ config: Record<string, unknown>; db: Knex; cleanup: () => Promise<void> }> };
const targets: Target[] = [
  {
    name: 'sqlite',
    open: async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'xzq-frontend-'));
      const config = { client: 'sqlite3', connection: { filename: path.join(dir, 'frontend.sqlite') }, useNullAsDefault: true };
      const db = knex(config);
      return { config, db, cleanup: async () => { await db.destroy(); rmSync(dir, { recursive: true, force: true }); } };
    },
  },
];
if (process.env.TEST_DATABASE_URL) {
  targets.push({
    name: 'postgres',
    open: async () => {
      const schema = `frontend_${process.pid}_${Date.now()}`;
      const admin = knex({ client: 'pg', connection: process.env.TEST_DATABASE_URL });
      await admin.raw('create schema ??', [schema]);
      const config = { client: 'pg', connection: process.env.TEST_DATABASE_URL, searchPath: [schema] };
      const db = knex(config);
      return { config, db, cleanup: async () => { await db.destroy(); await admin.raw('drop schema ?? cascade', [schema]); await admin.destroy(); } };
    },
  });
}

describe.each(targets.map((t) => [t.name, t] as const))('sql adapter on a real %s front-end database', (_name, target) => {
  let adapter: HospitalAdapter;
  let db: Knex;
  let cleanup: () => Promise<void>;
  let config: Record<string, unknown>;

  beforeAll(async () => {
    ({ db, cleanup, config } = await target.open());
    await seed(db);
    const hospital = {
      id: 'zz-sy', name: '漳州市医院', city: '350600', grade: '3A', recognizedItems: [],
      adapter: { type: 'sql', connection: config, labView: 'v_lis', imagingView: 'v_ris' },
    } as unknown as HospitalConfig;
    adapter = createAdapter(hospital, { log: silentLogger(), metrics: createMetrics() });
    await adapter.start();
  });
  afterAll(async () => {
    await adapter.close();
    await cleanup();
  });

  test('findPatient: local id is the national id, MRNs from both views', async () => {
    expect(await adapter.findPatient(NID, { signal: signal() })).toEqual({ localId: NID, mrns: ['ZZ-9'] });
    expect(await adapter.findPatient('11010519491231002X', { signal: signal() })).toBeNull();
  });

  test('fetchResults groups lab rows by report and maps imaging rows; all valid FHIR', async () => {
    const res = await adapter.fetchResults({ localId: NID, mrns: [] }, ['DiagnosticReport', 'Observation', 'ImagingStudy'], { signal: signal() });
    expect(res.DiagnosticReport?.map((r) => r.id).sort()).toEqual(['E-2D100', 'E-2D100.rad', 'E-2D200']);
    expect(res.Observation).toHaveLength(5); // 3 + 1 lab, 1 findings
    expect(res.ImagingStudy?.map((s) => s.id)).toEqual(['E-2D100']);
    for (const r of [...res.DiagnosticReport!, ...res.Observation!, ...res.ImagingStudy!]) expectValidFhir(r);
    const alt = res.Observation!.find((o) => o.code.coding?.some((c) => c.code === 'ALT'))!;
    expect(alt.status).toBe('corrected');
    expect(alt.valueQuantity).toEqual({ value: 56, unit: 'IU/L', system: 'http://unitsofmeasure.org', code: 'U/L' });
    const note = res.Observation!.find((o) => o.code.coding?.some((c) => c.code === 'NOTE'))!;
    expect(note.valueString).toBe("'); DROP TABLE v_lis; --");
    expect(res.DiagnosticReport!.find((r) => r.id === 'E-2D100.rad')?.conclusion).toBe('未见异常');
  });

  test('the lab report number and the imaging accession number may be equal without colliding', async () => {
    const lab = await adapter.readResult('DiagnosticReport', 'E-2D100', { signal: signal() });
    const img = await adapter.readResult('DiagnosticReport', 'E-2D100.rad', { signal: signal() });
    expect((lab?.resource as DiagnosticReport).category?.map((c) => c.coding?.[0].code)).toEqual(['LAB']);
    expect(lab?.contained).toHaveLength(3);
    expect((img?.resource as DiagnosticReport).category?.map((c) => c.coding?.[0].code)).toEqual(['CT', 'RAD']);
    expect(img?.nationalId).toBe(NID);
  });

  test('readResult of each type; unknown or malformed ids → null', async () => {
    const obsId = (await adapter.readResult('DiagnosticReport', 'E-2D200', { signal: signal() }))!.contained![0].id!;
    const obs = await adapter.readResult('Observation', obsId, { signal: signal() });
    expect(obs?.resource.id).toBe(obsId);
    expect(obs?.nationalId).toBe(NID);
    expect((await adapter.readResult('ImagingStudy', 'E-2D100', { signal: signal() }))?.resource.resourceType).toBe('ImagingStudy');
    expect((await adapter.readResult('Observation', 'E-2D100.rad.findings', { signal: signal() }))?.resource).toMatchObject({ valueString: '双肺纹理清晰。' });
    expect(await adapter.readResult('DiagnosticReport', 'NOPE', { signal: signal() })).toBeNull();
    expect(await adapter.readResult('DiagnosticReport', 'bad-zz', { signal: signal() })).toBeNull();
  });

  test('an already aborted signal → timeout', async () => {
    const err = await adapter.findPatient(NID, { signal: AbortSignal.abort() }).catch((e) => e);
    expect(err).toBeInstanceOf(AdapterError);
    expect(err.kind).toBe('timeout');
  });
});

describe('sql adapter failures', () => {
  test('a missing view → exception without SQL text or national id; state down', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xzq-frontend-'));
    const adapter = createAdapter(
      { id: 'zz-x', name: 'x', city: '350600', grade: '2A', recognizedItems: [], adapter: { type: 'sql', connection: { client: 'sqlite3', connection: { filename: path.join(dir, 'empty.sqlite') } } } } as unknown as HospitalConfig,
      { log: silentLogger(), metrics: createMetrics() },
    );
    await adapter.start();
    const err = await adapter.findPatient(NID, { signal: signal() }).catch((e) => e);
    expect(err).toBeInstanceOf(AdapterError);
    expect(err.kind).toBe('exception');
    expect(err.message).not.toMatch(/select|350602/i);
    expect(adapter.status()).toMatchObject({ state: 'down' });
    await adapter.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('an unreachable PostgreSQL → transient', async () => {
    const adapter = createAdapter(
      { id: 'zz-y', name: 'y', city: '350600', grade: '2A', recognizedItems: [], adapter: { type: 'sql', connection: { client: 'pg', connection: 'postgres://nobody@127.0.0.1:1/none', acquireConnectionTimeout: 2000 } } } as unknown as HospitalConfig,
      { log: silentLogger(), metrics: createMetrics() },
    );
    await adapter.start();
    const err = await adapter.fetchResults({ localId: NID, mrns: [] }, ['Observation'], { signal: signal() }).catch((e) => e);
    expect(err).toBeInstanceOf(AdapterError);
    expect(err.kind).toBe('transient');
    await adapter.close();
  });
});
