/**
 * Audit trail figures (API.md §7) on a temp SQLite file (WAL, synchronous=FULL):
 *
 *   auditEventsPerSec  durable appends/s through AuditService.recordRequest, many concurrent callers
 *                      (group commit): each call resolves only after its commit
 *   verifySeconds      GET /AuditEvent/$verify over `searchEvents` (default 1 M) events
 *   verifyRssMb        peak RSS of the process that ran $verify (a fresh child, so nothing else counts)
 *   auditSearchP95Ms   GET /AuditEvent?patient=… (handler: parameters, query, Bundle) p95 over the same store
 *
 * The 1 M events are built by the real event builder and stored through the real chained append
 * (`appendRows`, the function every group commit runs) in transactions of 10 000 events, so the
 * chain is the one production writes; only the HTTP and group-commit layers are skipped for speed.
 *
 *   npx tsx test/bench/audit-bench.ts [--events N] [--search-events N]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildAuditEvents } from '../../gateway/audit/audit-event';
import { auditBuildContext, createAuditService, toAuditRow } from '../../gateway/audit/audit-service';
import { appendRows, chainHead } from '../../gateway/audit/audit-store';
import type { AuditRowContent } from '../../gateway/audit/hash-chain';
import { migrate } from '../../gateway/migrations';
import { closeReader, createDb, createReader, type Db } from '../../gateway/storage/db';
import type { AuditService } from '../../gateway/audit/contract';
import { auditRoutes } from '../../gateway/http/routes/audit-routes';
import { auditor, auditTestConfig, auditTestDeps, clinician, request, searchEntry } from '../support/audit-fixtures';

export interface AuditBenchFigures {
  auditEventsPerSec: number;
  verifySeconds: number;
  verifyRssMb: number;
  auditSearchP95Ms: number;
}

const PATIENTS = 20_000;
const FILL_BATCH = 10_000;
const CALLERS = 256;
const SEARCHES = 1000;

function openDb(filename: string): Db {
  return createDb({ client: 'sqlite3', connection: { filename } });
}

/** Durable appends/s: `events` single-patient requests from CALLERS concurrent callers. */
async function measureThroughput(audit: AuditService, events: number): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  const caller = async () => {
    for (let i = next++; i < events; i = next++) {
      await audit.recordRequest(searchEntry([`p${i % PATIENTS}`], ['xm-zsh', 'qz-fy'], { requestId: `tp-${i}`, at: new Date() }));
    }
  };
  await Promise.all(Array.from({ length: CALLERS }, caller));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return Math.round(events / seconds);
}

/** Fill the store up to `total` events, through the real builder and chained append. */
export async function fillAuditStore(db: Db, total: number): Promise<void> {
  const ctx = auditBuildContext(auditTestConfig());
  let have = (await chainHead(db)).seq;
  const t0 = Date.now();
  let n = 0;
  while (have < total) {
    const batch: Omit<AuditRowContent, 'seq'>[] = [];
    const size = Math.min(FILL_BATCH, total - have);
    const at = new Date(Date.UTC(2024, 0, 1) + have * 30_000);
    for (let i = 0; i < size; i++) {
      n++;
      const e = searchEntry([`p${n % PATIENTS}`], n % 3 ? ['xm-zsh'] : ['xm-zsh', 'qz-fy'], {
        requestId: `fill-${n}`,
        at: new Date(at.getTime() + i * 30_000),
        requester: n % 50 ? clinician() : clinician({ purposeOfUse: 'ETREAT' }),
        status: n % 20 ? 200 : 403,
      });
      for (const b of buildAuditEvents(e, ctx)) batch.push(toAuditRow(b));
    }
    await appendRows(db, batch);
    have += batch.length;
    if (process.env.BENCH_VERBOSE) process.stderr.write(`filled ${have} (${Math.round((have * 1000) / (Date.now() - t0 + 1))}/s)\n`);
  }
}

/** $verify in a fresh child process: its seconds and its peak RSS. */
function verifyInChild(filename: string): Promise<{ seconds: number; rssMb: number; valid: boolean; checked: number }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []), '--import', 'tsx', __filename, '--verify-child', filename], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    proc.on('error', reject);
    proc.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`verify child exited ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!));
      } catch (e) {
        reject(e);
      }
    });
  });
}

async function verifyChildMain(filename: string): Promise<void> {
  const db = openDb(filename);
  // as deployed: $verify reads through the reader connections beside the one writer
  const reader = createReader(db);
  const audit = createAuditService({ ...auditTestDeps(db), reader });
  const route = auditRoutes({ reader, config: auditTestDeps(db).config }).find((r) => r.path === '/AuditEvent/$verify')!;
  const started = process.hrtime.bigint();
  const res = await route.handler(request({ url: '/AuditEvent/$verify', requester: auditor(), interaction: '$verify' }));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const params = (res.body as { parameter: Array<{ name: string; valueBoolean?: boolean; valueInteger?: number }> }).parameter;
  const rssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  await audit.close();
  await closeReader(reader, db);
  await db.destroy();
  process.stdout.write(
    `${JSON.stringify({
      seconds: Math.round(seconds * 100) / 100,
      rssMb,
      valid: params.find((p) => p.name === 'valid')!.valueBoolean,
      checked: params.find((p) => p.name === 'checked')!.valueInteger,
    })}\n`,
  );
}

/** p95 of GET /AuditEvent?patient=<random patient> through the route handler. */
async function measureSearch(db: Db): Promise<number> {
  const route = auditRoutes({ reader: db, config: auditTestDeps(db).config }).find((r) => r.method === 'GET' && r.path === '/AuditEvent')!;
  const times: number[] = [];
  for (let i = 0; i < SEARCHES; i++) {
    const p = `p${Math.floor(Math.random() * PATIENTS)}`;
    const url = `/AuditEvent?patient=${p}`;
    const t0 = process.hrtime.bigint();
    const res = await route.handler(request({ url, requester: auditor(), interaction: 'search-type' }));
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (i === 0 && !((res.body as { entry?: unknown[] }).entry?.length)) throw new Error('search found nothing: the fill went wrong');
  }
  times.sort((a, b) => a - b);
  return Math.round(times[Math.floor(times.length * 0.95)] * 100) / 100;
}

export async function runAuditBench(opts: { events?: number; searchEvents?: number } = {}): Promise<AuditBenchFigures> {
  const events = opts.events ?? 50_000;
  const searchEvents = opts.searchEvents ?? 1_000_000;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xzq-audit-bench-'));
  const filename = path.join(dir, 'audit.sqlite');
  const db = openDb(filename);
  try {
    await migrate(db);
    const audit = createAuditService(auditTestDeps(db));
    const auditEventsPerSec = await measureThroughput(audit, events);
    await fillAuditStore(db, searchEvents);
    const verify = await verifyInChild(filename);
    if (!verify.valid || verify.checked < searchEvents) throw new Error(`verify: ${JSON.stringify(verify)}`);
    const auditSearchP95Ms = await measureSearch(db);
    await audit.close();
    return { auditEventsPerSec, verifySeconds: verify.seconds, verifyRssMb: verify.rssMb, auditSearchP95Ms };
  } finally {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

function argValue(name: string): number | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : undefined;
}

if (require.main === module) {
  const childFile = process.argv.indexOf('--verify-child');
  const run =
    childFile >= 0
      ? verifyChildMain(process.argv[childFile + 1])
      : runAuditBench({ events: argValue('--events'), searchEvents: argValue('--search-events') }).then((f) => {
          process.stdout.write(`${JSON.stringify(f)}\n`);
        });
  run.catch((e) => {
    process.stderr.write(`audit bench failed: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}
