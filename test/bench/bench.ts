/**
 * `npm run bench`: the figures of the issues, measured side by side in one run on this machine.
 *
 *   federated search  gateway (auth + consent + audit + mapping) vs a bare fan-out of the same
 *                     simulated hospitals (6 FHIR servers answering after BENCH_DELAY_MS, default 20)
 *   contract floor    the least any gateway honouring API.md §4 does (bench-floor.ts), same load:
 *                     what the throughput target asks of a gateway before auth, consent and audit
 *   workers           the real entry with `--workers 2` against `--workers 1` on PostgreSQL, same
 *                     hospitals, in turns (workers-bench.ts)
 *   hanging hospital  what one hospital that never answers costs a search (its timeout + ε)
 *   auth              access-token verification per request; token endpoint throughput
 *   consent           the consent decision with 100 k consents stored
 *   recognition       $recognition (5 items, ~500 results over 6 hospitals) vs the plain search
 *   audit             durable events/s, $verify over 1 M events, auditor search p95
 *   sources           MLLP messages/s stored with ACK, CDA documents/s parsed, a DICOMweb study's RSS
 *                     growth through the gateway (sources-bench.ts; BENCH_SOURCES_N=50 for a smoke run)
 *
 * The last line printed is one JSON object with every figure. Env: BENCH_DURATION (s, default 10),
 * BENCH_DELAY_MS, BENCH_QUICK=1 (smaller audit bench, for a smoke run). For diagnosis:
 * BENCH_ONLY_SEARCH=1 (stop after the search figures), BENCH_NO_LOAD=1 (stop after the latency at
 * one connection), BENCH_PROFILE=<dir> (CPU profiles of the gateway and the bare fan-out), BENCH_TRACE=1 (per-service
 * and per-SQL timings), BENCH_GC=1 (time in each kind of garbage collection), BENCH_GW_FLAGS="<node flags>" (extra flags for the gateway process),
 * BENCH_PHASES=1 (when each side's upstream calls went out and came back, and when it answered),
 * BENCH_HEAP=<dir> (where the gateway allocates: sampling heap profiles, collected objects kept),
 * BENCH_MEM=1 (the gateway's largest heap, external and RSS figures), BENCH_PROFILE_ON_SIGNAL=<file>
 * (a CPU profile between two SIGUSR2s sent to the gateway; see bench-gateway.ts),
 * BENCH_DUMP=<prefix> (writes one answer of each side, to compare), BENCH_PG_SCHEMA=<schema>
 * (the gateway on PostgreSQL at TEST_DATABASE_URL), BENCH_ADMISSION=compare (a second gateway that works on every request at
 * once, without admission control, loaded in the same turns: figures `unadmitted*`), BENCH_NO_WORKERS=1 (skip `--workers 2` against
 * 1, which needs PostgreSQL at TEST_DATABASE_URL or 127.0.0.1:5432), BENCH_ONLY_WORKERS=1 (stop after it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { makeTestClient, signClientAssertion, tokenRequestForm } from '../support/auth';
import { runAuditBench } from './audit-bench';
import { HEAVY_NID, LIGHT_NID } from './bench-data';
import { runInProcessBench } from './bench-in-process';
import { runSourcesBench } from './sources-bench';
import { load, loadInTurns, pct, r2, sequential } from './bench-load';
import { benchToken, registerBenchPatients } from './bench-setup';
import { runWorkersBench } from './workers-bench';
import { GATEWAY_NODE_FLAGS } from './gateway-node-flags';
import { NATIONAL_ID_SYSTEM } from '../../gateway/patient-index/national-id';
import { DEFAULT_CANONICAL_BASE } from '../../gateway/config';
import { initKeyDirectory } from '../../gateway/auth/key-source';

const QUICK = process.env.BENCH_QUICK === '1';
const PUBLIC = 'http://gateway.bench.local';
/** PostgreSQL for the parts that need it (workers, the audit's two writers): this machine kind runs one locally */
const PG_URL = (process.env.TEST_DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/test');
const HERE = __dirname;

function child(file: string, env: Record<string, string> = {}, args: string[] = []): Promise<{ proc: ChildProcess; info: any }> {
  const measuredSide = file === 'bench-gateway.ts' || file === 'bench-baseline.ts' || file === 'bench-floor.ts';
  const prof = process.env.BENCH_PROFILE && measuredSide ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  // The gateway runs as deployed (package.json's scripts): its heap flags (gateway-node-flags.ts); later flags win.
  const heap = file === 'bench-gateway.ts' ? [...GATEWAY_NODE_FLAGS, ...(process.env.BENCH_GW_FLAGS ? process.env.BENCH_GW_FLAGS.split(' ') : [])] : [];
  const phases = process.env.BENCH_PHASES && measuredSide ? ['--import', path.join(HERE, 'phase-trace.ts')] : [];
  const proc = spawn(process.execPath, [...prof, ...heap, '--import', 'tsx', ...phases, path.join(HERE, file), ...args], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.once('line', (line) => resolve({ proc, info: JSON.parse(line) }));
    proc.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
  });
}

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xzq-bench-'));
  const procs: ChildProcess[] = [];
  const figures: Record<string, number> = {};
  try {
    // ---- hospitals, gateway, baseline ----
    const hospitals = await child('bench-hospitals.ts');
    procs.push(hospitals.proc);
    const urls: string[] = hospitals.info.urls;
    const cities = ['350200', '350500', '350600'];
    const client = makeTestClient({ id: 'bench-his', hospital: 'h0', roles: ['clinician', 'registrar'] });
    const auditor = makeTestClient({ id: 'bench-audit', roles: ['auditor'] });
    const config = {
      publicBaseUrl: PUBLIC,
      database: process.env.BENCH_PG_SCHEMA
        ? { client: 'pg', connection: PG_URL, searchPath: [process.env.BENCH_PG_SCHEMA] }
        : { client: 'sqlite3', connection: { filename: path.join(dir, 'gateway.sqlite') } },
      consent: { default: 'deny' },
      hospitals: [
        ...urls.map((u, i) => ({ id: `h${i}`, name: `基准医院${i}`, city: cities[i % 3], grade: i === 5 ? '2A' : '3A', recognizedItems: ['CBC', 'ELEC', 'LFT'], timeoutMs: 3000, adapter: { type: 'fhir', baseUrl: u } })),
      ],
      clients: [client.config, auditor.config],
      keys: { directory: path.join(dir, 'keys') },
      audit: { checkpoints: { anchor: { type: 'file', path: path.join(dir, 'anchor.jsonl') } } },
    };
    await initKeyDirectory({ directory: config.keys.directory });
    const configFile = path.join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify(config));
    const gw = await child('bench-gateway.ts', {}, [configFile]);
    procs.push(gw.proc);
    const base = `http://127.0.0.1:${gw.info.port}`;
    const baseline = await child('bench-baseline.ts', { BENCH_URLS: JSON.stringify(urls) });
    procs.push(baseline.proc);
    const baselineUrl = `http://127.0.0.1:${baseline.info.port}/`;
    const floor = await child('bench-floor.ts', { BENCH_URLS: JSON.stringify(urls) });
    procs.push(floor.proc);
    const floorUrl = `http://127.0.0.1:${floor.info.port}/`;

    const token = (c = client, at = base) => benchToken(c, at, PUBLIC);
    const bearer = { authorization: `Bearer ${await token()}`, accept: 'application/fhir+json' };
    // Register both bench patients (links all six hospitals) and give each a full consent.
    const regionalIds = await registerBenchPatients(base, bearer);
    // One host's cores: `--workers 1` against `--workers 2` on PostgreSQL (workers-bench.ts).
    const workers = () =>
      runWorkersBench({ dir, config, client, publicBase: PUBLIC, hospitalsPid: hospitals.proc.pid!, databaseUrl: PG_URL });
    if (process.env.BENCH_ONLY_WORKERS) {
      Object.assign(figures, await workers());
      process.stdout.write(JSON.stringify(figures) + '\n');
      return;
    }
    const searchUrl = `${base}/DiagnosticReport?patient=${regionalIds[LIGHT_NID]}&_include=DiagnosticReport:result`;

    /**
     * Another gateway of the bench's config with `overrides`, on a store and checkpoint anchor of
     * its own (`name`): its base URL and pid.
     */
    const extraGateway = async (name: string, overrides: Record<string, unknown>) => {
      const file = path.join(dir, `${name}.json`);
      const store = {
        database: { client: 'sqlite3', connection: { filename: path.join(dir, `gateway-${name}.sqlite`) } },
        audit: { checkpoints: { anchor: { type: 'file', path: path.join(dir, `anchor-${name}.jsonl`) } } },
      };
      writeFileSync(file, JSON.stringify({ ...config, ...store, ...overrides }));
      const g = await child('bench-gateway.ts', {}, [file]);
      procs.push(g.proc);
      return { base: `http://127.0.0.1:${g.info.port}`, pid: g.info.pid as number };
    };
    /** BENCH_ADMISSION=compare: the same gateway, working on every request at once. */
    const unadmittedGateway = async () => {
      const { base: at, pid } = await extraGateway('unadmitted', { admission: { minConcurrency: 10_000, maxConcurrency: 10_000, maxQueue: 0 } });
      const headers = { authorization: `Bearer ${await token(client, at)}`, accept: 'application/fhir+json' };
      const ids = await registerBenchPatients(at, headers);
      const url = `${at}/DiagnosticReport?patient=${ids[LIGHT_NID]}&_include=DiagnosticReport:result`;
      await sequential(url, headers, 100);
      return { url, headers, pid, base: at };
    };
    // Warm both paths (JIT, connection pools), then latency at one connection, side by side.
    await sequential(searchUrl, bearer, 100);
    await sequential(baselineUrl, {}, 100);
    // One request to each side in turn, so both see the same moments of this shared machine.
    const gLight: number[] = [];
    const bLight: number[] = [];
    for (let i = 0; i < (process.env.BENCH_PROFILE ? 100 : 400); i++) {
      bLight.push(...(await sequential(baselineUrl, {}, 1)));
      gLight.push(...(await sequential(searchUrl, bearer, 1)));
    }
    if (process.env.BENCH_DUMP) {
      writeFileSync(`${process.env.BENCH_DUMP}.gateway.json`, Buffer.from(await (await fetch(searchUrl, { headers: bearer })).arrayBuffer()));
      writeFileSync(`${process.env.BENCH_DUMP}.baseline.json`, Buffer.from(await (await fetch(baselineUrl)).arrayBuffer()));
      writeFileSync(`${process.env.BENCH_DUMP}.floor.json`, Buffer.from(await (await fetch(floorUrl)).arrayBuffer()));
    }
    figures.p50LightMs = r2(pct(gLight, 50));
    figures.baselineP50LightMs = r2(pct(bLight, 50));
    figures.slowestHospitalMs = hospitals.info.delayMs;

    if (process.env.BENCH_NO_LOAD) {
      process.stdout.write(JSON.stringify(figures) + '\n');
      return;
    }
    // Throughput at 64 connections, same hospitals, the sides in turns; with the contract's floor
    // (bench-floor.ts): what 0.85 asks of any gateway before auth, consent and audit.
    await sequential(floorUrl, {}, 100);
    const unadmitted = process.env.BENCH_ADMISSION === 'compare' ? await unadmittedGateway() : undefined;
    const [bLoad, gLoad, fLoad, uLoad] = await loadInTurns(
      [
        { url: baselineUrl, headers: {}, pid: baseline.info.pid },
        { url: searchUrl, headers: bearer, pid: gw.info.pid },
        { url: floorUrl, headers: {}, pid: floor.info.pid },
        ...(unadmitted ? [unadmitted] : []),
      ],
      64,
      [hospitals.proc.pid!],
    );
    if (uLoad) {
      figures.unadmittedRps = r2(uLoad.rps);
      figures.unadmittedFloorRatio = r2(uLoad.rps / fLoad.rps);
      figures.unadmittedCpuMsPerRequest = r2((1000 * uLoad.cpu) / uLoad.rps);
      figures.unadmittedRssMb = r2(uLoad.maxRss);
    }
    figures.gatewayRps = r2(gLoad.rps);
    figures.baselineRps = r2(bLoad.rps);
    figures.throughputRatio = r2(gLoad.rps / bLoad.rps);
    figures.floorRps = r2(fLoad.rps);
    figures.floorRatio = r2(fLoad.rps / bLoad.rps);
    figures.floorCpuCores = r2(fLoad.cpu);
    figures.gatewayFloorRatio = r2(gLoad.rps / fLoad.rps);
    // CPU of the side's process (all its threads: the main one, libuv's, the GC's) per answered request
    figures.gatewayCpuMsPerRequest = r2((1000 * gLoad.cpu) / gLoad.rps);
    figures.baselineCpuMsPerRequest = r2((1000 * bLoad.cpu) / bLoad.rps);
    figures.floorCpuMsPerRequest = r2((1000 * fLoad.cpu) / fLoad.rps);
    figures.p99Ms = gLoad.p99;
    figures.baselineP99Ms = bLoad.p99;
    figures.rssMb = r2(gLoad.maxRss);
    figures.gatewayCpuCores = r2(gLoad.cpu);
    figures.baselineCpuCores = r2(bLoad.cpu);
    figures.gatewaySystemCpuCores = r2(gLoad.sys);
    figures.baselineSystemCpuCores = r2(bLoad.sys);
    figures.hospitalsCpuCoresUnderGateway = r2(gLoad.othersCpu[0]);
    figures.hospitalsCpuCoresUnderBaseline = r2(bLoad.othersCpu[0]);
    figures.loaderCpuCoresGateway = r2(gLoad.loaderCpu);
    figures.loaderCpuCoresBaseline = r2(bLoad.loaderCpu);

    if (process.env.BENCH_ONLY_SEARCH) {
      process.stdout.write(JSON.stringify(figures) + '\n');
      return;
    }
    if (!process.env.BENCH_NO_WORKERS) Object.assign(figures, await workers());
    // A hospital that never answers costs its timeout (500 ms here), not more: a second gateway
    // with one answering and one hanging hospital (measured once the loaded sides have settled).
    const hanging = { id: 'hang', name: '无应答医院', city: '350200', grade: '3A', recognizedItems: [], timeoutMs: 500, adapter: { type: 'fhir', baseUrl: hospitals.info.hanging } };
    const hangConfig = { consent: { default: 'permit' }, hospitals: [{ ...config.hospitals[0] }, hanging] };
    const { base: hangBase } = await extraGateway('hang', hangConfig);
    const hangBearer = { authorization: `Bearer ${await token(client, hangBase)}` };
    // Warm the process as a deployed one is (the search path compiled by the JIT) with another
    // resident's search; the measured searches are then the first ever for this resident.
    await sequential(`${hangBase}/Organization`, hangBearer, 20);
    await sequential(`${hangBase}/DiagnosticReport?patient.identifier=${NATIONAL_ID_SYSTEM}|${HEAVY_NID}`, hangBearer, 2);
    const hang = await sequential(`${hangBase}/DiagnosticReport?patient.identifier=${NATIONAL_ID_SYSTEM}|${LIGHT_NID}`, hangBearer, 3);
    figures.hangingHospitalTimeoutMs = 500;
    figures.hangingHospitalCostMs = r2(Math.max(...hang));

    // CDS Hooks order-select answers within its budget (1 s) even when a hospital hangs for longer
    // than that (its own timeout here 5 s): a third gateway, the hanging hospital's timeout raised.
    const { base: cdsHangBase } = await extraGateway('cds-hang', { ...hangConfig, hospitals: [hangConfig.hospitals[0], { ...hanging, timeoutMs: 5000 }] });
    const cdsHangUrl = `${cdsHangBase}/cds-services/recognition-order-select`;
    const hangCall = async (nid: string): Promise<number> => {
      const body = JSON.stringify({
        hook: 'order-select',
        hookInstance: '0b6f3c2e-1d4a-4c8e-9f00-7a1b2c3d4e5f',
        context: {
          userId: 'Practitioner/D1029',
          patientId: 'his-1',
          draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'ServiceRequest', id: 'o1', status: 'draft', intent: 'order', subject: { reference: 'Patient/his-1' }, code: { coding: [{ system: 'http://loinc.org', code: '58410-2' }] } } }] },
        },
        prefetch: { patient: { resourceType: 'Patient', id: 'his-1', identifier: [{ system: NATIONAL_ID_SYSTEM, value: nid }] } },
      });
      const jwt = signClientAssertion(client, { aud: `${PUBLIC}/cds-services/recognition-order-select` });
      const t = process.hrtime.bigint();
      const res = await fetch(cdsHangUrl, { method: 'POST', headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' }, body });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`order-select (hanging hospital) → ${res.status}`);
      return Number(process.hrtime.bigint() - t) / 1e6;
    };
    await hangCall(HEAVY_NID); // warm, another resident
    const cdsHang: number[] = [];
    for (let i = 0; i < 3; i++) cdsHang.push(await hangCall(LIGHT_NID));
    figures.hookBudgetMs = 1000;
    figures.orderSelectHangingMs = r2(Math.max(...cdsHang));

    // $recognition (5 items) vs the plain search, heavy patient (~500 reports over 6 hospitals).
    const heavy = regionalIds[HEAVY_NID];
    const plainUrl = `${base}/DiagnosticReport?patient=${heavy}&_count=200`;
    const recUrl = `${base}/Patient/${heavy}/$recognition?item=CBC&item=ELEC&item=LFT&item=HBA1C&item=CT-CHEST`;
    await sequential(plainUrl, bearer, 10);
    await sequential(recUrl, bearer, 10);
    const plain: number[] = [];
    const rec: number[] = [];
    for (let round = 0; round < 5; round++) {
      plain.push(...(await sequential(plainUrl, bearer, 10)));
      rec.push(...(await sequential(recUrl, bearer, 10)));
    }
    figures.heavySearchP50Ms = r2(pct(plain, 50));
    figures.recognitionP50Ms = r2(pct(rec, 50));
    figures.recognitionRatio = r2(pct(rec, 50) / pct(plain, 50));

    // CDS Hooks order-select with the same five items as draft orders, beside $recognition (each
    // call with a fresh client JWT, signed before the clock starts).
    const itemSystem = `${DEFAULT_CANONICAL_BASE}/CodeSystem/recognition-item`;
    const orderSelect = JSON.stringify({
      hook: 'order-select',
      hookInstance: '9e0c1b3a-6a8f-4a86-9d0e-5c1c2b3a4d5e',
      context: {
        userId: 'Practitioner/D1029',
        patientId: 'his-1',
        draftOrders: {
          resourceType: 'Bundle',
          type: 'collection',
          entry: ['CBC', 'ELEC', 'LFT', 'HBA1C', 'CT-CHEST'].map((code, i) => ({
            resource: { resourceType: 'ServiceRequest', id: `o${i}`, status: 'draft', intent: 'order', subject: { reference: 'Patient/his-1' }, code: { coding: [{ system: itemSystem, code }] } },
          })),
        },
      },
      prefetch: { patient: { resourceType: 'Patient', id: 'his-1', identifier: [{ system: NATIONAL_ID_SYSTEM, value: HEAVY_NID }] } },
    });
    const cdsUrl = `${base}/cds-services/recognition-order-select`;
    const cdsCall = async (): Promise<number> => {
      const jwt = signClientAssertion(client, { aud: `${PUBLIC}/cds-services/recognition-order-select` });
      const t = process.hrtime.bigint();
      const res = await fetch(cdsUrl, { method: 'POST', headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' }, body: orderSelect });
      const body = (await res.json()) as { cards?: unknown[] };
      if (res.status !== 200 || !Array.isArray(body.cards)) throw new Error(`order-select → ${res.status}`);
      return Number(process.hrtime.bigint() - t) / 1e6;
    };
    for (let i = 0; i < 10; i++) await cdsCall();
    const cds: number[] = [];
    const rec2: number[] = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 10; i++) cds.push(await cdsCall());
      rec2.push(...(await sequential(recUrl, bearer, 10)));
    }
    figures.orderSelectP50Ms = r2(pct(cds, 50));
    figures.orderSelectRecognitionP50Ms = r2(pct(rec2, 50));
    figures.orderSelectRatio = r2(pct(cds, 50) / pct(rec2, 50));

    // Token endpoint throughput with fresh assertions (each jti used once).
    const tokenRate = async (at: string) => {
      const assertions = Array.from({ length: QUICK ? 1500 : 6000 }, () => signClientAssertion(client, { aud: `${PUBLIC}/auth/token` }));
      let next = 0;
      const tokenRun = await autocannon({
        url: `${at}/auth/token`,
        connections: 32,
        amount: assertions.length,
        requests: [
          {
            method: 'POST',
            setupRequest: (req: any) => ({
              ...req,
              headers: { 'content-type': 'application/x-www-form-urlencoded' },
              body: new URLSearchParams(tokenRequestForm(assertions[next++ % assertions.length])).toString(),
            }),
          },
        ],
      } as any);
      if (tokenRun.non2xx) {
        const probe = await fetch(`${at}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(tokenRequestForm(signClientAssertion(client, { aud: `${PUBLIC}/auth/token` }))).toString() });
        throw new Error(`token endpoint: ${tokenRun.non2xx} refusals under load (a single request: ${probe.status} ${await probe.text()})`);
      }
      return r2(tokenRun.requests.average);
    };
    if (unadmitted) {
      // in turns with the gateway that admits every request (BENCH_ADMISSION=compare)
      const [a1, u1, a2, u2] = [await tokenRate(base), await tokenRate(unadmitted.base), await tokenRate(base), await tokenRate(unadmitted.base)];
      figures.tokenRequestsPerSec = r2((a1 + a2) / 2);
      figures.unadmittedTokenRequestsPerSec = r2((u1 + u2) / 2);
    } else figures.tokenRequestsPerSec = await tokenRate(base);

    // In-process figures (auth verification, consent at 100 k) come from their own module.
    Object.assign(figures, await runInProcessBench({ dir }));

    Object.assign(figures, await runAuditBench(QUICK ? { events: 20_000, searchEvents: 100_000 } : {}));

    // MLLP, CDA and DICOMweb (issue #19): sources-bench.ts; BENCH_SOURCES_N=50 for a smoke run
    Object.assign(figures, await runSourcesBench({ n: process.env.BENCH_SOURCES_N ? Number(process.env.BENCH_SOURCES_N) : QUICK ? 200 : undefined }));
  } finally {
    for (const p of procs) p.stdin?.end();
    // a profiled gateway needs a moment to write its profile on the way out
    await Promise.race([
      Promise.all(procs.map((p) => (p.exitCode !== null ? null : new Promise((r) => p.once('exit', r))))),
      new Promise((r) => setTimeout(r, process.env.BENCH_PROFILE || process.env.BENCH_TRACE || process.env.BENCH_GC || process.env.BENCH_PHASES || process.env.BENCH_HEAP ? 10_000 : 300)),
    ]);
    for (const p of procs) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }

  const rows: Array<[string, string, string]> = [
    ['throughput at 64 connections (req/s)', `gateway ${figures.gatewayRps} vs bare fan-out ${figures.baselineRps}`, `ratio ${figures.throughputRatio} (target ≥ 0.70)`],
    ['contract floor at 64 connections (req/s)', `gateway ${figures.gatewayRps} vs floor ${figures.floorRps}`, `ratio ${figures.gatewayFloorRatio} (target ≥ 0.75); floor ${figures.floorRatio} of the bare fan-out`],
    ['CPU ms per answered request', `gateway ${figures.gatewayCpuMsPerRequest}, floor ${figures.floorCpuMsPerRequest}`, `bare fan-out ${figures.baselineCpuMsPerRequest}`],
    ...(figures.unadmittedRps === undefined
      ? []
      : ([
          ['without admission control (BENCH_ADMISSION=compare)', `gateway ${figures.gatewayRps} vs ${figures.unadmittedRps} req/s; CPU ms/request ${figures.gatewayCpuMsPerRequest} vs ${figures.unadmittedCpuMsPerRequest}`, `of the floor ${figures.gatewayFloorRatio} vs ${figures.unadmittedFloorRatio}; tokens/s ${figures.tokenRequestsPerSec} vs ${figures.unadmittedTokenRequestsPerSec}`],
        ] as Array<[string, string, string]>)),
    ['--workers 2 vs 1 on PostgreSQL (req/s)', figures.workers2Rps === undefined ? 'not run' : `${figures.workers2Rps} vs ${figures.workers1Rps}`, `ratio ${figures.workersRatio ?? '-'}; CPU ms/request ${figures.workers2CpuMsPerRequest ?? '-'} vs ${figures.workers1CpuMsPerRequest ?? '-'}`],
    ['p50 at 1 connection (ms)', `gateway ${figures.p50LightMs} vs bare fan-out ${figures.baselineP50LightMs}`, `target ≤ ${r2(1.1 * figures.baselineP50LightMs + 3)}`],
    ['p99 at 64 connections (ms)', `gateway ${figures.p99Ms}`, `bare fan-out ${figures.baselineP99Ms}`],
    ['gateway RSS under load (MB)', String(figures.rssMb), 'target ≤ 250'],
    ['hanging hospital (ms)', `search took ${figures.hangingHospitalCostMs}`, `timeout ${figures.hangingHospitalTimeoutMs} (target ≤ timeout + 50)`],
    ['token verification p50 (ms)', `first use ${figures.tokenVerifyP50Ms}, repeated ${figures.tokenRepeatP50Ms}`, 'target ≤ 0.3'],
    ['token endpoint (req/s)', String(figures.tokenRequestsPerSec), 'target ≥ 500'],
    ['consent decision p50, 100 k stored (ms)', String(figures.consentDecisionP50Ms), 'target ≤ 1'],
    ['$recognition vs plain search p50 (ms)', `${figures.recognitionP50Ms} vs ${figures.heavySearchP50Ms}`, `ratio ${figures.recognitionRatio} (target ≤ 1.1)`],
    ['CDS order-select vs $recognition p50 (ms)', `${figures.orderSelectP50Ms} vs ${figures.orderSelectRecognitionP50Ms}`, `ratio ${figures.orderSelectRatio} (target ≤ 1.2)`],
    ['CDS order-select, a hospital hanging (ms)', `${figures.orderSelectHangingMs} (slowest of 3)`, `budget ${figures.hookBudgetMs} (target ≤ budget)`],
    ['audit events/s (SQLite, durable, group commit)', String(figures.auditEventsPerSec), 'target ≥ 10000'],
    ['audit events/s (PostgreSQL, two writers)', figures.auditEventsPerSecPg2 === undefined ? 'not run' : String(figures.auditEventsPerSecPg2), 'target ≥ 3000'],
    ['$verify over 1 M events', `${figures.verifySeconds} s; RSS ${figures.verifyRssMb} MB, ${figures.verifyHelpers} helpers ≤ ${figures.verifyHelperRssMb} MB each`, 'target ≤ 10 s, ≤ 150 MB a process'],
    ['auditor search by patient p95 (ms)', String(figures.auditSearchP95Ms), 'target ≤ 50'],
    ['MLLP ORU stored + ACK, one connection (msg/s)', String(figures.mllpMessagesPerSec), 'target ≥ 500 (#19)'],
    ['CDA lab reports parsed and mapped (docs/s)', String(figures.cdaDocumentsPerSec), 'target ≥ 200 (#19)'],
    ['DICOMweb study proxied: RSS growth (MB)', figures.dicomwebRssGrowthMb === undefined ? 'no Orthanc here' : `${figures.dicomwebRssGrowthMb} for ${figures.dicomwebStudyMb} MB`, 'target ≤ 20 for 50 MB (#19)'],
  ];
  for (const [a, b, c] of rows) process.stdout.write(`${a.padEnd(42)} ${b.padEnd(44)} ${c}\n`);
  process.stdout.write(JSON.stringify(figures) + '\n');
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
