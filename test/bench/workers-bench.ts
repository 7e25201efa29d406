import { writeFileSync } from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import knex from 'knex';
import type { TestClient } from '../support/auth';
import { killAllGatewayProcesses, startGatewayProcess, type ServingGateway } from '../support/gateway-process';
import { LIGHT_NID } from './bench-data';
import { loadInTurns, r2 } from './bench-load';
import { benchToken, registerBenchPatients } from './bench-setup';
import { GATEWAY_NODE_FLAGS } from './gateway-node-flags';

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
    // As deployed (README "Operations"): a bounded heap; each waits for all its workers to listen.
    const start = (workers: number): Promise<ServingGateway> =>
      startGatewayProcess({ configFile, args: ['--workers', String(workers)], listeners: workers, nodeArgs: [...GATEWAY_NODE_FLAGS] });
    // one after the other: the first applies the migrations
    const one = await start(1);
    const two = await start(2);
    const bases = [one.url, two.url];
    const bearer = { authorization: `Bearer ${await benchToken(opts.client, bases[0], opts.publicBase)}`, accept: 'application/fhir+json' };
    const ids = await registerBenchPatients(bases[0], bearer);
    const urls = bases.map((b) => `${b}/DiagnosticReport?patient=${ids[LIGHT_NID]}&_include=DiagnosticReport:result`);
    // warm every worker (connections are shared out among them, not requests)
    for (const url of urls) await autocannon({ url, headers: bearer, connections: 16, duration: 2 });
    const [w1, w2] = await loadInTurns(
      [
        { url: urls[0], headers: bearer, pid: one.gp.pid },
        { url: urls[1], headers: bearer, pid: two.gp.pid },
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
    await killAllGatewayProcesses();
    await admin.raw('DROP SCHEMA ?? CASCADE', [schema]).catch(() => undefined);
    await admin.destroy();
  }
}
