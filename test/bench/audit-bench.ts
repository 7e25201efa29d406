/**
 * Audit trail figures (API.md §7) on a temp SQLite file (WAL, synchronous=FULL):
 *
 *   auditEventsPerSec  durable appends/s through AuditService.recordRequest, many concurrent callers
 *                      (group commit): each call resolves only after its commit
 *   auditEventsPerSecPg2  the same on PostgreSQL (TEST_DATABASE_URL, a fresh schema dropped after)
 *                      with two writers: two AuditService instances on two knex pools, as two
 *                      gateway instances, appending to one chain at once (the callers split between
 *                      them); the chain is verified after
 *   verifySeconds      GET /AuditEvent/$verify over `searchEvents` (default 1 M) events
 *   verifyRssMb        peak RSS of the process that ran $verify (a fresh child, so nothing else counts)
 *   verifyHelperRssMb  peak RSS of the largest of the helper processes it shared the walk out to
 *   auditSearchP95Ms   GET /AuditEvent?patient=… (handler: parameters, query, Bundle) p95 over the same store
 *
 * The 1 M events are built by the real event builder and stored through the real chained append
 * (`appendRows`, the function every group commit runs) in transactions of 10 000 events, so the
 * chain is the one production writes; only the HTTP and group-commit layers are skipped for speed.
 *
 *   npx tsx test/bench/audit-bench.ts [--events N] [--search-events N] [--only throughput|pg|verify]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knex from 'knex';
import { createAuditService } from '../../gateway/audit/audit-service';
import { verifyChain } from '../../gateway/audit/audit-store';
import { migrate } from '../../gateway/migrations';
import { closeReader, createDb, createReader, type Db } from '../../gateway/storage/db';
import type { AuditService } from '../../gateway/audit/contract';
import { auditRoutes } from '../../gateway/http/routes/audit-routes';
import { verifyHelpers } from '../../gateway/audit/verify-helpers';
import { auditor, auditTestDeps, fillAuditStore, FILL_PATIENTS, request, searchEntry } from '../support/audit-fixtures';
import { childPids } from '../support/processes';

export interface AuditBenchFigures {
  auditEventsPerSec: number;
  /** only when TEST_DATABASE_URL is set */
  auditEventsPerSecPg2?: number;
  verifySeconds: number;
  verifyRssMb: number;
  /** the peak RSS of the largest of `$verify`'s helper processes, and how many there were */
  verifyHelperRssMb: number;
  verifyHelpers: number;
  auditSearchP95Ms: number;
}

const PATIENTS = FILL_PATIENTS;
const CALLERS = 256;
const SEARCHES = 1000;

function openDb(filename: string): Db {
  return createDb({ client: 'sqlite3', connection: { filename } });
}

/**
 * Durable appends/s: `events` single-patient requests from CALLERS concurrent callers, spread
 * evenly over the given services (one per gateway instance).
 */
async function measureThroughput(audits: AuditService | AuditService[], events: number): Promise<number> {
  const services = Array.isArray(audits) ? audits : [audits];
  let next = 0;
  const started = process.hrtime.bigint();
  const caller = async (audit: AuditService) => {
    for (let i = next++; i < events; i = next++) {
      await audit.recordRequest(searchEntry([`p${i % PATIENTS}`], ['xm-zsh', 'qz-fy'], { requestId: `tp-${i}`, at: new Date() }));
    }
  };
  await Promise.all(Array.from({ length: CALLERS }, (_, i) => caller(services[i % services.length])));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return Math.round(events / seconds);
}

/**
 * Two writers on PostgreSQL: two AuditService instances on two separate knex pools (two gateway
 * instances) appending to one chain at once, in a fresh schema dropped afterwards. The chain must
 * verify and hold every event once.
 */
async function measurePostgresTwoWriters(url: string, events: number): Promise<number> {
  const schema = `audit_bench_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = knex({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
  await admin.raw('CREATE SCHEMA ??', [schema]);
  const config = { client: 'pg', connection: url, searchPath: [schema] };
  const dbs = [createDb(config), createDb(config)];
  try {
    await migrate(dbs[0]);
    const audits = dbs.map((db) => createAuditService(auditTestDeps(db)));
    // warm both pools (connections, the head) before the clock starts
    await Promise.all(audits.map((a, i) => a.recordRequest(searchEntry(['p0'], [], { requestId: `warm-${i}` }))));
    const perSec = await measureThroughput(audits, events);
    await Promise.all(audits.map((a) => a.close()));
    const v = await verifyChain(dbs[0]);
    const stored = Number((await dbs[0]('audit_events').countDistinct({ n: 'request_id' }).first())!.n);
    if (!v.valid || v.checked !== events + 2 || stored !== events + 2) throw new Error(`two writers on PostgreSQL: ${JSON.stringify({ ...v, stored })}`);
    return perSec;
  } finally {
    await Promise.all(dbs.map((db) => db.destroy()));
    await admin.raw('DROP SCHEMA ?? CASCADE', [schema]);
    await admin.destroy();
  }
}

/** $verify in a fresh child process: its seconds and its peak RSS. */
function verifyInChild(filename: string): Promise<{ seconds: number; rssMb: number; helperRssMb: number; helpers: number; valid: boolean; checked: number }> {
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
  // as deployed: the walk shared out over helper processes, one per core (audit/verify-helpers.ts)
  const route = auditRoutes({ reader, config: auditTestDeps(db).config, verifyParallel: verifyHelpers(reader) }).find((r) => r.path === '/AuditEvent/$verify')!;
  const helpers = watchChildrenRss();
  const started = process.hrtime.bigint();
  const res = await route.handler(request({ url: '/AuditEvent/$verify', requester: auditor(), interaction: '$verify' }));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const helperPeaks = helpers.stop();
  const params = (res.body as { parameter: Array<{ name: string; valueBoolean?: boolean; valueInteger?: number }> }).parameter;
  const rssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  await audit.close();
  await closeReader(reader, db);
  await db.destroy();
  process.stdout.write(
    `${JSON.stringify({
      seconds: Math.round(seconds * 100) / 100,
      rssMb,
      helperRssMb: helperPeaks.length ? Math.max(...helperPeaks) : 0,
      helpers: helperPeaks.length,
      valid: params.find((p) => p.name === 'valid')!.valueBoolean,
      checked: params.find((p) => p.name === 'checked')!.valueInteger,
    })}\n`,
  );
}

/**
 * The peak RSS (VmHWM) of each child process of this one while it runs, in MB, read from /proc
 * every 50 ms: the helpers `$verify` starts report to no one else. Linux only; none elsewhere.
 */
function watchChildrenRss(): { stop(): number[] } {
  const peaks = new Map<number, number>();
  const sample = () => {
    const pids = childPids();
    for (const pid of pids) {
      try {
        const hwm = Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
        peaks.set(Number(pid), Math.max(peaks.get(Number(pid)) ?? 0, Math.round(hwm)));
      } catch {
        // the process ended between the listing and the read
      }
    }
  };
  const timer = setInterval(sample, 50);
  return {
    stop: () => {
      clearInterval(timer);
      return [...peaks.values()].filter((mb) => mb > 0);
    },
  };
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

export type AuditBenchPart = 'throughput' | 'pg' | 'verify';

export async function runAuditBench(opts: { events?: number; searchEvents?: number } = {}): Promise<AuditBenchFigures> {
  return (await runAuditBenchParts(opts)) as AuditBenchFigures;
}

/** The figures of the parts asked for (all by default); `--only` runs one part, for diagnosis. */
async function runAuditBenchParts(opts: { events?: number; searchEvents?: number; only?: AuditBenchPart }): Promise<Partial<AuditBenchFigures>> {
  const events = opts.events ?? 50_000;
  const searchEvents = opts.searchEvents ?? 1_000_000;
  const run = (part: AuditBenchPart) => !opts.only || opts.only === part;
  const figures: Partial<AuditBenchFigures> = {};
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xzq-audit-bench-'));
  const filename = path.join(dir, 'audit.sqlite');
  const db = openDb(filename);
  try {
    await migrate(db);
    if (run('throughput')) {
      const audit = createAuditService(auditTestDeps(db));
      figures.auditEventsPerSec = await measureThroughput(audit, events);
      await audit.close();
    }
    const pgUrl = process.env.TEST_DATABASE_URL;
    if (pgUrl && run('pg')) figures.auditEventsPerSecPg2 = await measurePostgresTwoWriters(pgUrl, events);
    if (run('verify')) {
      await fillAuditStore(db, searchEvents);
      const verify = await verifyInChild(filename);
      if (!verify.valid || verify.checked < searchEvents) throw new Error(`verify: ${JSON.stringify(verify)}`);
      figures.verifySeconds = verify.seconds;
      figures.verifyRssMb = verify.rssMb;
      figures.verifyHelperRssMb = verify.helperRssMb;
      figures.verifyHelpers = verify.helpers;
      figures.auditSearchP95Ms = await measureSearch(db);
    }
    return figures;
  } finally {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

function argValue(name: string): number | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : undefined;
}

function onlyPart(): AuditBenchPart | undefined {
  const i = process.argv.indexOf('--only');
  if (i < 0) return undefined;
  const part = process.argv[i + 1];
  if (part !== 'throughput' && part !== 'pg' && part !== 'verify') throw new Error(`--only throughput|pg|verify, not ${part}`);
  return part;
}

if (require.main === module) {
  const childFile = process.argv.indexOf('--verify-child');
  const run =
    childFile >= 0
      ? verifyChildMain(process.argv[childFile + 1])
      : runAuditBenchParts({ events: argValue('--events'), searchEvents: argValue('--search-events'), only: onlyPart() }).then((f) => {
          process.stdout.write(`${JSON.stringify(f)}\n`);
        });
  run.catch((e) => {
    process.stderr.write(`audit bench failed: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}
