import type { AuditEvent, Bundle, OperationOutcome, Parameters } from '@medplum/fhirtypes';
import { auditBuildContext, createAuditService, toAuditRow } from '../../../../gateway/audit/audit-service';
import { buildAuditEvents } from '../../../../gateway/audit/audit-event';
import { appendRows, verifyChain } from '../../../../gateway/audit/audit-store';
import { GENESIS_HASH, chainHash, type AuditRow } from '../../../../gateway/audit/hash-chain';
import { CHAIN_MOVED, dropChainTrigger } from '../../../../gateway/audit/migration';
import { isOperationOutcomeError } from '../../../../gateway/fhir/outcomes';
import type { FhirResponse, Route } from '../../../../gateway/http/route';
import type { AuditService } from '../../../../gateway/audit/contract';
import { auditRoutes, type AuditRouteDeps } from '../../../../gateway/http/routes/audit-routes';
import { createDb } from '../../../../gateway/storage/db';
import { isSqlite } from '../../../../gateway/storage/migration';
import { testDatabases, type TestDb } from '../../../support/databases';
import { expectValidFhir } from '../../../support/fhir-validation';
import { auditor, auditTestDeps, clinician, entry, queryOf, request, searchEntry } from '../../../support/audit-fixtures';

/**
 * The audit trail against real databases (API.md §7): durable chained writes, concurrent writers on
 * one database, tamper detection, search and paging, and the write refusals.
 */

// The HTTP routes over each service's store, as gateway/app.ts builds them.
const routeDeps = new WeakMap<AuditService, AuditRouteDeps>();
function auditService(deps: ReturnType<typeof auditTestDeps>, opts: { verifyBatchSize?: number } = {}): AuditService {
  const a = createAuditService(deps);
  routeDeps.set(a, { reader: deps.reader, config: deps.config, verifyBatchSize: opts.verifyBatchSize });
  return a;
}
const routesOf = (audit: AuditService) => auditRoutes(routeDeps.get(audit)!);

function routeOf(audit: AuditService, method: string, path: string): Route {
  const r = routesOf(audit).find((x) => x.method === method && x.path === path);
  if (!r) throw new Error(`no route ${method} ${path}`);
  return r;
}

async function call(audit: AuditService, method: string, path: string, url: string, params: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<FhirResponse> {
  const route = routeOf(audit, method, path);
  return route.handler(request({ method, url, requester: auditor(), params, headers, query: queryOf(url), interaction: route.interaction }));
}

async function outcomeOf(p: Promise<unknown>): Promise<{ status: number; outcome: OperationOutcome }> {
  try {
    await p;
  } catch (e) {
    if (isOperationOutcomeError(e)) return { status: e.status, outcome: e.outcome };
    throw e;
  }
  throw new Error('expected an OperationOutcomeError');
}

const verify = async (audit: AuditService) => {
  const res = await call(audit, 'GET', '/AuditEvent/$verify', '/AuditEvent/$verify');
  const p = res.body as Parameters;
  expectValidFhir(p);
  const get = (name: string) => p.parameter?.find((x) => x.name === name);
  return { valid: get('valid')?.valueBoolean, checked: get('checked')?.valueInteger, firstInvalid: get('firstInvalid')?.valueString, problem: get('problem')?.valueCode };
};

const rows = (db: TestDb['db']) => db<AuditRow>('audit_events').orderBy('seq').select('*');

describe.each(testDatabases())('audit trail on %s', (_name, open) => {
  let t: TestDb;
  let audit: AuditService;
  let deps: ReturnType<typeof auditTestDeps>;
  beforeEach(async () => {
    t = await open();
    deps = auditTestDeps(t.db);
    audit = auditService(deps);
  });
  afterEach(async () => {
    await audit.close();
    await t.close();
  });

  test('recordRequest stores one chained event per patient before it resolves', async () => {
    await audit.recordRequest(searchEntry(['p1', 'p2'], ['xm-zsh'], { requestId: 'rid-a' }));
    const stored = await rows(t.db);
    expect(stored.map((r) => [Number(r.seq), r.patient_id, r.request_id, r.client_id, r.user_id, Number(r.outcome), r.purpose, r.subtype])).toEqual([
      [1, 'p1', 'rid-a', 'xm-zsh-his', 'D1029', 0, 'TREAT', 'search-type'],
      [2, 'p2', 'rid-a', 'xm-zsh-his', 'D1029', 0, 'TREAT', 'search-type'],
    ]);
    expect(stored[0].prev_hash).toBe(GENESIS_HASH);
    expect(stored[1].prev_hash).toBe(stored[0].hash);
    for (const r of stored) {
      expect(r.hash).toBe(chainHash(r.prev_hash, { ...r, seq: Number(r.seq), outcome: Number(r.outcome) }));
      const ev = JSON.parse(r.resource) as AuditEvent;
      expect(ev.id).toBe(r.id);
      expectValidFhir(ev);
    }
    const head = await t.db('audit_chain_head').first();
    expect([Number(head.seq), head.hash]).toEqual([2, stored[1].hash]);
    expect((await deps.metrics.auditEvents.get()).values[0].value).toBe(2);
    expect((await deps.metrics.auditWriteDuration.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value).toBe(1);
    expect(await verify(audit)).toMatchObject({ valid: true, checked: 2 });
  });

  test('concurrent requests are group-committed, each resolved after its own commit, the chain intact', async () => {
    const ids = Array.from({ length: 400 }, (_, i) => `conc-${i}`);
    await Promise.all(ids.map((id, i) => audit.recordRequest(searchEntry([`p${i % 7}`], [], { requestId: id }))));
    const stored = await rows(t.db);
    expect(stored).toHaveLength(400);
    expect(new Set(stored.map((r) => r.request_id))).toEqual(new Set(ids));
    const commits = (await deps.metrics.auditWriteDuration.get()).values.find((v) => v.metricName?.endsWith('_count'))!.value;
    expect(commits).toBeLessThan(400);
    expect(await verify(audit)).toEqual({ valid: true, checked: 400, firstInvalid: undefined, problem: undefined });
  });

  test('two gateway instances on two connection pools append at once: one chain, every event once, no gaps', async () => {
    // two AuditService instances on two separate knex pools: two gateway instances on one store
    const db2 = createDb(t.config);
    const audit2 = auditService(auditTestDeps(db2));
    try {
      // Continuous load on both: 24 callers each, 400 requests each instance, some of them with
      // several patients (several events per request, so batches of uneven sizes), so that both
      // writers are appending the whole time and their commits interleave.
      const expected = new Map<string, number>(); // request id → events
      const load = async (svc: AuditService, tag: string) => {
        let next = 0;
        const caller = async () => {
          for (let i = next++; i < 400; i = next++) {
            const patients = Array.from({ length: 1 + (i % 4 === 0 ? i % 3 : 0) }, (_, k) => `p${(i + k) % 7}`);
            const requestId = `${tag}-${i}`;
            expected.set(requestId, patients.length);
            await svc.recordRequest(searchEntry(patients, ['xm-zsh'], { requestId }));
          }
        };
        await Promise.all(Array.from({ length: 24 }, caller));
      };
      await Promise.all([load(audit, 'a'), load(audit2, 'b')]);
      const total = [...expected.values()].reduce((a, b) => a + b, 0);
      const stored = await rows(t.db);
      expect(stored).toHaveLength(total);
      // seq strictly increasing from 1 with no gaps
      expect(stored.map((r) => Number(r.seq))).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      // every request id stored exactly once per event it has (once per patient), none extra
      const counted = new Map<string, number>();
      for (const r of stored) counted.set(r.request_id!, (counted.get(r.request_id!) ?? 0) + 1);
      expect(counted).toEqual(expected);
      expect(new Set(stored.map((r) => r.id)).size).toBe(total);
      // the two writers' commits really did interleave along the chain
      let switches = 0;
      for (let i = 1; i < stored.length; i++) if (stored[i].request_id![0] !== stored[i - 1].request_id![0]) switches++;
      expect(switches).toBeGreaterThanOrEqual(4);
      // the chain verifies, through the route and directly, in large and in small batches
      expect(await verify(audit)).toMatchObject({ valid: true, checked: total });
      expect(await verify(audit2)).toMatchObject({ valid: true, checked: total });
      expect(await verifyChain(db2, { batchSize: 7 })).toMatchObject({ valid: true, checked: total, head: { seq: total } });
      const head = await t.db('audit_chain_head').first('seq', 'hash');
      expect([Number(head.seq), head.hash]).toEqual([total, stored[total - 1].hash]);
      // and both instances go on appending onto it
      await Promise.all([audit.recordRequest(searchEntry(['p1'], [], { requestId: 'after-a' })), audit2.recordRequest(searchEntry(['p1'], [], { requestId: 'after-b' }))]);
      expect(await verifyChain(t.db)).toMatchObject({ valid: true, checked: total + 2 });
    } finally {
      await audit2.close();
      await db2.destroy();
    }
  });

  test.each([1, 3, 16, 17, 255, 256, 257, 700])('an append of %i rows goes in whole, chained', async (n) => {
    const ctx = auditBuildContext(deps.config);
    const event = (tag: string, i: number) => buildAuditEvents(searchEntry([`p${i}`], [], { requestId: `${tag}-${i}` }), ctx).map(toAuditRow)[0];
    const content = Array.from({ length: n }, (_, i) => event('n', i));
    await appendRows(t.db, [event('before', 0), event('before', 1)]);
    const head = await t.db('audit_chain_head').first('seq', 'hash');
    // linked onto the head it names, and onto a head it does not know (the locked way)
    const appended = await appendRows(t.db, content, { seq: Number(head.seq), hash: head.hash });
    expect(appended.map((r) => r.seq)).toEqual(Array.from({ length: n }, (_, i) => i + 3));
    await appendRows(t.db, Array.from({ length: 5 }, (_, i) => event('after', i)));
    const stored = await rows(t.db);
    expect(stored.map((r) => Number(r.seq))).toEqual(Array.from({ length: n + 7 }, (_, i) => i + 1));
    expect(stored.slice(2, n + 2).map((r) => r.id)).toEqual(content.map((c) => c.id));
    expect(await verifyChain(t.db, { batchSize: 100 })).toMatchObject({ valid: true, checked: n + 7 });
  });

  test('an append that remembers a head another instance has since moved links onto the real head', async () => {
    const content = (i: number) => buildAuditEvents(searchEntry([`p${i}`], [], { requestId: `h-${i}` }), auditBuildContext(deps.config)).map(toAuditRow);
    const first = await appendRows(t.db, content(1));
    const mine = { seq: first[0].seq, hash: first[0].hash };
    // the remembered head is current: linked onto it
    const second = await appendRows(t.db, content(2), mine);
    expect(second[0]).toMatchObject({ seq: 2, prev_hash: first[0].hash });
    // another writer appends; this one still remembers seq 2
    await appendRows(t.db, content(3));
    const fourth = await appendRows(t.db, content(4), { seq: second[0].seq, hash: second[0].hash });
    expect(fourth[0].seq).toBe(4);
    const stored = await rows(t.db);
    expect(stored.map((r) => Number(r.seq))).toEqual([1, 2, 3, 4]);
    expect(fourth[0].prev_hash).toBe(stored[2].hash);
    expect(await t.db('audit_chain_head').first('seq', 'hash')).toMatchObject({ hash: fourth[0].hash });
    expect(await verify(audit)).toMatchObject({ valid: true, checked: 4 });
  });

  describe('tamper detection: $verify names the first broken link', () => {
    let ids: string[];
    beforeEach(async () => {
      for (let i = 0; i < 12; i++) await audit.recordRequest(searchEntry([`p${i}`], [], { requestId: `t-${i}` }));
      ids = (await rows(t.db)).map((r) => r.id);
      expect(await verify(audit)).toMatchObject({ valid: true, checked: 12 });
    });

    test('an edited row', async () => {
      const r = await t.db('audit_events').where({ seq: 5 }).first();
      await t.db('audit_events').where({ seq: 5 }).update({ resource: r.resource.replace('"outcome":"0"', '"outcome":"4"') });
      expect(await verify(audit)).toEqual({ valid: false, checked: 5, firstInvalid: ids[4], problem: 'edited' });
    });

    test('an edited index column (a row hidden from patient search)', async () => {
      await t.db('audit_events').where({ seq: 3 }).update({ patient_id: null });
      expect(await verify(audit)).toMatchObject({ valid: false, firstInvalid: ids[2], problem: 'edited' });
    });

    test('a deleted row', async () => {
      await t.db('audit_events').where({ seq: 7 }).delete();
      expect(await verify(audit)).toMatchObject({ valid: false, firstInvalid: ids[7], problem: 'deleted' });
    });

    test.each([
      ['a run of rows as long as a verification read, on its boundaries', 3, 4, 4],
      ['a run of rows spanning several verification reads', 3, 8, 3],
    ])('%s deleted: named at the first row after the gap, in small reads too', async (_name, from, to, batch) => {
      await t.db('audit_events').where('seq', '>=', from).andWhere('seq', '<=', to).delete();
      expect(await verify(audit)).toMatchObject({ valid: false, checked: from, firstInvalid: ids[to], problem: 'deleted' });
      expect(await verifyChain(t.db, { batchSize: batch })).toMatchObject({ valid: false, checked: from, fault: { id: ids[to], seq: to + 1, kind: 'deleted' } });
    });

    test('the newest rows deleted (and the head left alone)', async () => {
      await t.db('audit_events').where('seq', '>', 10).delete();
      expect(await verify(audit)).toMatchObject({ valid: false, firstInvalid: ids[9], problem: 'deleted' });
    });

    // The rows below are added behind the gateway's back. The database refuses any that does not
    // link onto the chain head; an intruder with schema rights drops that trigger first.
    test('a row that does not link onto the head is refused by the database itself', async () => {
      const r = await t.db('audit_events').where({ seq: 4 }).first();
      await expect(t.db('audit_events').insert({ ...r, seq: 13, id: 'forged-0' })).rejects.toThrow(CHAIN_MOVED);
      await expect(t.db('audit_events').insert({ ...r, seq: 0, id: 'forged-0' })).rejects.toThrow(CHAIN_MOVED);
      expect(await verify(audit)).toMatchObject({ valid: true, checked: 12 });
    });

    test('a row that links onto the head with a made-up hash moves the head, and is named', async () => {
      const last = await t.db('audit_events').where({ seq: 12 }).first();
      await t.db('audit_events').insert({ ...last, seq: 13, id: 'forged-1', prev_hash: last.hash, hash: 'f'.repeat(64) });
      expect(await verify(audit)).toMatchObject({ valid: false, firstInvalid: 'forged-1', problem: 'edited' });
    });

    test('a row inserted after the head (trigger dropped)', async () => {
      await dropChainTrigger(t.db);
      const last = await t.db('audit_events').where({ seq: 12 }).first();
      await t.db('audit_events').insert({ ...last, seq: 13, id: 'forged-1', prev_hash: last.hash, hash: 'f'.repeat(64) });
      expect(await verify(audit)).toMatchObject({ valid: false, firstInvalid: 'forged-1', problem: 'inserted' });
    });

    test('a row inserted in the place of a deleted one (trigger dropped)', async () => {
      await dropChainTrigger(t.db);
      const r = await t.db('audit_events').where({ seq: 4 }).first();
      await t.db('audit_events').where({ seq: 4 }).delete();
      const forged = { ...r, id: 'forged-2', patient_id: 'someone-else' };
      await t.db('audit_events').insert({ ...forged, hash: chainHash(forged.prev_hash, { ...forged, seq: 4, outcome: Number(forged.outcome) }) });
      expect(await verify(audit)).toMatchObject({ valid: false, firstInvalid: ids[4], problem: 'relinked' });
    });

    test('a row inserted below the start of the chain (trigger dropped)', async () => {
      await dropChainTrigger(t.db);
      const r = await t.db('audit_events').where({ seq: 1 }).first();
      await t.db('audit_events').insert({ ...r, seq: 0, id: 'forged-3' });
      expect(await verify(audit)).toMatchObject({ valid: false, firstInvalid: 'forged-3', problem: 'inserted' });
    });

    test('verification in small batches finds the same link', async () => {
      await t.db('audit_events').where({ seq: 9 }).update({ outcome: 8 });
      const small = auditService(deps, { verifyBatchSize: 2 });
      expect(await verify(small)).toMatchObject({ valid: false, checked: 9, firstInvalid: ids[8] });
      await small.close();
    });
  });

  describe('GET /AuditEvent', () => {
    beforeEach(async () => {
      const at = (d: string) => new Date(`2025-03-${d}T08:00:00.000Z`);
      await audit.recordRequest(searchEntry(['p1'], ['xm-zsh'], { at: at('01'), requestId: 's1' }));
      await audit.recordRequest(searchEntry(['p2'], [], { at: at('02'), status: 403, requestId: 's2' }));
      const bg = searchEntry(['p1'], ['qz-fy'], { at: at('03'), requester: clinician({ purposeOfUse: 'ETREAT', user: { id: 'D2000', roles: [] } }), requestId: 's3' });
      bg.req.record.breakGlass = true;
      await audit.recordRequest(bg);
      const tokenReq = request({ method: 'POST', url: '/auth/token', interaction: 'token', requestId: 's4' });
      tokenReq.record.claimedClientId = 'zz-unknown-his';
      await audit.recordRequest(entry(tokenReq, 401, { at: at('04') }));
      const read = request({ url: '/AuditEvent/x', requester: auditor(), interaction: 'read', requestId: 's5' });
      await audit.recordRequest(entry(read, 404, { at: at('05') }));
    });
    const search = async (qs: string, headers: Record<string, string> = {}) => {
      const res = await call(audit, 'GET', '/AuditEvent', `/AuditEvent${qs ? `?${qs}` : ''}`, {}, headers);
      const b = res.body as Bundle<AuditEvent>;
      expectValidFhir(b);
      return b;
    };
    const rids = (b: Bundle<AuditEvent>) =>
      (b.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource!.entity!.find((x) => x.type?.code === 'XrequestId')!.what!.identifier!.value);

    test.each([
      ['', ['s5', 's4', 's3', 's2', 's1']],
      ['patient=p1', ['s3', 's1']],
      ['patient=Patient/p2', ['s2']],
      ['patient=p1,p2', ['s3', 's2', 's1']],
      ['patient=p1&patient=p2', []],
      ['agent=D1029', ['s2', 's1']],
      ['agent=D2000', ['s3']],
      ['agent=xm-zsh-his', ['s3', 's2', 's1']],
      ['agent=zz-unknown-his', ['s4']],
      ['agent=audit-office', ['s5']],
      ['agent=D2000,audit-office', ['s5', 's3']],
      ['outcome=4', ['s5', 's4', 's2']],
      ['outcome=0', ['s3', 's1']],
      ['purpose=ETREAT', ['s3']],
      ['purpose=ETREAT,BTG', ['s3']],
      ['subtype=token', ['s4']],
      ['subtype=http://hl7.org/fhir/restful-interaction|read', ['s5']],
      ['date=2025-03-02', ['s2']],
      ['date=ge2025-03-02&date=lt2025-03-04', ['s3', 's2']],
      ['date=gt2025-03-03', ['s5', 's4']],
      ['date=le2025-03-02', ['s2', 's1']],
      ['date=ne2025-03-02', ['s5', 's4', 's3', 's1']],
      ['date=eq2025-03', ['s5', 's4', 's3', 's2', 's1']],
      ['date=ge2025-03-03T16:00:00%2B08:00', ['s5', 's4', 's3']],
      ['patient=p1&outcome=0&purpose=ETREAT&agent=D2000&date=2025-03-03&subtype=search-type', ['s3']],
      ['request-id=s4', ['s4']],
      ['whatever=1', ['s5', 's4', 's3', 's2', 's1']],
    ])('?%s', async (qs, expected) => {
      expect(rids(await search(qs))).toEqual(expected);
    });

    test('paging: next links walk every event once, newest first', async () => {
      for (let i = 0; i < 7; i++) await audit.recordRequest(searchEntry(['p1'], [], { requestId: `pg-${i}` }));
      const seen: string[] = [];
      let b = await search('patient=p1&_count=2');
      let pages = 1;
      for (;;) {
        expect((b.entry ?? []).length).toBeLessThanOrEqual(2);
        seen.push(...rids(b).map(String));
        const next = b.link?.find((l) => l.relation === 'next')?.url;
        if (!next) break;
        expect(next.startsWith('http://127.0.0.1:8080/AuditEvent?')).toBe(true);
        expect(next).toContain('patient=p1');
        b = await search(next.slice(next.indexOf('?') + 1));
        pages++;
      }
      expect(seen).toEqual(['pg-6', 'pg-5', 'pg-4', 'pg-3', 'pg-2', 'pg-1', 'pg-0', 's3', 's1']);
      expect(pages).toBe(5);
    });

    test('entries: fullUrl, search mode, the stored AuditEvent', async () => {
      const b = await search('patient=p2');
      expect(b.type).toBe('searchset');
      expect(b.entry).toHaveLength(1);
      const e = b.entry![0];
      expect(e.fullUrl).toBe(`http://127.0.0.1:8080/AuditEvent/${e.resource!.id}`);
      expect(e.search).toEqual({ mode: 'match' });
      expect(e.resource!.outcome).toBe('4');
      expect(b.link?.find((l) => l.relation === 'self')?.url).toBe('http://127.0.0.1:8080/AuditEvent?patient=p2');
    });

    test('the search records the patient it concerned (auditors are audited too)', async () => {
      const req = request({ url: '/AuditEvent?patient=p1', requester: auditor(), interaction: 'search-type' });
      await routeOf(audit, 'GET', '/AuditEvent').handler(req);
      expect([...req.record.patients]).toEqual(['p1']);
    });

    test.each([
      ['_count=500', '_count'], ['_count=0', '_count'], ['date=sa2025-03-01', 'date'], ['outcome=3', 'outcome'], ['_cursor=abc', '_cursor'],
    ])('?%s → 400 naming the parameter', async (qs, expression) => {
      const { status, outcome } = await outcomeOf(search(qs));
      expect(status).toBe(400);
      expect(outcome.issue[0].expression).toEqual([expression]);
      expectValidFhir(outcome);
    });

    test('unknown parameter with Prefer: handling=strict → 400; without it, an ignored-parameter outcome entry', async () => {
      const { status } = await outcomeOf(search('whatever=1', { prefer: 'handling=strict' }));
      expect(status).toBe(400);
      const outcomes = ((await search('whatever=1')).entry ?? []).filter((e) => e.search?.mode === 'outcome');
      expect(outcomes.map((e) => (e.resource as unknown as OperationOutcome).issue[0].details?.coding?.[0]?.code)).toEqual(['ignored-parameter']);
    });

    test('POST /AuditEvent/_search answers like GET', async () => {
      const route = routeOf(audit, 'POST', '/AuditEvent/_search');
      const res = await route.handler(request({ method: 'POST', url: '/AuditEvent/_search', requester: auditor(), query: { patient: ['p2'] }, body: { patient: 'p2' } }));
      expect(rids(res.body as Bundle<AuditEvent>)).toEqual(['s2']);
    });
  });

  test('GET /AuditEvent/:id reads one event; unknown or malformed ids → 404', async () => {
    await audit.recordRequest(searchEntry(['p1'], [], { requestId: 'rd-1' }));
    const [row] = await rows(t.db);
    const res = await call(audit, 'GET', '/AuditEvent/:id', `/AuditEvent/${row.id}`, { id: row.id });
    expect(res.body).toEqual(JSON.parse(row.resource));
    expectValidFhir(res.body as AuditEvent);
    for (const id of ['no-such-id', 'x'.repeat(65), "1' OR '1'='1"]) {
      const { status, outcome } = await outcomeOf(call(audit, 'GET', '/AuditEvent/:id', `/AuditEvent/${encodeURIComponent(id)}`, { id }));
      expect(status).toBe(404);
      expectValidFhir(outcome);
    }
  });

  test('routes: $verify registered before :id, access for auditors only', () => {
    const paths = routesOf(audit).filter((r) => r.method === 'GET').map((r) => r.path);
    expect(paths.indexOf('/AuditEvent/$verify')).toBeLessThan(paths.indexOf('/AuditEvent/:id'));
    for (const r of routesOf(audit).filter((x) => x.method === 'GET')) {
      expect(r.access).toMatchObject({ kind: 'token', resource: 'AuditEvent', roles: ['auditor'] });
      expect(r.audited).toBe(true);
    }
  });

  test.each([
    ['POST', '/AuditEvent'], ['PUT', '/AuditEvent'], ['PATCH', '/AuditEvent'], ['DELETE', '/AuditEvent'],
    ['POST', '/AuditEvent/:id'], ['PUT', '/AuditEvent/:id'], ['PATCH', '/AuditEvent/:id'], ['DELETE', '/AuditEvent/:id'],
  ])('%s %s → 405', async (method, path) => {
    await audit.recordRequest(searchEntry(['p1']));
    const { status, outcome } = await outcomeOf(call(audit, method, path, path.replace(':id', 'x'), { id: 'x' }));
    expect(status).toBe(405);
    expect(outcome.issue[0].code).toBe('not-supported');
    expectValidFhir(outcome);
    expect(await t.db('audit_events').count({ n: '*' }).first()).toEqual({ n: expect.anything() });
    expect(Number((await t.db('audit_events').count({ n: '*' }).first())!.n)).toBe(1);
  });

  test('forged and oversized query strings are stored, searchable and verifiable', async () => {
    const urls = [
      `/DiagnosticReport?patient=${'x'.repeat(200_000)}`,
      "/DiagnosticReport?patient=p1'%3B%20DROP%20TABLE%20audit_events%3B--&x=\u0000\u0001",
      `/Patient?name=${'林\ud800'.repeat(5000)}`,
    ];
    for (const [i, url] of urls.entries()) {
      const req = request({ url, requester: clinician(), query: {}, requestId: `forged-${i}` });
      req.record.addPatient('p1');
      await audit.recordRequest(entry(req, 400));
    }
    const stored = await rows(t.db);
    expect(stored).toHaveLength(3);
    for (const r of stored) {
      const ev = JSON.parse(r.resource) as AuditEvent;
      expectValidFhir(ev);
      expect(Buffer.from(ev.entity!.find((x) => x.role?.code === '24')!.query!, 'base64').length).toBeLessThanOrEqual(4096);
    }
    expect(await verify(audit)).toMatchObject({ valid: true, checked: 3 });
  });

  test('a commit that fails refuses only its own requests: those queued behind it are linked again and stored', async () => {
    // a trigger that refuses one request's event stands for a commit failing mid-load
    if (isSqlite(t.db)) {
      await t.db.raw(`CREATE TRIGGER refuse_boom BEFORE INSERT ON audit_events WHEN NEW.request_id = 'boom' BEGIN SELECT RAISE(ABORT, 'boom refused'); END`);
    } else {
      await t.db.raw(`CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.request_id = 'boom' THEN RAISE EXCEPTION 'boom refused'; END IF; RETURN NEW; END $$`);
      await t.db.raw(`CREATE TRIGGER refuse_boom BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_boom()`);
    }
    await audit.recordRequest(searchEntry(['p0'], [], { requestId: 'first' })); // the writer knows the head: later events are linked ahead
    // 20 callers, each 15 requests one after the other: commits of about 20 events follow each other
    const ids = Array.from({ length: 300 }, (_, i) => (i === 150 ? 'boom' : `q-${i}`));
    const refused: string[] = [];
    let next = 0;
    const caller = async () => {
      for (let i = next++; i < ids.length; i = next++) {
        await audit.recordRequest(searchEntry([`p${i % 5}`], [], { requestId: ids[i] })).catch((e: unknown) => {
          expect(isOperationOutcomeError(e) && e.status).toBe(503);
          refused.push(ids[i]);
        });
      }
    };
    await Promise.all(Array.from({ length: 20 }, caller));
    expect(refused).toContain('boom');
    const stored = await rows(t.db);
    // every request answered is stored once, none refused is, the chain has no gap and verifies
    expect(stored.map((r) => r.request_id).sort()).toEqual(['first', ...ids.filter((id) => !refused.includes(id))].sort());
    expect(refused.length).toBeLessThan(ids.length / 2);
    expect(stored.map((r) => Number(r.seq))).toEqual(Array.from({ length: stored.length }, (_, i) => i + 1));
    expect(await verify(audit)).toMatchObject({ valid: true, checked: stored.length });
    await audit.recordRequest(searchEntry(['p1'], [], { requestId: 'after' }));
    expect(await verifyChain(t.db)).toMatchObject({ valid: true, checked: stored.length + 1 });
  });

  test('a store that cannot be written: recordRequest fails with 503 and counts the failure', async () => {
    const broken = createDb(t.config);
    await broken.destroy();
    const bDeps = auditTestDeps(broken);
    const svc = auditService(bDeps);
    const { status } = await outcomeOf(svc.recordRequest(searchEntry(['p1'])));
    expect(status).toBe(503);
    expect((await bDeps.metrics.auditFailures.get()).values[0].value).toBe(1);
    await svc.close();
  });

  test('after close, recordRequest refuses (503) and nothing queued is lost', async () => {
    const pending = Promise.all(Array.from({ length: 50 }, (_, i) => audit.recordRequest(searchEntry(['p1'], [], { requestId: `cl-${i}` }))));
    await audit.close();
    await pending;
    expect(await rows(t.db)).toHaveLength(50);
    const { status } = await outcomeOf(audit.recordRequest(searchEntry(['p1'])));
    expect(status).toBe(503);
  });
});
