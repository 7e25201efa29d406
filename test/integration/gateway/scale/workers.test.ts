import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openPostgres, postgresAvailable, type TestDb } from '../../../support/databases';
import {
  gatewayChildrenOf,
  connectionOwner,
  isListening,
  killAllGatewayProcesses,
  parentOf,
  PinnedConnection,
  spawnGateway,
  startGatewayProcess,
  type LogLine,
  type ServingGateway,
} from '../../../support/gateway-process';
import { verifyChain } from '../../../../gateway/audit/audit-store';
import { tokenRequestForm } from '../../../support/auth';
import { auditCounts, Caller, NID_CONSENT, NID_LOAD, runLoad, searchPath, startScaleFixture, verifyAt, type LoadResult, type ScaleFixture } from './scale-fixture';

/**
 * One gateway host using its cores (issue #17): `gateway/main.ts --workers 2` on PostgreSQL — a
 * primary and two worker processes sharing one port. Which worker answers a connection is read
 * from /proc (the process holding the socket's server end), so the gateway exposes nothing about
 * its processes; the primary's own log says when a worker dies and is replaced.
 */

const suite = postgresAvailable() ? describe : describe.skip;

suite('--workers 2: two worker processes behind one port on PostgreSQL', () => {
  let t: TestDb;
  let fx: ScaleFixture;
  let gw: ServingGateway;
  const caller = new Caller();
  let token: string;
  let auditorToken: string;
  let patient: string;
  const pinned: PinnedConnection[] = [];

  const workerPids = () => gw.gp.lines.filter(isListening).map((l) => Number(l.pid));

  beforeAll(async () => {
    t = await openPostgres();
    fx = await startScaleFixture(t);
    gw = await startGatewayProcess({ configFile: fx.configFile, args: ['--workers', '2'], env: { DATABASE_URL: fx.databaseUrl('w') }, listeners: 2 });
    token = await caller.token(gw.url, fx.his);
    auditorToken = await caller.token(gw.url, fx.auditor);
    patient = await caller.regionalId(gw.url, token, NID_LOAD);
    await caller.consent(gw.url, token, patient);
  }, 60_000);

  afterAll(async () => {
    for (const c of pinned) c.close();
    await killAllGatewayProcesses();
    await fx?.close();
    await t?.close();
  }, 30_000);

  it('two workers, children of the primary, answer on the one port; a token one issued is accepted by the other', async () => {
    const pids = workerPids();
    expect(new Set(pids).size).toBe(2);
    expect(pids).not.toContain(gw.gp.pid);
    for (const pid of pids) expect(parentOf(pid)).toBe(gw.gp.pid);
    expect(gatewayChildrenOf(gw.gp.pid).sort()).toEqual([...pids].sort());
    // every worker logged its start with its worker id; the primary forked each
    expect(gw.gp.lines.filter(isListening).map((l) => l.worker).sort()).toEqual([1, 2]);

    // connections until two are answered by different workers (the primary deals them out in turn)
    const byWorker = new Map<number, PinnedConnection>();
    for (let i = 0; i < 12 && byWorker.size < 2; i++) {
      const c = new PinnedConnection(gw.port);
      pinned.push(c);
      expect((await c.request('GET', '/metadata')).status).toBe(200);
      const owner = connectionOwner(gw.port, c.localPort!, pids);
      expect(owner).toBeDefined();
      if (!byWorker.has(owner!)) byWorker.set(owner!, c);
    }
    expect([...byWorker.keys()].sort()).toEqual([...pids].sort());

    const [[issuerPid, issuer], [otherPid, other]] = [...byWorker];
    const form = new URLSearchParams(tokenRequestForm(caller.assertion(fx.his))).toString();
    const issued = await issuer.request('POST', '/auth/token', { 'content-type': 'application/x-www-form-urlencoded' }, form);
    expect(issued.status).toBe(200);
    const res = await other.request('GET', searchPath(patient), { authorization: `Bearer ${issued.body.access_token}`, accept: 'application/fhir+json' });
    expect(res.status).toBe(200);
    expect(res.body.entry.length).toBeGreaterThan(0);
    // still the same two processes at both ends of the proof
    expect(connectionOwner(gw.port, issuer.localPort!, pids)).toBe(issuerPid);
    expect(connectionOwner(gw.port, other.localPort!, pids)).toBe(otherPid);
    for (const c of [issued, res]) caller.answered.set(c.requestId, { status: c.status, base: gw.url });
  });

  it('a worker killed with SIGKILL is logged by the primary and replaced; requests go on being answered, each with its audit event', async () => {
    const before = workerPids();
    const victim = before[1];
    let killedAt = 0;
    let answered = 0;
    let answeredAfterReplacement = 0;
    let replaced: LogLine | undefined;
    // A worker starts in ~1 s on an idle host; under the whole suite's load, with the survivor kept
    // busy, it took 10–30 s and more (it loads the gateway anew). The load stops if it never comes.
    let noReplacement = false;
    const replacement = gw.gp
      .waitFor((l) => isListening(l) && !before.includes(Number(l.pid)), 'a replacement worker listening', 90_000)
      .then(
        (l) => (replaced = l),
        (e: unknown) => {
          noReplacement = true;
          throw e;
        },
      );
    replacement.catch(() => undefined); // awaited after the load; its failure is reported there
    const results = await runLoad(caller, {
      bases: [gw.url],
      pathAndQuery: searchPath(patient),
      token,
      total: 20_000, // the stop below ends it; the cap only bounds a load nothing stops
      // enough callers that the survivor is busy throughout, few enough to leave the replacement a core to start on
      concurrency: 6,
      stop: () => answeredAfterReplacement >= 80 || noReplacement,
      onResult: (r: LoadResult) => {
        if (r.status === undefined) return;
        if (++answered === 40) {
          killedAt = Date.now();
          process.kill(victim, 'SIGKILL');
        }
        if (replaced) answeredAfterReplacement++;
      },
    });
    await replacement;
    expect(killedAt).toBeGreaterThan(0);

    // the primary's log: which worker died, its pid and signal, and that it is replaced at once
    const death = gw.gp.lines.find((l) => l.msg === 'worker died; replacing it')!;
    expect(death).toMatchObject({ pid: victim, signal: 'SIGKILL', role: 'primary', replaceInMs: 0 });
    expect(typeof death.worker).toBe('number');
    const newPid = Number(replaced!.pid);
    expect(parentOf(newPid)).toBe(gw.gp.pid);
    expect(gatewayChildrenOf(gw.gp.pid).sort()).toEqual([before[0], newPid].sort());

    // answered all along: before the kill, while one worker was gone, and after the replacement
    const ok = results.filter((r) => r.status === 200);
    expect(results.filter((r) => r.status !== undefined && r.status !== 200)).toEqual([]);
    expect(ok.filter((r) => r.at > killedAt).length).toBeGreaterThanOrEqual(80);
    // requests the dead worker held fail at the client; nothing else does
    expect(results.filter((r) => r.error).length).toBeLessThanOrEqual(6);

    const { byRequest } = await auditCounts(t);
    expect(ok.filter((r) => byRequest.get(r.requestId!) !== 1)).toEqual([]);
    expect([...caller.answered.keys()].filter((id) => !byRequest.has(id))).toEqual([]);
    expect(await verifyAt(caller, gw.url, auditorToken)).toMatchObject({ valid: true });
    // the log says what happened to processes, never whose data they served
    const log = JSON.stringify(gw.gp.lines);
    for (const nid of [NID_LOAD, NID_CONSENT]) expect(log).not.toContain(nid);
  }, 150_000);

  it('SIGTERM to the primary during load stops every worker gracefully: what was being answered is answered, with its event; exit 0', async () => {
    const pids = workerPids().filter((pid) => parentOf(pid) === gw.gp.pid);
    expect(pids).toHaveLength(2);
    let stopped = false;
    let sentAt = 0;
    let answered = 0;
    void gw.gp.exited.then(() => (stopped = true));
    const results = await runLoad(caller, {
      bases: [gw.url],
      pathAndQuery: searchPath(patient),
      token,
      total: 5000,
      concurrency: 6,
      stop: () => stopped,
      onResult: (r: LoadResult) => {
        if (r.status !== undefined && ++answered === 30) {
          sentAt = Date.now();
          gw.gp.proc.kill('SIGTERM');
        }
      },
    });
    expect(await gw.gp.exited).toEqual({ code: 0, signal: null });
    expect(sentAt).toBeGreaterThan(0);
    const stoppedLines = gw.gp.lines.filter((l) => l.msg === 'worker stopped');
    expect(stoppedLines.map((l) => l.pid).sort()).toEqual([...pids].sort());
    expect(stoppedLines.every((l) => l.code === 0)).toBe(true);
    for (const pid of pids) expect(parentOf(pid)).toBeUndefined();

    // every answer is a 200 with its event: none is a 503 of an audit trail closed under a request
    const answers = results.filter((r) => r.status !== undefined);
    expect(answers.filter((r) => r.status !== 200)).toEqual([]);
    const { byRequest } = await auditCounts(t);
    expect(answers.filter((r) => byRequest.get(r.requestId!) !== 1)).toEqual([]);
    // each worker signed its shutdown checkpoint over a chain that verifies
    expect(await verifyChain(t.db)).toMatchObject({ valid: true });
    const shutdown = await t.db('audit_checkpoints').where({ kind: 'shutdown' }).count({ n: '*' });
    expect(Number(shutdown[0].n)).toBeGreaterThanOrEqual(2);
  }, 40_000);
});

describe('--workers on SQLite', () => {
  let dir: string;
  let configFile: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'xzq-workers-'));
    configFile = path.join(dir, 'gateway.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        publicBaseUrl: 'http://gateway.scale.test',
        database: { client: 'sqlite3', connection: { filename: path.join(dir, 'gateway.sqlite') } },
        hospitals: [{ id: 'xm-offline', name: '测试医院', city: '350200', grade: '3A', recognizedItems: [], adapter: { type: 'fhir', baseUrl: 'http://127.0.0.1:9/fhir' } }],
        keys: { directory: path.join(dir, 'keys') },
        audit: { checkpoints: { anchor: { type: 'file', path: path.join(dir, 'anchor.jsonl') } } },
      }),
    );
  });
  afterAll(async () => {
    await killAllGatewayProcesses();
    rmSync(dir, { recursive: true, force: true });
  });

  it('more than one worker is refused at start with exit 2 and the reason, asked by flag or by GATEWAY_WORKERS', async () => {
    // DATABASE_URL empty: the file's SQLite store, whatever the environment of the test says
    const runs = [
      spawnGateway(['--config', configFile, '--workers', '2'], { DATABASE_URL: '' }),
      spawnGateway(['--config', configFile], { GATEWAY_WORKERS: '3', DATABASE_URL: '' }),
    ];
    const exits = await Promise.all(runs.map((r) => r.exited));
    expect(exits.map((e) => e.code)).toEqual([2, 2]);
    expect(runs[0].stderr()).toMatch(/--workers 2: the SQLite store runs in one process \(one writer\)/);
    expect(runs[1].stderr()).toMatch(/GATEWAY_WORKERS 3: the SQLite store runs in one process/);
    // refused before anything started
    expect(runs.every((r) => !r.lines.some(isListening))).toBe(true);
  }, 30_000);
});
