import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Session } from 'node:inspector';
import { PerformanceObserver } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import { createAdapter } from '../../adapters/factory';
import { createGateway, type GatewayOptions } from '../../gateway/app';
import { parseConfig } from '../../gateway/config';
import { silentLogger } from '../../gateway/logger';

/** Child process of `npm run bench`: the real gateway from a config file, on an ephemeral port. */
async function main() {
  const config = parseConfig(JSON.parse(readFileSync(process.argv[2], 'utf8')), { env: {} });
  // Adapters are reachable only inside the gateway's hospital callers, so the trace wraps them as they are made.
  const adapterFactory: GatewayOptions['adapterFactory'] = process.env.BENCH_TRACE
    ? (h, deps) => {
        const adapter = createAdapter(h, deps);
        wrap(adapter, 'fetchResults', 'adapter');
        return adapter;
      }
    : undefined;
  const gateway = await createGateway(config, { log: silentLogger(), adapterFactory });
  if (process.env.BENCH_TRACE) trace(gateway.services);
  if (process.env.BENCH_GC) traceGc();
  if (process.env.BENCH_HEAP) sampleAllocations(process.env.BENCH_HEAP);
  if (process.env.BENCH_PROFILE_ON_SIGNAL) profileOnSignal(process.env.BENCH_PROFILE_ON_SIGNAL);
  if (process.env.BENCH_MEM) traceMemory();
  const server = gateway.app.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: (server.address() as { port: number }).port, pid: process.pid }) + '\n');
  });
  server.keepAliveTimeout = 65_000;
  process.stdin.resume();
  process.stdin.on('end', async () => {
    server.close();
    await gateway.close();
    process.exit(0);
  });
}
void main();

/** BENCH_TRACE=1: average time in each service call, printed to stderr at exit (diagnosis only). */
const stats: Record<string, { n: number; ms: number }> = {};
function wrap(obj: any, name: string, label: string) {
  const orig = obj[name].bind(obj);
  obj[name] = async (...a: unknown[]) => {
    const t = performance.now();
    try {
      return await orig(...a);
    } finally {
      const s = (stats[label] ??= { n: 0, ms: 0 });
      s.n++;
      s.ms += performance.now() - t;
    }
  };
}

function trace(services: any) {
  wrap(services.audit, 'recordRequest', 'audit');
  wrap(services.consent, 'gateFor', 'consent');
  wrap(services.patientIndex, 'get', 'patient');
  wrap(services.auth, 'authenticate', 'auth');
  wrap(services.patientData, 'results', 'results');
  const started = new Map<string, number>();
  const byKind: Record<string, { n: number; ms: number }> = {};
  services.db.on('query', (q: any) => started.set(q.__knexQueryUid, performance.now()));
  services.db.on('query-response', (_r: unknown, q: any) => {
    const t0 = started.get(q.__knexQueryUid);
    if (t0 === undefined) return;
    started.delete(q.__knexQueryUid);
    const kind = String(q.sql).split(' ').slice(0, 3).join(' ').slice(0, 40);
    const s = (byKind[kind] ??= { n: 0, ms: 0 });
    s.n++;
    s.ms += performance.now() - t0;
  });
  process.on('exit', () => {
    for (const [k, v] of Object.entries(byKind)) process.stderr.write(`  sql ${k}: ${v.n} × ${(v.ms / v.n).toFixed(2)} ms\n`);
  });
  const pool = services.db.client.pool;
  const acq = new Map<number, number>();
  let acqN = 0;
  let acqMs = 0;
  pool.on('acquireRequest', (id: number) => acq.set(id, performance.now()));
  pool.on('acquireSuccess', (id: number) => {
    const t0 = acq.get(id);
    if (t0 !== undefined) {
      acqN++;
      acqMs += performance.now() - t0;
      acq.delete(id);
    }
  });
  let auditSum = 0;
  let auditCount = 0;
  setInterval(async () => {
    const m = await services.metrics.auditWriteDuration.get();
    auditSum = m.values.find((v: any) => v.metricName.endsWith('_sum'))?.value ?? 0;
    auditCount = m.values.find((v: any) => v.metricName.endsWith('_count'))?.value ?? 0;
  }, 500).unref();
  process.on('exit', () => process.stderr.write(`  audit commit ${auditCount} × ${((auditSum / auditCount) * 1000).toFixed(2)} ms\n`));
  process.on('exit', () => process.stderr.write(`  pool acquire ${acqN} × ${(acqMs / acqN).toFixed(2)} ms (pool max ${pool.max})\n`));
  let lag = 0;
  let lagN = 0;
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    lag += now - last - 10;
    lagN++;
    last = now;
  }, 10).unref();
  process.on('exit', () => {
    for (const [k, v] of Object.entries(stats)) process.stderr.write(`${k} ${v.n} ${(v.ms / v.n).toFixed(2)} ms\n`);
    process.stderr.write(`event loop lag avg ${(lag / lagN).toFixed(2)} ms\n`);
  });
}

/** BENCH_GC=1: time in each kind of garbage collection, printed to stderr at exit (diagnosis only). */
function traceGc() {
  const kinds: Record<number, string> = { 1: 'scavenge', 2: 'mark-sweep-compact', 4: 'incremental', 8: 'weak-callbacks', 16: 'minor-mark-sweep' };
  const byKind: Record<string, { n: number; ms: number }> = {};
  const t0 = performance.now();
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const k = kinds[(e as any).detail?.kind] ?? String((e as any).detail?.kind);
      const s = (byKind[k] ??= { n: 0, ms: 0 });
      s.n++;
      s.ms += e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('exit', () => {
    const wall = performance.now() - t0;
    for (const [k, v] of Object.entries(byKind)) process.stderr.write(`  gc ${k}: ${v.n} × ${(v.ms / v.n).toFixed(2)} ms = ${((v.ms / wall) * 100).toFixed(1)}% of wall\n`);
  });
}

/**
 * BENCH_HEAP=<dir> (diagnosis only): where the gateway allocates, from V8's sampling heap profiler
 * with the objects garbage collection freed kept in (Node's --heap-prof keeps only those still
 * alive at exit, which says nothing about what drives the collector). Written when the process
 * exits as <dir>/gateway.<pid>.heapprofile, which Chrome DevTools' Memory tab opens.
 */
function sampleAllocations(dir: string) {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `gateway.${process.pid}.heapprofile`);
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.enable');
  session.post('HeapProfiler.startSampling', {
    samplingInterval: 16384,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  } as never);
  // the in-process session answers synchronously, so this completes inside the exit handler
  process.on('exit', () => session.post('HeapProfiler.stopSampling', (err, r) => !err && writeFileSync(file, JSON.stringify(r.profile))));
}

/**
 * BENCH_PROFILE_ON_SIGNAL=<file> (diagnosis only): a CPU profile of exactly the span between two
 * SIGUSR2s, e.g. one load, without start-up and the other measurements; written at the second.
 * With BENCH_SNAPSHOT_ON_SIGNAL=1 each SIGUSR2 writes a heap snapshot (<file>.heapsnapshot) instead.
 */
function profileOnSignal(file: string) {
  const session = new Session();
  session.connect();
  let running = false;
  process.on('SIGUSR2', () => {
    if (process.env.BENCH_SNAPSHOT_ON_SIGNAL) {
      writeHeapSnapshot(file.replace(/\.cpuprofile$/, '') + '.heapsnapshot');
      return;
    }
    if (!running) {
      session.post('Profiler.enable', () => session.post('Profiler.start'));
      running = true;
      return;
    }
    running = false;
    session.post('Profiler.stop', (err, r) => !err && writeFileSync(file, JSON.stringify(r.profile)));
  });
}

/** BENCH_MEM=1 (diagnosis only): the largest of each process.memoryUsage() figure, to stderr at exit. */
function traceMemory() {
  const most: Record<string, number> = {};
  setInterval(() => {
    const u = process.memoryUsage() as unknown as Record<string, number>;
    for (const [k, v] of Object.entries(u)) most[k] = Math.max(most[k] ?? 0, v);
  }, 100).unref();
  process.on('exit', () => process.stderr.write(`memory (largest, MB): ${Object.entries(most).map(([k, v]) => `${k} ${(v / 2 ** 20).toFixed(1)}`).join(', ')}\n`));
}
