/**
 * Figures of the sources issue #19 adds (README "Figures"):
 *
 *   mllpMessagesPerSec     ORU^R01 messages stored durably (fsynced) and acknowledged AA, sent one at a
 *                          time on one connection, each after the ACK of the one before
 *   cdaDocumentsPerSec     WS/T 500 lab reports (test/support/cda/lab-cbc.xml) parsed and mapped to FHIR
 *   dicomwebStudyMb        size of the synthetic CT study proxied (WADO-RS study, multipart)
 *   dicomwebRssGrowthMb    RSS growth of the process running the gateway (listening on loopback) and
 *                          the client reading the study, while it streams through (needs Orthanc;
 *                          absent when it is not installed)
 *
 *   npx tsx test/bench/sources-bench.ts           BENCH_SOURCES_N=50 for a smoke run (fewer messages,
 *                                                 documents and a 5 MB study)
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { CdaAdapter } from '../../adapters/cda/cda-adapter';
import { Hl7v2Adapter } from '../../adapters/hl7v2/hl7v2-adapter';
import { syntheticStudy } from '../../fixtures/generator/dicom-writer';
import { sendOverMllp } from '../../fixtures/servers/mllp-sender';
import { orthancAvailable, startOrthanc } from '../../fixtures/servers/orthanc';
import { makeTestClient, requestToken } from '../support/auth';
import { CDA_DIR, CDA_FILES, cdaBytes } from '../support/cda-samples';
import { openSqlite } from '../support/databases';
import { startGateway } from '../support/gateway-harness';
import { cbcV251, join } from '../support/hl7-samples';

export interface SourcesBenchFigures {
  mllpMessagesPerSec: number;
  cdaDocumentsPerSec: number;
  dicomwebStudyMb?: number;
  dicomwebRssGrowthMb?: number;
}

const r2 = (n: number) => Math.round(n * 100) / 100;
const silent = pino({ level: 'silent' });

async function mllpBench(n: number): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xzq-mllp-bench-'));
  const adapter = new Hl7v2Adapter({
    hospitalId: 'bench',
    inbox: dir,
    pollMs: 60_000,
    log: silent,
    mllp: { host: '127.0.0.1', port: 0, allowedFacilities: [], maxMessageBytes: 1 << 20, idleTimeoutMs: 60_000, maxConnections: 4 },
  });
  await adapter.start();
  try {
    const messages = Array.from({ length: n }, (_x, i) => join(cbcV251({ filler: `B${i}` }), '\r').trimEnd());
    await sendOverMllp({ host: '127.0.0.1', port: adapter.mllpPort!, messages: messages.slice(0, 10) }); // warm-up
    const started = process.hrtime.bigint();
    const acks = await sendOverMllp({ host: '127.0.0.1', port: adapter.mllpPort!, messages: messages.slice(10) });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (acks.some((a) => a !== 'AA')) throw new Error('MLLP bench: a message was not accepted');
    return acks.length / seconds;
  } finally {
    await adapter.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function cdaBench(n: number): number {
  const adapter = new CdaAdapter({ hospitalId: 'bench', documents: os.tmpdir(), canonicalBase: 'https://hie.xzq.example/fhir', log: silent });
  const bytes = cdaBytes(CDA_FILES.lab);
  for (let i = 0; i < 50; i++) adapter.parse('warm.xml', bytes, 0);
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) adapter.parse(`d${i}.xml`, bytes, 0);
  return n / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** A study of `mb` megabytes through the gateway (listening on loopback), read and dropped by a client, RSS sampled meanwhile. */
async function dicomwebBench(mb: number): Promise<{ studyMb: number; rssGrowthMb: number }> {
  const orthanc = await startOrthanc();
  const t = await openSqlite();
  const root = mkdtempSync(path.join(os.tmpdir(), 'xzq-dicomweb-bench-'));
  try {
    const uid = '1.2.156.112606.3.20261121.7';
    const sliceBytes = 512 * 512 * 2;
    const slices = Math.max(1, Math.round((mb * 1024 * 1024) / sliceBytes));
    await orthanc.upload(syntheticStudy({ studyUid: uid, patientId: 'B1', patientName: 'BENCH^STUDY', accession: 'E20261121007', studyDate: '20261121', series: [slices], rows: 512, columns: 512 }));
    const docs = path.join(root, 'documents');
    mkdirSync(docs);
    copyFileSync(path.join(CDA_DIR, CDA_FILES.exam), path.join(docs, 'exam.xml'));
    const client = makeTestClient({ id: 'bench-his', hospital: 'zz-xcq', roles: ['clinician'] });
    const gw = await startGateway({
      db: t,
      clients: [client],
      consentDefault: 'permit',
      hospitals: [{ id: 'zz-xcq', name: '基准医院', city: '350600', grade: '2A', adapter: { type: 'cda', documents: docs }, pacs: { dicomweb: orthanc.dicomweb, timeoutMs: 10_000 } }],
    });
    const token = await requestToken(gw.app, client);
    const server = gw.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dicomweb/zz-xcq.E20261121007/studies/${uid}`;
    const headers = { Authorization: `Bearer ${token}` };
    await (await fetch(url.replace(/\/studies\/.*/, `/studies/${uid}/metadata`), { headers })).arrayBuffer(); // warm-up
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    let bytes = 0;
    const res = await fetch(url, { headers });
    if (res.status !== 200 || !res.body) throw new Error(`DICOMweb bench: ${res.status}`);
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.length;
    }
    clearInterval(sampler);
    await new Promise((r) => server.close(r));
    await gw.close();
    return { studyMb: r2(bytes / 1024 / 1024), rssGrowthMb: r2((peak - before) / 1024 / 1024) };
  } finally {
    await orthanc.stop();
    await t.close();
    rmSync(root, { recursive: true, force: true });
  }
}

export async function runSourcesBench(opts: { n?: number } = {}): Promise<SourcesBenchFigures> {
  const n = opts.n ?? 2000;
  const figures: SourcesBenchFigures = {
    mllpMessagesPerSec: r2(await mllpBench(Math.max(20, Math.min(n, 2000)))),
    cdaDocumentsPerSec: r2(cdaBench(n)),
  };
  if (orthancAvailable()) {
    const d = await dicomwebBench(n >= 2000 ? 50 : 5);
    figures.dicomwebStudyMb = d.studyMb;
    figures.dicomwebRssGrowthMb = d.rssGrowthMb;
  }
  return figures;
}

if (require.main === module) {
  runSourcesBench({ n: process.env.BENCH_SOURCES_N ? Number(process.env.BENCH_SOURCES_N) : undefined })
    .then((f) => process.stdout.write(JSON.stringify(f) + '\n'))
    .catch((e) => {
      process.stderr.write(`sources bench failed: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    });
}
