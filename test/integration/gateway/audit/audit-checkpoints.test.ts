import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';
import request from 'supertest';
import { chainHash, storedJson, type AuditRow } from '../../../../gateway/audit/hash-chain';
import { signCheckpoint, type SignedCheckpoint } from '../../../../gateway/audit/checkpoint';
import { insertCheckpoint } from '../../../../gateway/audit/checkpoint-store';
import { ed25519KeyId } from '../../../../gateway/auth/key-source';
import { createDb, type Db } from '../../../../gateway/storage/db';
import { makeTestClient, requestToken } from '../../../support/auth';
import { testDatabases, type TestDb } from '../../../support/databases';
import { expectValidFhir } from '../../../support/fhir-validation';
import { startGateway, type StartedGateway } from '../../../support/gateway-harness';
import { newAnchorPath } from '../../../support/trust';
import { generateKeyPairSync, sign } from 'node:crypto';

/**
 * Signed, anchored checkpoints of the audit chain (issue #20, docs/audit.md §3) through the real
 * gateway: what an insider with write access to the database does — edit an event, re-hash every
 * later one and the head; cut the tail; roll back; touch the checkpoints — and what `$verify`,
 * which reads the anchor file and not only the database, says about it. Also the faults: an
 * anchor that cannot be written, an anchor file edited or cut, several instances, shutdown.
 */

const auditorClient = makeTestClient({ id: 'audit-office', roles: ['auditor'] });
const hisClient = makeTestClient({ id: 'xm-offline-his', hospital: 'xm-offline', roles: ['clinician'] });

type Answer = Record<string, string | number | boolean | undefined>;

/** `$verify`'s Parameters as name → value (validated as FHIR R4 first). */
function readParameters(p: Parameters): Answer {
  expectValidFhir(p);
  const out: Answer = {};
  for (const x of p.parameter ?? []) out[x.name] = x.valueBoolean ?? x.valueInteger ?? x.valueString ?? x.valueCode;
  return out;
}

/** The insider: edit one event (whose reader it names), re-hash it and every later one, and move the head. */
async function rechainFrom(db: Db, seq: number): Promise<void> {
  const rows: AuditRow[] = await db('audit_events').where('seq', '>=', seq - 1).orderBy('seq').select('*');
  let prev = Number(rows[0]!.seq) === seq - 1 ? rows.shift()!.hash : '0'.repeat(64);
  for (const row of rows) {
    const r = { ...row, seq: Number(row.seq), outcome: Number(row.outcome) };
    if (r.seq === seq) {
      const ev = JSON.parse(r.resource) as { agent: Array<{ requestor?: boolean; name?: string; who?: { identifier?: { value?: string } } }> };
      for (const a of ev.agent) if (a.requestor) Object.assign(a, { name: '张三', who: { identifier: { ...a.who?.identifier, value: 'D9999' } } });
      r.resource = storedJson(ev);
      r.user_id = 'D9999';
    }
    const hash = chainHash(prev, r);
    await db('audit_events').where({ seq: r.seq }).update({ resource: r.resource, user_id: r.user_id, prev_hash: prev, hash });
    prev = hash;
  }
  await db('audit_chain_head').where({ id: 1 }).update({ hash: prev });
}

/** The insider cuts the chain's tail after event `seq` and moves the head back to it. */
async function truncateAfter(db: Db, seq: number): Promise<void> {
  const row = await db('audit_events').where({ seq }).first('hash');
  await db('audit_events').where('seq', '>', seq).delete();
  await db('audit_chain_head').where({ id: 1 }).update({ seq, hash: row.hash });
}

const anchorLines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);

describe.each(testDatabases())('audit checkpoints on %s', (_name, open) => {
  let t: TestDb;
  let gw: StartedGateway;
  let anchor: string;
  let auditorToken: string;
  let hisToken: string;
  const opened: Array<{ close(): Promise<void> }> = [];

  /** a gateway on `t` with its own anchor file (or the one given) */
  async function start(opts: { anchorPath?: string; db?: TestDb; intervalSeconds?: number; clock?: { now(): Date } } = {}): Promise<StartedGateway> {
    const g = await startGateway({
      db: opts.db ?? t,
      clients: [auditorClient, hisClient],
      clock: opts.clock,
      extra: { audit: { checkpoints: { intervalSeconds: opts.intervalSeconds ?? 300, anchor: { type: 'file', path: opts.anchorPath ?? anchor } } } },
    });
    opened.push(g);
    return g;
  }
  const traffic = async (n: number, g = gw) => {
    for (let i = 0; i < n; i++) await request(g.app).get('/Organization').set('Authorization', `Bearer ${hisToken}`).expect(200);
  };
  const checkpoint = async (g = gw): Promise<SignedCheckpoint> => {
    const r = await g.services.checkpoints.checkpoint('shutdown');
    if (!r.made) throw new Error(`no checkpoint: ${JSON.stringify(r)}`);
    return r.made;
  };
  const verify = async (g = gw): Promise<Answer> => {
    const res = await request(g.app).get('/AuditEvent/$verify').set('Authorization', `Bearer ${auditorToken}`);
    expect(res.status).toBe(200);
    return readParameters(res.body as Parameters);
  };
  const healthz = async (g = gw) => (await request(g.app).get('/healthz').expect(200)).body.auditCheckpoints;

  beforeEach(async () => {
    t = await open();
    anchor = newAnchorPath();
    gw = await start();
    auditorToken = await requestToken(gw.app, auditorClient, { user: { id: 'A001', name: '审计员' } });
    hisToken = await requestToken(gw.app, hisClient, { user: { id: 'D1029', name: '林医生' } });
  });
  afterEach(async () => {
    for (const g of opened.splice(0).reverse()) await g.close().catch(() => undefined);
    await t.close();
  });

  test('a checkpoint vouches for the head; it is in the database and in the anchor file, and $verify checks both', async () => {
    await traffic(3);
    const head = await t.db('audit_chain_head').first();
    const cp = await checkpoint();
    expect(cp).toMatchObject({ seq: 1, headSeq: Number(head.seq), headHash: head.hash, kind: 'shutdown', keyId: expect.any(String) });
    const lines = anchorLines(anchor);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ format: 'xzq-audit-checkpoint/1', seq: 1, headSeq: cp.headSeq, headHash: cp.headHash, hash: cp.hash, signature: cp.signature });
    expect(await t.db('audit_checkpoints').count({ n: '*' })).toEqual([{ n: expect.anything() }]);
    await traffic(2);
    await checkpoint();
    const v = await verify();
    expect(v).toMatchObject({ valid: true, checkpoints: 2, anchoredCheckpoints: 2, unanchoredCheckpoints: 0, invalidCheckpoints: 0, lastCheckpoint: 2 });
    expect(v.firstInvalidCheckpoint).toBeUndefined();
    // the next checkpoint links onto the one before
    const rows = await t.db('audit_checkpoints').orderBy('seq').select('*');
    expect(rows[1].prev_hash).toBe(rows[0].hash);
    expect(await healthz()).toMatchObject({ status: 'ok', unanchored: 0, anchor: { kind: 'file', status: 'ok' }, lastCheckpoint: { seq: 2 } });
  });

  test('the insider: one event edited, every later event and the head re-hashed → $verify names the first checkpoint after the edit', async () => {
    await traffic(2);
    const cp1 = await checkpoint();
    await traffic(2);
    const cp2 = await checkpoint();
    await traffic(2);
    const cp3 = await checkpoint();
    // edit an event between checkpoint 1 and 2 (the user who read it becomes another person)
    const edited = cp1.headSeq + 1;
    await rechainFrom(t.db, edited);
    const v = await verify();
    // the chain itself links again: without checkpoints nothing would be noticed
    expect(v.firstInvalid).toBeUndefined();
    expect(v.problem).toBeUndefined();
    expect(v).toMatchObject({ valid: false, firstInvalidCheckpoint: 2, checkpointProblem: 'rechained', checkpointHeadSeq: String(cp2.headSeq), invalidCheckpoints: 2 });
    expect(String(v.checkpointDetail)).toContain(`after seq ${cp1.headSeq} up to seq ${cp2.headSeq}`);
    expect(cp3.seq).toBe(3);
    // and the gateway signs nothing over the forged chain
    expect(await gw.services.checkpoints.checkpoint('shutdown')).toEqual({ skipped: 'alarm' });
    expect(await healthz()).toMatchObject({ status: 'alarm', alarm: 'chain-rewritten' });
    const metrics = await request(gw.app).get('/metrics').set('Authorization', `Bearer ${auditorToken}`).expect(200);
    expect(metrics.text).toMatch(/^xzq_audit_checkpoint_alarm 1$/m);
  });

  test('an edit without re-hashing breaks the chain itself; the checkpoint above it is named as unreached', async () => {
    await traffic(2);
    const cp1 = await checkpoint();
    await traffic(2);
    await checkpoint();
    await t.db('audit_events').where({ seq: cp1.headSeq + 1 }).update({ user_id: 'D9999' });
    const v = await verify();
    expect(v).toMatchObject({ valid: false, problem: 'edited', firstInvalidCheckpoint: 2, checkpointProblem: 'unreached' });
  });

  test('the tail cut after a checkpoint (the head moved back with it) is detected', async () => {
    await traffic(3);
    const cp = await checkpoint();
    await truncateAfter(t.db, cp.headSeq - 2);
    const v = await verify();
    expect(v.problem).toBeUndefined(); // the shortened chain is consistent on its own
    expect(v).toMatchObject({ valid: false, firstInvalidCheckpoint: 1, checkpointProblem: 'truncated', checkpointHeadSeq: String(cp.headSeq) });
    expect(await gw.services.checkpoints.checkpoint('shutdown')).toEqual({ skipped: 'alarm' });
    expect((await healthz()).alarm).toBe('chain-truncated');
  });

  test('what no checkpoint covers yet is not protected: events after the newest checkpoint are reported as such', async () => {
    await traffic(2);
    const cp = await checkpoint();
    await traffic(2);
    const before = await verify();
    expect(before.uncheckpointedEvents).toBeGreaterThan(0);
    await truncateAfter(t.db, cp.headSeq);
    const v = await verify();
    expect(v.valid).toBe(true); // the limit docs/audit.md states: at most one interval (or up to the last shutdown) is exposed
  });

  test('a rollback to a backup: checkpoints and events after the backup gone → missing and truncated; the gateway raises the alarm', async () => {
    await traffic(2);
    const cp1 = await checkpoint();
    await traffic(2);
    const cp2 = await checkpoint();
    // what restoring a backup taken right after checkpoint 1 leaves
    await t.db('audit_checkpoints').where('seq', '>', cp1.seq).delete();
    await truncateAfter(t.db, cp1.headSeq);
    const v = await verify();
    expect(v).toMatchObject({ valid: false, firstInvalidCheckpoint: 2, checkpointProblem: 'missing', checkpointHeadSeq: String(cp2.headSeq) });
    expect(await gw.services.checkpoints.checkpoint('shutdown')).toEqual({ skipped: 'alarm' });
    expect((await healthz()).alarm).toBe('database-behind-anchor');
    // a new instance started on the rolled-back database sees it at start-up
    const other = await start();
    expect((await healthz(other)).status).toBe('alarm');
  });

  test.each<[string, (db: Db) => Promise<unknown>, string]>([
    ['edited in the database', (db) => db('audit_checkpoints').where({ seq: 1 }).update({ head_hash: 'f'.repeat(64) }), 'altered'],
    ['deleted from the database', (db) => db('audit_checkpoints').where({ seq: 1 }).delete(), 'missing'],
  ])('a checkpoint %s is named (the anchored copy still verifies)', async (_name, tamper, problem) => {
    await traffic(2);
    await checkpoint();
    await traffic(1);
    await checkpoint();
    await tamper(t.db);
    expect(await verify()).toMatchObject({ valid: false, firstInvalidCheckpoint: 1, checkpointProblem: problem });
  });

  test('a checkpoint forged in the database (signed with a key of the insider) is not trusted', async () => {
    await traffic(2);
    const cp = await checkpoint();
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const forged = await signCheckpoint(
      { seq: 2, slot: null, kind: 'shutdown', headSeq: cp.headSeq, headHash: cp.headHash, at: new Date().toISOString(), prev: cp.hash },
      { keyId: ed25519KeyId(publicKey), publicKey, sign: async (m) => sign(null, m, privateKey) },
    );
    expect(await insertCheckpoint(t.db, forged)).toBe('inserted');
    expect(await verify()).toMatchObject({ valid: false, firstInvalidCheckpoint: 2, checkpointProblem: 'unknown-key' });
  });

  test('an anchor line edited: its signature fails and is named; the database copy alone does not make it valid', async () => {
    await traffic(2);
    await checkpoint();
    await traffic(1);
    await checkpoint();
    const lines = anchorLines(anchor);
    const first = JSON.parse(lines[0]!);
    lines[0] = JSON.stringify({ ...first, headSeq: first.headSeq - 1 });
    writeFileSync(anchor, `${lines.join('\n')}\n`);
    expect(await verify()).toMatchObject({ valid: false, firstInvalidCheckpoint: 1, checkpointProblem: 'signature' });
    // a line that is no checkpoint at all
    writeFileSync(anchor, `${anchorLines(anchor).join('\n')}\nnot a checkpoint\n`);
    expect(await verify()).toMatchObject({ valid: false, anchorProblem: 'anchor-corrupt', anchorLine: 3 });
  });

  test('an anchor file cut inside a line is reported; cut at a line end, the next checkpoint anchors the lost ones again', async () => {
    await traffic(2);
    await checkpoint();
    await traffic(1);
    await checkpoint();
    const full = readFileSync(anchor, 'utf8');
    truncateSync(anchor, full.length - 20);
    expect(await verify()).toMatchObject({ valid: false, anchorProblem: 'anchor-truncated', anchorLine: 2 });
    // cut at the end of line 1: nothing visible is broken, checkpoint 2 is known from the database only
    writeFileSync(anchor, `${full.split('\n')[0]}\n`);
    expect(await verify()).toMatchObject({ valid: true, anchoredCheckpoints: 1, unanchoredCheckpoints: 1 });
    await traffic(1);
    await checkpoint();
    expect(anchorLines(anchor).map((l) => JSON.parse(l).seq)).toEqual([1, 2, 3]);
    expect(await verify()).toMatchObject({ valid: true, anchoredCheckpoints: 3, unanchoredCheckpoints: 0 });
  });

  test('an anchor that cannot be written: requests go on, /healthz and /metrics show it, the next checkpoint retries', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xzq-anchor-'));
    const broken = path.join(dir, 'anchor.jsonl');
    mkdirSync(broken); // a folder where the file should be: EISDIR, also for root
    const g = await start({ anchorPath: broken });
    await traffic(2, g);
    const made = await g.services.checkpoints.checkpoint('shutdown');
    expect(made.made?.seq).toBe(1); // stored in the database all the same
    await request(g.app).get('/Organization').set('Authorization', `Bearer ${hisToken}`).expect(200);
    expect(await healthz(g)).toMatchObject({ status: 'failing', unanchored: 1, anchor: { status: 'failing', error: 'EISDIR', since: expect.any(String) } });
    const metrics = await request(g.app).get('/metrics').set('Authorization', `Bearer ${auditorToken}`).expect(200);
    expect(metrics.text).toMatch(/^xzq_audit_checkpoint_failures_total\{stage="anchor"\} [1-9]/m);
    expect(metrics.text).toMatch(/^xzq_audit_checkpoints_unanchored 1$/m);
    expect(await verify(g)).toMatchObject({ valid: false, anchorProblem: 'anchor-unreadable' });
    // the operator fixes the destination: the next checkpoint anchors what was missed
    rmdirSync(broken);
    await traffic(1, g);
    await g.services.checkpoints.checkpoint('shutdown');
    expect(anchorLines(broken).map((l) => JSON.parse(l).seq)).toEqual([1, 2]);
    expect(await healthz(g)).toMatchObject({ status: 'ok', unanchored: 0, anchor: { status: 'ok' } });
  });

  test('two instances: exactly one checkpoint per interval slot; each anchors every checkpoint; a shared anchor file holds harmless duplicates', async () => {
    const fixed = new Date();
    const clock = { now: () => fixed };
    const db2 = createDb(t.config);
    opened.push({ close: () => db2.destroy() });
    const anchorB = newAnchorPath();
    const a = await start({ clock });
    const b = await start({ clock, db: { ...t, db: db2 }, anchorPath: anchorB });
    await traffic(2, a);
    await traffic(2, b);
    const results = await Promise.all([a.services.checkpoints.checkpoint('interval'), b.services.checkpoints.checkpoint('interval')]);
    expect(results.filter((r) => r.made)).toHaveLength(1);
    expect(results.filter((r) => r.skipped === 'slot-taken')).toHaveLength(1);
    const rows = await t.db('audit_checkpoints').select('seq', 'slot', 'kind');
    expect(rows).toEqual([{ seq: expect.anything(), slot: new Date(Math.floor(fixed.getTime() / 300_000) * 300_000).toISOString(), kind: 'interval' }]);
    // both anchors hold it (the loser copied the winner's, verified)
    expect(anchorLines(anchor)).toEqual(anchorLines(anchorB));
    // shutdown checkpoints of both, racing for the next seq: both stored, one after the other
    await traffic(1, a);
    await Promise.all([a.services.checkpoints.checkpoint('shutdown'), b.services.checkpoints.checkpoint('shutdown')]);
    const seqs = (await t.db('audit_checkpoints').orderBy('seq').select('seq')).map((r) => Number(r.seq));
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    await a.services.checkpoints.checkpoint('shutdown').catch(() => undefined);
    await b.services.checkpoints.checkpoint('shutdown').catch(() => undefined);
    expect(await verify(a)).toMatchObject({ valid: true });
    expect(await verify(b)).toMatchObject({ valid: true });
    // two instances appending to one file: the same lines twice verify
    writeFileSync(anchor, `${anchorLines(anchor).join('\n')}\n${anchorLines(anchor).join('\n')}\n`);
    expect(await verify(a)).toMatchObject({ valid: true, anchoredCheckpoints: seqs.length });
  });

  test('shutdown makes a checkpoint over everything the audit writer drained', async () => {
    await traffic(3);
    await gw.close();
    const head = await t.db('audit_chain_head').first();
    const last = await t.db('audit_checkpoints').orderBy('seq', 'desc').first();
    expect(last).toMatchObject({ kind: 'shutdown', head_hash: head.hash });
    expect(Number(last.head_seq)).toBe(Number(head.seq));
    expect(JSON.parse(anchorLines(anchor).at(-1)!)).toMatchObject({ kind: 'shutdown', headHash: head.hash });
  });

  test('the interval timer makes a checkpoint at each slot', async () => {
    const g = await start({ intervalSeconds: 1, anchorPath: newAnchorPath() });
    await traffic(1, g);
    const deadline = Date.now() + 5000;
    let rows: Array<{ kind: string }> = [];
    while (Date.now() < deadline && !rows.length) {
      await new Promise((r) => setTimeout(r, 200));
      rows = await t.db('audit_checkpoints').where({ kind: 'interval' }).select('kind');
    }
    expect(rows.length).toBeGreaterThanOrEqual(1);
  });

  describe('GET /AuditEvent/$checkpoints', () => {
    const get = (url: string, token = auditorToken) => request(gw.app).get(url).set('Authorization', `Bearer ${token}`);
    const part = (p: ParametersParameter, name: string) => p.part?.find((x) => x.name === name);

    test('lists the checkpoints oldest first with the keys that sign them, paged by next; audited', async () => {
      for (let i = 0; i < 3; i++) {
        await traffic(1);
        await checkpoint();
      }
      const res = await get('/AuditEvent/$checkpoints?_count=2');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/application\/fhir\+json/);
      const body = res.body as Parameters;
      expectValidFhir(body);
      const cps = body.parameter!.filter((p) => p.name === 'checkpoint');
      expect(cps.map((c) => part(c, 'seq')?.valueInteger)).toEqual([1, 2]);
      const stored = await t.db('audit_checkpoints').where({ seq: 1 }).first();
      expect(cps[0]!.part).toEqual(
        expect.arrayContaining([
          { name: 'kind', valueCode: 'shutdown' },
          { name: 'headSeq', valueString: String(stored.head_seq) },
          { name: 'headHash', valueString: stored.head_hash },
          { name: 'hash', valueString: stored.hash },
          { name: 'signature', valueBase64Binary: Buffer.from(stored.signature, 'base64url').toString('base64') },
        ]),
      );
      const key = body.parameter!.find((p) => p.name === 'key')!;
      expect(part(key, 'keyId')?.valueString).toBe(stored.key_id);
      const next = body.parameter!.find((p) => p.name === 'next')?.valueUri;
      expect(next).toBe('http://127.0.0.1:8080/AuditEvent/$checkpoints?after=2&_count=2');
      const page2 = (await get(next!.slice('http://127.0.0.1:8080'.length)).expect(200)).body as Parameters;
      expectValidFhir(page2);
      expect(page2.parameter!.filter((p) => p.name === 'checkpoint').map((c) => part(c, 'seq')?.valueInteger)).toEqual([3]);
      expect(page2.parameter!.some((p) => p.name === 'next')).toBe(false);
      const events = await get(`/AuditEvent?request-id=${res.headers['x-request-id']}`).expect(200);
      expect(events.body.entry[0].resource.subtype.map((s: { code: string }) => s.code)).toEqual(['operation', '$checkpoints']);
    });

    test.each([
      ['_count=0', 'bad-count'],
      ['_count=1001', 'bad-count'],
      ['after=-1', 'invalid-parameter'],
      ['after=abc', 'invalid-parameter'],
      ['after=1&after=2', 'duplicate-parameter'],
    ])('%s → 400 %s', async (qs, code) => {
      const res = await get(`/AuditEvent/$checkpoints?${qs}`);
      expect(res.status).toBe(400);
      expectValidFhir(res.body);
      expect(res.body.issue[0].details.coding[0].code).toBe(code);
    });

    test('only for auditors', async () => {
      const res = await get('/AuditEvent/$checkpoints', hisToken);
      expect(res.status).toBe(403);
      expectValidFhir(res.body);
    });
  });
});
