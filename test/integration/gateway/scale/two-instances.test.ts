import { openPostgres, postgresAvailable, type TestDb } from '../../../support/databases';
import { errorCodeOf } from '../../../support/consent-http';
import { killAllGatewayProcesses, startGatewayProcess, type ServingGateway } from '../../../support/gateway-process';
import { auditCounts, Caller, NID_CONSENT, NID_LOAD, runLoad, searchPath, startScaleFixture, verifyAt, type LoadResult, type ScaleFixture } from './scale-fixture';

/**
 * Several instances, proven (issue #17): two real gateway processes (`gateway/main.ts --workers 1`)
 * on one PostgreSQL schema, with one publicBaseUrl and one key folder, in front of two simulated
 * hospitals. Everything one instance must know of the other's work is in the database: tokens
 * (signed with the shared key, verified by either), used assertion jtis, consents, the audit chain.
 * Between a write at one and the read at the other there is no wait: "at the very next request".
 */

const suite = postgresAvailable() ? describe : describe.skip;

suite('two gateway instances on one PostgreSQL', () => {
  let t: TestDb;
  let fx: ScaleFixture;
  let a: ServingGateway;
  let b: ServingGateway;
  const caller = new Caller();
  const his: Record<string, string> = {};
  const auditor: Record<string, string> = {};
  let consentPatient: string;
  let loadPatient: string;

  beforeAll(async () => {
    t = await openPostgres();
    fx = await startScaleFixture(t);
    [a, b] = await Promise.all(
      ['a', 'b'].map((name) => startGatewayProcess({ configFile: fx.configFile, args: ['--workers', '1'], env: { DATABASE_URL: fx.databaseUrl(name) } })),
    );
    for (const g of [a, b]) {
      his[g.url] = await caller.token(g.url, fx.his);
      auditor[g.url] = await caller.token(g.url, fx.auditor);
    }
    consentPatient = await caller.regionalId(a.url, his[a.url], NID_CONSENT);
    loadPatient = await caller.regionalId(a.url, his[a.url], NID_LOAD);
    await caller.consent(a.url, his[a.url], loadPatient);
  }, 60_000);

  afterAll(async () => {
    await killAllGatewayProcesses();
    await fx?.close();
    await t?.close();
  }, 30_000);

  const search = (g: ServingGateway, patientId: string, token = his[g.url]) => caller.call(g.url, searchPath(patientId), { token });

  it('a token issued by one instance is accepted by the other', async () => {
    for (const [issuer, other] of [
      [a, b],
      [b, a],
    ]) {
      const token = await caller.token(issuer.url, fx.his);
      const res = await search(other, loadPatient, token);
      expect(res.status).toBe(200);
      expect(res.body.entry?.length).toBeGreaterThan(0);
    }
  });

  it("a client assertion's jti used at one instance is refused at the other, and only one of a simultaneous pair wins", async () => {
    for (const [first, second] of [
      [a, b],
      [b, a],
    ]) {
      const assertion = caller.assertion(fx.his);
      expect((await caller.tokenRequest(first.url, assertion)).status).toBe(200);
      const replay = await caller.tokenRequest(second.url, assertion);
      expect(replay.status).toBe(401);
      expect(replay.body.error).toBe('invalid_client');
      expect(replay.body.access_token).toBeUndefined();
    }
    // the same assertion at both at once: the jti is claimed in the shared store, so exactly one token
    for (let i = 0; i < 5; i++) {
      const assertion = caller.assertion(fx.his);
      const both = await Promise.all([a, b].map((g) => caller.tokenRequest(g.url, assertion)));
      expect(both.map((r) => r.status).sort()).toEqual([200, 401]);
    }
  });

  it('a consent recorded or withdrawn at one instance is in force at the other on its very next request', async () => {
    // both directions, a few times: a consent decision cached by the reader must not outlive the write
    for (const [writer, reader] of [
      [a, b],
      [b, a],
      [a, b],
      [b, a],
    ]) {
      const before = await search(reader, consentPatient);
      expect(before.status).toBe(403);
      expect(errorCodeOf(before.body)).toBe('consent-required');

      const consent = await caller.consent(writer.url, his[writer.url], consentPatient);
      const granted = await search(reader, consentPatient);
      expect(granted.status).toBe(200);
      expect(granted.body.entry.filter((e: { search?: { mode?: string } }) => e.search?.mode === 'match').length).toBeGreaterThan(0);

      const put = await caller.call(writer.url, `/Consent/${consent.id}`, { method: 'PUT', token: his[writer.url], body: { ...consent, status: 'inactive' } });
      expect(put.status).toBe(200);
      const withdrawn = await search(reader, consentPatient);
      expect(withdrawn.status).toBe(403);
      expect(withdrawn.body.resourceType).toBe('OperationOutcome');
    }
  });

  it('concurrent load on both leaves one intact chain whose events match the answered requests one for one', async () => {
    const results = await runLoad(caller, { bases: [a.url, b.url], pathAndQuery: searchPath(loadPatient), token: his[a.url], total: 320, concurrency: 16 });
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect(new Set(results.map((r) => r.base))).toEqual(new Set([a.url, b.url]));

    const v = await verifyAt(caller, b.url, auditor[b.url]);
    expect(v).toMatchObject({ valid: true, invalidCheckpoints: 0 });

    const { byRequest, withoutRequest } = await auditCounts(t);
    // each search of the load: exactly one event
    expect(results.filter((r) => byRequest.get(r.requestId!) !== 1)).toEqual([]);
    // every answer this suite ever got has its event(s), and no event names a request it did not send
    expect([...caller.answered.keys()].filter((id) => !byRequest.has(id))).toEqual([]);
    expect([...byRequest.keys()].filter((id) => !caller.answered.has(id))).toEqual([]);
    expect(withoutRequest).toBe(0);
    expect(Number(v.checked)).toBeGreaterThanOrEqual(caller.answered.size - 1); // all but $verify's own, written after its walk
  }, 60_000);

  it('PostgreSQL connections cut during load: each request succeeds with its event or fails closed with a 503; both recover without a restart', async () => {
    let faulting = true;
    const cutter = (async () => {
      let cut = 0;
      for (let i = 0; i < 8; i++) {
        await new Promise((r) => setTimeout(r, 150));
        // only this suite's two instances, by the application_name their DATABASE_URL gives them
        const res = await t.db.raw(
          'SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name IN (?, ?)',
          [fx.applicationName('a'), fx.applicationName('b')],
        );
        cut += Number(res.rows[0].n);
      }
      faulting = false;
      return cut;
    })();
    const during = await runLoad(caller, { bases: [a.url, b.url], pathAndQuery: searchPath(loadPatient), token: his[a.url], total: 100_000, concurrency: 16, stop: () => !faulting });
    const cut = await cutter;
    expect(cut).toBeGreaterThan(0);

    expect(during.filter((r) => r.error)).toEqual([]); // both instances stayed up and answered everything
    const wrong = during.filter((r) => !(r.status === 200 || (r.status === 503 && r.bodyType === 'OperationOutcome')));
    expect(wrong).toEqual([]);
    const { byRequest } = await auditCounts(t);
    const ok = during.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThan(0);
    expect(ok.filter((r) => !byRequest.has(r.requestId!))).toEqual([]);

    // after the fault: the very next request at each instance is answered, without a restart
    for (const g of [a, b]) expect((await search(g, loadPatient)).status).toBe(200);
    expect(a.gp.alive() && b.gp.alive()).toBe(true);
    expect(await verifyAt(caller, a.url, auditor[a.url])).toMatchObject({ valid: true });
  }, 60_000);

  it('kill -9 of one instance during load: every answer it gave has its event, its in-flight requests fail at the client, the other goes on', async () => {
    let killedAt = 0;
    let answeredByA = 0;
    const killAfter = 60;
    const results = await runLoad(caller, {
      bases: [a.url, b.url],
      pathAndQuery: searchPath(loadPatient),
      token: his[a.url],
      total: 400,
      concurrency: 16,
      onResult: (r: LoadResult) => {
        if (r.base === a.url && r.status !== undefined && ++answeredByA === killAfter) {
          killedAt = Date.now();
          a.gp.proc.kill('SIGKILL');
        }
      },
    });
    expect((await a.gp.exited).signal).toBe('SIGKILL');
    expect(killedAt).toBeGreaterThan(0);

    const fromA = results.filter((r) => r.base === a.url);
    const answeredA = fromA.filter((r) => r.status !== undefined);
    expect(answeredA.length).toBeGreaterThanOrEqual(killAfter);
    // the requests A had not answered when it died fail at the client (reset or refused)
    expect(fromA.some((r) => r.error)).toBe(true);
    const fromB = results.filter((r) => r.base === b.url);
    expect(fromB.filter((r) => r.status !== 200)).toEqual([]);
    expect(fromB.filter((r) => r.at > killedAt).length).toBeGreaterThan(0);

    const { byRequest } = await auditCounts(t);
    // every answer of either instance, whatever its status, has its event
    expect(results.filter((r) => r.status !== undefined && !byRequest.has(r.requestId!))).toEqual([]);
    // and so has every earlier answer of the suite, but the 503s of the fault test whose event could not be written
    expect([...caller.answered].filter(([id, r]) => r.status !== 503 && !byRequest.has(id))).toEqual([]);

    expect((await search(b, loadPatient)).status).toBe(200);
    expect(await verifyAt(caller, b.url, auditor[b.url])).toMatchObject({ valid: true });
  }, 60_000);
});
