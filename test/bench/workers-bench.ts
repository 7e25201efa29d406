import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import knex from 'knex';
import type { TestClient } from '../support/auth';
import { LIGHT_NID } from './bench-data';
import { loadInTurns, r2 } from './bench-load';
import { benchToken, registerBenchPatients } from './bench-setup';

/**
 * One gateway host using its cores: the real entry (`gateway/main.ts --workers N`) on PostgreSQL,
 * one worker against two, loaded in turns at 64 connections with the same hospitals. Each is a
 * primary and its workers (the CPU counted is the whole tree's). Both run on one schema made for
 * the run and dropped after, as two deployments of one region would share their database.
 */
export interface WorkersBenchFigures {
  workers1Rps: number;
  workers2Rps: number;
  workersRatio: number;
  workers1CpuMsPerRequest: number;
  workers2CpuMsPerRequest: number;
  workersRssMb: number;
}

const ROOT = path.join(__dirname, '..', '..');

async function startGateway(configFile: string, workers: number, port: number): Promise<ChildProcess> {
  const proc = spawn(process.execPath, ['--max-old-space-size=192', '--import', 'tsx', path.join(ROOT, 'gateway/main.ts'), '--config', configFile, '--workers', String(workers)], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), LOG_LEVEL: 'warn' },
    // warnings and errors only (LOG_LEVEL): a worker's death and its replacement show in the bench's output
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) throw new Error(`gateway --workers ${workers} exited with ${proc.exitCode}`);
    const ok = await fetch(`${base}/metadata`).then((r) => r.ok, () => false);
    if (ok) return proc;
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill('SIGKILL');
  throw new Error(`gateway --workers ${workers} did not start`);
}

export async function runWorkersBench(opts: {
  dir: string;
  /** the bench gateway's configuration; its database is replaced by the run's PostgreSQL schema */
  config: Record<string, unknown>;
  client: TestClient;
  publicBase: string;
  hospitalsPid: number;
  databaseUrl: string;
}): Promise<WorkersBenchFigures> {
  const schema = `bench_workers_${process.pid}`;
  const admin = knex({ client: 'pg', connection: opts.databaseUrl, pool: { min: 0, max: 1 } });
  await admin.raw('CREATE SCHEMA ??', [schema]);
  const procs: ChildProcess[] = [];
  try {
    const configFile = path.join(opts.dir, 'workers.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        ...opts.config,
        database: { client: 'pg', connection: opts.databaseUrl, searchPath: [schema] },
        audit: { checkpoints: { anchor: { type: 'file', path: path.join(opts.dir, 'anchor-workers.jsonl') } } },
      }),
    );
    const ports = [18_000 + (process.pid % 1000) * 2, 18_001 + (process.pid % 1000) * 2];
    // one after the other: the first applies the migrations
    const one = await startGateway(configFile, 1, ports[0]);
    procs.push(one);
    const two = await startGateway(configFile, 2, ports[1]);
    procs.push(two);
    const bases = ports.map((p) => `http://127.0.0.1:${p}`);
    const bearer = { authorization: `Bearer ${await benchToken(opts.client, bases[0], opts.publicBase)}`, accept: 'application/fhir+json' };
    const ids = await registerBenchPatients(bases[0], bearer);
    const urls = bases.map((b) => `${b}/DiagnosticReport?patient=${ids[LIGHT_NID]}&_include=DiagnosticReport:result`);
    // warm every worker (connections are shared out among them, not requests)
    for (const url of urls) await autocannon({ url, headers: bearer, connections: 16, duration: 2 });
    const [w1, w2] = await loadInTurns(
      [
        { url: urls[0], headers: bearer, pid: one.pid! },
        { url: urls[1], headers: bearer, pid: two.pid! },
      ],
      64,
      [opts.hospitalsPid],
    );
    return {
      workers1Rps: r2(w1.rps),
      workers2Rps: r2(w2.rps),
      workersRatio: r2(w2.rps / w1.rps),
      workers1CpuMsPerRequest: r2((1000 * w1.cpu) / w1.rps),
      workers2CpuMsPerRequest: r2((1000 * w2.cpu) / w2.rps),
      workersRssMb: r2(Math.max(w1.maxRss, w2.maxRss)),
    };
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode !== null ? null : new Promise((r) => { p.once('exit', r); setTimeout(() => { p.kill('SIGKILL'); r(null); }, 5000); }))));
    await admin.raw('DROP SCHEMA ?? CASCADE', [schema]).catch(() => undefined);
    await admin.destroy();
  }
}
