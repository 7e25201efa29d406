import type { Parameters } from '@medplum/fhirtypes';
import pino from 'pino';
import request from 'supertest';
import { chainHead, verifyChain } from '../../../../gateway/audit/audit-store';
import { fillAuditStore } from '../../../support/audit-fixtures';
import { makeTestClient, requestToken } from '../../../support/auth';
import { testDatabases, type TestDb } from '../../../support/databases';
import { expectValidFhir } from '../../../support/fhir-validation';
import { startGateway, type StartedGateway } from '../../../support/gateway-harness';
import { childPids } from '../../../support/processes';

/**
 * `$verify` shared out over helper processes (audit/verify-helpers.ts), through the real gateway:
 * real child processes reading the store on their own read-only connections (better-sqlite3 on
 * SQLite, pg on PostgreSQL). Their answer must be the walk's here, a break in any stretch must be
 * found as one walk finds it, and a helper that dies must cost nothing but time.
 */

const auditorClient = makeTestClient({ id: 'audit-office', roles: ['auditor'] });
const EVENTS = 3000;
const HELPERS = 3;

describe.each(testDatabases())('$verify with helper processes on %s', (_name, open) => {
  let t: TestDb;
  let gw: StartedGateway;
  let token: string;
  const logged: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    t = await open();
    const log = pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
    gw = await startGateway({ db: t, clients: [auditorClient], options: { log, verifyHelpers: { helpers: HELPERS, minRows: 1 } } });
    token = await requestToken(gw.app, auditorClient, { user: { id: 'A001', name: '审计员' } });
    await fillAuditStore(t.db, (await chainHead(t.db)).seq + EVENTS);
    // a checkpoint whose head the stretches must pass through
    await gw.services.checkpoints.checkpoint('shutdown');
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
    await t?.close();
  });
  beforeEach(() => {
    logged.length = 0;
  });

  async function verify(): Promise<Record<string, unknown>> {
    const res = await request(gw.app).get('/AuditEvent/$verify').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    const body = res.body as Parameters;
    expectValidFhir(body);
    return Object.fromEntries(body.parameter!.map((p) => [p.name, p.valueBoolean ?? p.valueInteger ?? p.valueString ?? p.valueCode]));
  }

  test('the helpers answer as one walk here does, through the checkpoint', async () => {
    const here = await verifyChain(t.db);
    expect(here.valid).toBe(true);
    const before = childPids().length;
    const answer = await verify();
    expect(answer).toMatchObject({ valid: true, checked: here.checked, headSeq: String(here.head.seq), headHash: here.head.hash, checkpoints: 1, invalidCheckpoints: 0 });
    expect(here.checked).toBeGreaterThan(EVENTS);
    // no helper failed over to a walk here, and none is left behind
    expect(logged.filter((l) => String(l.msg).includes('verify helper'))).toEqual([]);
    expect(childPids().length).toBe(before);
  });

  test('a helper killed while it works: its stretch is verified here, the answer is the same, and the log says so without row content', async () => {
    const here = await verifyChain(t.db);
    const before = new Set(childPids());
    const killed: number[] = [];
    const killer = setInterval(() => {
      const helper = childPids().find((p) => !before.has(p));
      if (helper && !killed.length) {
        killed.push(helper);
        process.kill(helper, 'SIGKILL');
      }
    }, 2);
    try {
      const answer = await verify();
      expect(answer).toMatchObject({ valid: true, checked: here.checked, headHash: here.head.hash });
    } finally {
      clearInterval(killer);
    }
    expect(killed).toHaveLength(1);
    const warnings = logged.filter((l) => String(l.msg).includes('verify helper'));
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(warnings)).not.toMatch(/fill-|p[0-9]+"|林|AuditEvent/);
  });

  test.each<[string, number]>([
    ['in the first stretch', 0.2],
    ['on the border of two stretches', 1 / HELPERS],
    ['in the last stretch', 0.9],
  ])('an event edited %s is named, as one walk names it', async (_where, at) => {
    const head = await verifyChain(t.db);
    const seq = Math.floor(head.head.seq * at);
    const original = await t.db('audit_events').where({ seq }).first('resource');
    await t.db('audit_events').where({ seq }).update({ resource: original.resource.replace('"action":"E"', '"action":"R"') });
    try {
      const here = await verifyChain(t.db);
      expect(here.fault).toMatchObject({ seq, kind: 'edited' });
      const answer = await verify();
      expect(answer).toMatchObject({ valid: false, checked: here.checked, firstInvalid: here.fault!.id, problem: 'edited' });
    } finally {
      await t.db('audit_events').where({ seq }).update({ resource: original.resource });
    }
    expect(await verify()).toMatchObject({ valid: true });
  });
});
