import { readFileSync, readdirSync } from 'node:fs';
import autocannon from 'autocannon';

/**
 * Load and its measurement, shared by the bench's parts: latency at one connection, load at N
 * connections with the CPU and RSS of the loaded process and its children (a gateway started with
 * `--workers N` is a primary and its workers), and sides taking turns.
 */

const DURATION = Number(process.env.BENCH_DURATION ?? 10);

/** The process and its descendants (a cluster's primary and its workers). */
function tree(pid: number): number[] {
  const out = [pid];
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      if (kids) for (const k of kids.split(/\s+/)) out.push(...tree(Number(k)));
    }
  } catch {
    // gone meanwhile
  }
  return out;
}

function rssOne(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Sequential requests on one keep-alive connection: latency without queueing. */
export async function sequential(url: string, headers: Record<string, string>, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    const res = await fetch(url, { headers });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${url} → ${res.status}`);
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out;
}

export const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
export const r2 = (x: number) => Math.round(x * 100) / 100;

/** CPU seconds a process has used (user + system), from /proc. */
function cpuOne(pid: number, which: 'all' | 'system' = 'all'): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((which === 'all' ? Number(f[11]) : 0) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

export type LoadFigures = Awaited<ReturnType<typeof load>>;

export async function load(url: string, headers: Record<string, string>, connections: number, seconds: number, pid?: number, others: number[] = []) {
  let maxRss = 0;
  const cpu0 = pid ? cpuSeconds(pid) : 0;
  const sys0 = pid ? cpuSeconds(pid, 'system') : 0;
  const others0 = others.map((p) => cpuSeconds(p));
  const own0 = process.cpuUsage();
  const timer = pid ? setInterval(() => (maxRss = Math.max(maxRss, rssMb(pid))), 200) : undefined;
  const result = await autocannon({ url, headers, connections, duration: seconds, pipelining: 1 });
  if (timer) clearInterval(timer);
  if (result.non2xx) throw new Error(`${url}: ${result.non2xx} non-2xx answers under load`);
  // per second of the load as autocannon timed it (a little longer than asked for)
  const elapsed = result.duration;
  const cpu = pid ? (cpuSeconds(pid) - cpu0) / elapsed : 0;
  const sys = pid ? (cpuSeconds(pid, 'system') - sys0) / elapsed : 0;
  const own = process.cpuUsage(own0);
  // what else the machine spent: the hospitals' process(es) and the load generator (this process)
  const othersCpu = others.map((p, i) => (cpuSeconds(p) - others0[i]) / elapsed);
  const loaderCpu = (own.user + own.system) / 1e6 / elapsed;
  return { rps: result.requests.total / elapsed, p99: result.latency.p99, maxRss, cpu, sys, othersCpu, loaderCpu };
}

/** turns each side is loaded in (see loadInTurns) */
export const LOAD_ROUNDS = 3;

/**
 * Waits until a process has stopped using CPU (at most 5 s): when a load stops, the side still
 * works off the requests it had queued (up to its p99, over a second), and that work must not run
 * into the next side's turn or the next measurement.
 */
export async function settled(pid: number): Promise<void> {
  for (let i = 0, last = cpuSeconds(pid); i < 25; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const now = cpuSeconds(pid);
    if (now - last < 0.01) return;
    last = now;
  }
}

/**
 * Each side loaded for BENCH_DURATION seconds in all, in LOAD_ROUNDS turns taken in rotation, so
 * that every side sees the same stretches of this shared machine, whose speed drifts by tens of
 * percent within minutes; one long run per side made the ratios follow that drift. Rates and CPU
 * are averaged over the turns; p99 and RSS are the worst turn's.
 */
export async function loadInTurns(
  sides: Array<{ url: string; headers: Record<string, string>; pid: number }>,
  connections: number,
  others: number[],
): Promise<LoadFigures[]> {
  const turns: LoadFigures[][] = sides.map(() => []);
  for (let round = 0; round < LOAD_ROUNDS; round++) {
    for (const [i, side] of sides.entries()) {
      turns[i].push(await load(side.url, side.headers, connections, DURATION / LOAD_ROUNDS, side.pid, others));
      await Promise.all([side.pid, ...others].map(settled));
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return turns.map((t) => ({
    rps: mean(t.map((x) => x.rps)),
    p99: Math.max(...t.map((x) => x.p99)),
    maxRss: Math.max(...t.map((x) => x.maxRss)),
    cpu: mean(t.map((x) => x.cpu)),
    sys: mean(t.map((x) => x.sys)),
    othersCpu: t[0].othersCpu.map((_, j) => mean(t.map((x) => x.othersCpu[j]))),
    loaderCpu: mean(t.map((x) => x.loaderCpu)),
  }));
}


/** The largest RSS of the process and its children (the target is per process). */
export function rssMb(pid: number): number {
  return Math.max(...tree(pid).map(rssOne));
}

/** CPU seconds of the process and its children. */
export function cpuSeconds(pid: number, which: 'all' | 'system' = 'all'): number {
  return tree(pid).reduce((sum, p) => sum + cpuOne(p, which), 0);
}
