import type { AuditEvent, Bundle, DiagnosticReport } from '@medplum/fhirtypes';
import request from 'supertest';
import { DEMO_PASSWORD } from '../../../../fixtures/demo/demo-users';
import { hashPassword } from '../../../../gateway/auth/passwords';
import { createUserStore } from '../../../../gateway/auth/user-store';
import { testDatabases, type TestDb } from '../../../support/databases';
import { DEMO_ANCHOR, startDemoNetwork, type DemoNetwork } from '../../../support/demo-network';
import { expectValidFhir } from '../../../support/fhir-validation';
import {
  authorizeParams,
  CONSOLE_ID,
  exchangeCode,
  hiddenFields,
  newPkce,
  refresh,
  revoke,
  signedIn,
  signIn,
  signInCookie,
} from '../../../support/sign-in';

/**
 * People sign in (issue #15, docs/users.md): SMART App Launch's authorization code with PKCE for the
 * console, against the real demo network with its seeded users. A person's token must be a HIS
 * token for that person in every way consent and audit can see; every fault of the sign-in, the
 * code exchange and the session ends in an error page or OAuth JSON, never in a session.
 */

/** 陈建国: full consent, results in all three cities */
const CHEN_NID = '350203196203151595';
/** 李娜: no consent (default deny): refused with 403, break-glass passes */
const LI_NA_NID = '350505198812038529';
const byNid = (nid: string) => `/DiagnosticReport?patient.identifier=urn:oid:2.16.156.10011.1.3|${nid}&_count=50`;

describe.each(testDatabases())('user sign-in on %s', (_name, open) => {
  let db: TestDb;
  let net: DemoNetwork;
  let base: string;
  let now = DEMO_ANCHOR.getTime();
  const advance = (ms: number) => (now += ms);

  beforeAll(async () => {
    db = await open();
    net = await startDemoNetwork({ db, clock: { now: () => new Date(now) } });
    base = net.config.publicBaseUrl;
  });
  afterAll(async () => {
    await net?.close();
    await db?.close();
  });

  const audit = (res: request.Response) => db.db('audit_events').where({ request_id: res.headers['x-request-id'] }).select('*');
  const events = async (res: request.Response): Promise<AuditEvent[]> => (await audit(res)).map((r) => JSON.parse(r.resource) as AuditEvent);
  const detail = (e: AuditEvent, type: string) => e.entity?.flatMap((x) => x.detail ?? []).find((d) => d.type === type)?.valueString;
  const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

  test('smart-configuration advertises the authorization, token and revocation endpoints with PKCE S256', async () => {
    const res = await request(net.app).get('/.well-known/smart-configuration');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      authorization_endpoint: `${base}/auth/authorize`,
      token_endpoint: `${base}/auth/token`,
      revocation_endpoint: `${base}/auth/revoke`,
      code_challenge_methods_supported: ['S256'],
      response_types_supported: ['code'],
    });
    expect(res.body.grant_types_supported).toEqual(expect.arrayContaining(['client_credentials', 'authorization_code', 'refresh_token']));
    expect(res.body.capabilities).toEqual(expect.arrayContaining(['launch-standalone', 'client-public', 'permission-v2']));
    expect(res.body.scopes_supported).toEqual(expect.arrayContaining(['user/DiagnosticReport.rs', 'system/DiagnosticReport.rs']));
  });

  test('the sign-in page: escaped hidden fields, an HttpOnly SameSite=Strict cookie, a strict CSP, no script', async () => {
    const params = authorizeParams(base, newPkce(), { state: '"><script>alert(1)</script>' });
    const res = await request(net.app).get('/auth/authorize').query(params);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('<html lang="zh-CN">');
    expect(res.text).toContain('用户名');
    expect(res.text).not.toMatch(/<script/i);
    expect(hiddenFields(res.text).state).toBe(params.state);
    const csp = res.headers['content-security-policy'] as string;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('script-src');
    expect(csp).not.toContain('unsafe-inline');
    const cookie = ([] as string[]).concat(res.headers['set-cookie']).find((c) => c.startsWith('xzq_signin='))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(res.headers['cache-control']).toContain('no-store');
    const en = await request(net.app).get('/auth/authorize').query({ ...params, ui_locales: 'en' });
    expect(en.text).toContain('User name');
  });

  test('a clinician signs in, reads results as their hospital would, refreshes, and signs out', async () => {
    const pkce = newPkce();
    const params = authorizeParams(base, pkce);
    const r = await signIn(net.app, params, 'xm-zsh-doctor', DEMO_PASSWORD);
    expect(r.res.status).toBe(303);
    expect(r.res.headers.location.startsWith(`${base}/console/?`)).toBe(true);
    expect(r.state).toBe(params.state);
    expect(r.code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // the sign-in is audited as a DICOM Login naming the person and their hospital
    const [login] = await events(r.res);
    expectValidFhir(login!);
    expect(login!.type).toEqual({ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110114' });
    expect(login!.subtype).toEqual([{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110122' }]);
    expect(login!.outcome).toBe('0');
    expect(JSON.stringify(login!.agent)).toContain('D1029');
    expect(JSON.stringify(login!.agent)).toContain('Organization/xm-zsh');
    expect(detail(login!, 'signIn')).toBe('success');

    const t = await exchangeCode(net.app, base, r.code!, pkce.verifier);
    expect(t.status).toBe(200);
    expect(t.headers['cache-control']).toContain('no-store');
    expect(t.body).toMatchObject({ token_type: 'bearer', expires_in: 300 });
    expect(t.body.user).toEqual({ username: 'xm-zsh-doctor', name: '林医生', staffId: 'D1029', hospital: 'xm-zsh', hospitalName: '厦门大学附属中山医院', roles: ['clinician'] });
    expect(t.body.scope.split(' ')).toEqual(expect.arrayContaining(['user/DiagnosticReport.rs', 'user/Patient.rs']));
    expect(t.body.refresh_token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    // the token names the person as an IUA token does
    const claims = JSON.parse(Buffer.from(t.body.access_token.split('.')[1], 'base64url').toString());
    expect(claims).toMatchObject({ client_id: CONSOLE_ID, sub: 'xm-zsh-doctor', hospital: 'xm-zsh', roles: ['clinician'] });
    expect(claims.extensions.ihe_iua).toMatchObject({ subject_id: 'D1029', subject_name: '林医生', purpose_of_use: [{ code: 'TREAT' }] });
    expect(typeof claims.sid).toBe('string');

    const search = await request(net.app).get(byNid(CHEN_NID)).set(bearer(t.body.access_token));
    expect(search.status).toBe(200);
    const reports = (search.body as Bundle).entry!.map((e) => e.resource!).filter((x): x is DiagnosticReport => x.resourceType === 'DiagnosticReport');
    expect(reports.length).toBeGreaterThan(3);
    const [read] = await events(search);
    expect(read!.agent.find((a) => a.requestor)?.who?.identifier?.value).toBe('D1029');
    expect(detail(read!, 'username')).toBe('xm-zsh-doctor');
    // the same answer a HIS token of the same hospital gets
    const his = await request(net.app).get(byNid(CHEN_NID)).set(bearer(await net.token('xm-zsh-his')));
    expect((his.body as Bundle).total).toBe((search.body as Bundle).total);

    // a refresh rotates: the new pair works, the old refresh token is spent
    advance(60_000);
    const r2 = await refresh(net.app, t.body.refresh_token);
    expect(r2.status).toBe(200);
    expect(r2.body.refresh_token).not.toBe(t.body.refresh_token);
    expect((await request(net.app).get(byNid(CHEN_NID)).set(bearer(r2.body.access_token))).status).toBe(200);

    // sign-out ends the session: both access tokens stop working at the next request
    const out = await revoke(net.app, r2.body.refresh_token);
    expect(out.status).toBe(200);
    const [logout] = await events(out);
    expectValidFhir(logout!);
    expect(logout!.subtype).toEqual([{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110123' }]);
    expect(JSON.stringify(logout!.agent)).toContain('D1029');
    for (const token of [t.body.access_token, r2.body.access_token]) {
      const after = await request(net.app).get(byNid(CHEN_NID)).set(bearer(token));
      expect(after.status).toBe(401);
      expect(after.body.resourceType).toBe('OperationOutcome');
      expect(after.headers['www-authenticate']).toContain('session ended');
    }
    expect((await refresh(net.app, r2.body.refresh_token)).body.error).toBe('invalid_grant');
    // revocation answers the same for an unknown token (RFC 7009 §2.2)
    expect((await revoke(net.app, 'not-a-token')).status).toBe(200);
  });

  test('a reused refresh token ends the session for both holders', async () => {
    const t = await signedIn(net.app, base, 'qz-fey-doctor', DEMO_PASSWORD);
    const r2 = await refresh(net.app, t.refresh_token);
    expect(r2.status).toBe(200);
    const replay = await refresh(net.app, t.refresh_token);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    expect((await refresh(net.app, r2.body.refresh_token)).body.error).toBe('invalid_grant');
    expect((await request(net.app).get(byNid(CHEN_NID)).set(bearer(r2.body.access_token))).status).toBe(401);
  });

  test('break-glass: a refresh with ETREAT and a typed reason; the audit record names the reason', async () => {
    const t = await signedIn(net.app, base, 'xm-dyyy-doctor', DEMO_PASSWORD);
    const reportsOf = (res: request.Response) => ((res.body as Bundle).entry ?? []).filter((e) => e.resource?.resourceType === 'DiagnosticReport');
    // no consent: refused, as for the hospital's HIS (fixtures/generator/people.ts: 李娜)
    const denied = await request(net.app).get(byNid(LI_NA_NID)).set(bearer(t.access_token));
    expect(denied.status).toBe(403);
    expect(denied.body.resourceType).toBe('OperationOutcome');

    // refused break-glass requests leave the session as it was: the same refresh token still works
    expect((await refresh(net.app, t.refresh_token, { purpose_of_use: 'ETREAT' })).body.error).toBe('invalid_request');
    expect((await refresh(net.app, t.refresh_token, { purpose_of_use: 'ETREAT', break_glass_reason: '急' })).body.error).toBe('invalid_request');
    expect((await refresh(net.app, t.refresh_token, { purpose_of_use: 'POPHLTH', break_glass_reason: '急诊抢救' })).body.error).toBe('invalid_request');
    const reason = '急诊抢救，患者昏迷，无法取得同意';
    const bg = await refresh(net.app, t.refresh_token, { purpose_of_use: 'ETREAT', break_glass_reason: reason });
    expect(bg.status).toBe(200);
    const claims = JSON.parse(Buffer.from(bg.body.access_token.split('.')[1], 'base64url').toString());
    expect(claims.extensions.ihe_iua.purpose_of_use[0].code).toBe('ETREAT');
    expect(claims.extensions.xzq_break_glass).toEqual({ reason });

    const glass = await request(net.app).get(byNid(LI_NA_NID)).set(bearer(bg.body.access_token));
    expect(glass.status).toBe(200);
    expect(reportsOf(glass).length).toBeGreaterThan(0);
    const evs = await events(glass);
    expect(evs.length).toBeGreaterThan(0);
    for (const e of evs) {
      expectValidFhir(e);
      expect(e.purposeOfEvent?.find((p) => p.coding?.[0]?.code === 'ETREAT')?.text).toBe(reason);
      expect(detail(e, 'breakGlassReason')).toBe(reason);
      expect(detail(e, 'breakGlass')).toBe('true');
    }
    // the next plain refresh is back to TREAT
    const back = await refresh(net.app, bg.body.refresh_token);
    expect(JSON.parse(Buffer.from(back.body.access_token.split('.')[1], 'base64url').toString()).extensions.ihe_iua.purpose_of_use[0].code).toBe('TREAT');
  });

  test('failed sign-ins: the same message for an unknown user and a wrong password, audited with the name tried', async () => {
    const params = authorizeParams(base, newPkce());
    const unknown = await signIn(net.app, params, 'no-such-user', 'whatever-password');
    const wrong = await signIn(net.app, params, 'zz-syy-doctor', 'wrong-password');
    for (const r of [unknown, wrong]) {
      expect(r.res.status).toBe(401);
      expect(r.res.headers.location).toBeUndefined();
      expect(r.res.text).toContain('role="alert"');
      expect(r.res.text).toContain('用户名或密码错误');
    }
    const [e1] = await events(unknown.res);
    const [e2] = await events(wrong.res);
    expectValidFhir(e1!);
    expect(e1!.outcome).toBe('4');
    expect(detail(e1!, 'signIn')).toBe('unknown-user');
    expect(detail(e2!, 'signIn')).toBe('wrong-password');
    expect(JSON.stringify(e2!.agent)).toContain('zz-syy-doctor (claimed, not authenticated)');
  });

  test('repeated failures lock the account; the lock holds against the right password until it expires', async () => {
    const params = authorizeParams(base, newPkce());
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await signIn(net.app, params, 'zz-zyy-doctor', `wrong-${i}-password`));
    expect(results.slice(0, 4).every((r) => r.res.status === 401)).toBe(true);
    expect(results[4]!.res.status).toBe(403);
    expect(results[4]!.res.text).toContain('账户已锁定');
    expect(detail((await events(results[4]!.res))[0]!, 'signIn')).toBe('locked-now');
    const right = await signIn(net.app, params, 'zz-zyy-doctor', DEMO_PASSWORD);
    expect(right.res.status).toBe(403);
    expect(right.code).toBeUndefined();
    expect(detail((await events(right.res))[0]!, 'signIn')).toBe('locked');
    // operators see guessing in the metrics
    const metrics = await request(net.app).get('/metrics').set(bearer(await net.token('ops-monitor')));
    expect(metrics.text).toMatch(/xzq_sign_ins_total\{result="locked-now"\} 1/);
    expect(metrics.text).toMatch(/xzq_sign_ins_total\{result="wrong-password"\} [1-9]/);
    advance(16 * 60_000);
    const later = await signIn(net.app, authorizeParams(base, newPkce()), 'zz-zyy-doctor', DEMO_PASSWORD);
    expect(later.res.status).toBe(303);
    expect(later.code).toBeDefined();
  });

  test('a disabled account cannot sign in, and disabling ends its open sessions', async () => {
    const users = createUserStore(db.db);
    await users.create({ username: 'temp-doctor', displayName: '临时医生', staffId: 'T9001', hospital: 'xm-zsh', roles: ['clinician'], passwordHash: await hashPassword('temp-password-1') }, new Date(now));
    const t = await signedIn(net.app, base, 'temp-doctor', 'temp-password-1');
    expect((await request(net.app).get(byNid(CHEN_NID)).set(bearer(t.access_token))).status).toBe(200);
    await users.setDisabled('temp-doctor', true, new Date(now));
    expect((await request(net.app).get(byNid(CHEN_NID)).set(bearer(t.access_token))).status).toBe(401);
    expect((await refresh(net.app, t.refresh_token)).body.error).toBe('invalid_grant');
    const again = await signIn(net.app, authorizeParams(base, newPkce()), 'temp-doctor', 'temp-password-1');
    expect(again.res.status).toBe(403);
    expect(again.res.text).toContain('账户已停用');
  });

  test('login CSRF: no cookie, a wrong value or a foreign Origin → the form again, no code', async () => {
    const params = authorizeParams(base, newPkce());
    const page = await request(net.app).get('/auth/authorize').query(params);
    const fields = hiddenFields(page.text);
    const cookie = signInCookie(page)!;
    const attempts = [
      request(net.app).post('/auth/authorize').type('form').send({ ...fields, username: 'xm-zsh-doctor', password: DEMO_PASSWORD }),
      request(net.app).post('/auth/authorize').type('form').set('Cookie', cookie).send({ ...fields, csrf: 'x'.repeat(43), username: 'xm-zsh-doctor', password: DEMO_PASSWORD }),
      request(net.app).post('/auth/authorize').type('form').set('Cookie', cookie).set('Origin', 'https://evil.example').send({ ...fields, username: 'xm-zsh-doctor', password: DEMO_PASSWORD }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(403);
      expect(res.headers.location).toBeUndefined();
      expect(res.text).toContain('登录页已失效');
      expect(detail((await events(res))[0]!, 'signIn')).toBe('csrf');
    }
  });

  test.each<[string, (base: string) => Record<string, string>]>([
    ['an unknown client', (b) => authorizeParams(b, newPkce(), { client_id: 'evil-app' })],
    ['no redirect_uri', (b) => { const p = authorizeParams(b, newPkce()); delete p.redirect_uri; return p; }],
    ['a foreign redirect_uri', (b) => authorizeParams(b, newPkce(), { redirect_uri: 'https://evil.example/console/' })],
    ['a redirect_uri with a path after it', (b) => authorizeParams(b, newPkce(), { redirect_uri: `${b}/console/../evil` })],
    ['a redirect_uri with a query', (b) => authorizeParams(b, newPkce(), { redirect_uri: `${b}/console/?next=https://evil.example` })],
    ['a redirect_uri with userinfo', (b) => authorizeParams(b, newPkce(), { redirect_uri: `${b.replace('://', '://evil.example@')}/console/` })],
    ['a protocol-relative redirect_uri', () => authorizeParams('http://x', newPkce(), { redirect_uri: '//evil.example/console/' })],
    ['no state', (b) => { const p = authorizeParams(b, newPkce()); delete p.state; return p; }],
  ])('%s → an error page, never a redirect', async (_what, make) => {
    const res = await request(net.app).get('/auth/authorize').query(make(base));
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.text).toContain('role="alert"');
    expect(res.text).not.toMatch(/<form/);
  });

  test('a repeated parameter → an error page', async () => {
    const p = authorizeParams(base, newPkce());
    const qs = `${new URLSearchParams(p).toString()}&redirect_uri=${encodeURIComponent('https://evil.example/')}`;
    const res = await request(net.app).get(`/auth/authorize?${qs}`);
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
  });

  test.each<[string, Record<string, string | undefined>, string]>([
    ['response_type token', { response_type: 'token' }, 'unsupported_response_type'],
    ['no code_challenge', { code_challenge: undefined }, 'invalid_request'],
    ['a plain PKCE method', { code_challenge_method: 'plain' }, 'invalid_request'],
    ['a malformed code_challenge', { code_challenge: 'short' }, 'invalid_request'],
    ['another aud', { aud: 'https://other-fhir.example/fhir' }, 'invalid_request'],
    ['a system scope', { scope: 'system/Patient.rs' }, 'invalid_scope'],
  ])('%s → back to the app with error=%s and its state', async (_what, over, error) => {
    const p = authorizeParams(base, newPkce(), over as Record<string, string>);
    for (const [k, v] of Object.entries(over)) if (v === undefined) delete p[k];
    const res = await request(net.app).get('/auth/authorize').query(p);
    expect(res.status).toBe(303);
    const url = new URL(res.headers.location);
    expect(`${url.origin}${url.pathname}`).toBe(`${base}/console/`);
    expect(url.searchParams.get('error')).toBe(error);
    expect(url.searchParams.get('state')).toBe(p.state);
    expect(url.searchParams.get('code')).toBeNull();
  });

  test('a scope beyond the person\'s roles → invalid_scope back to the app after sign-in', async () => {
    const r = await signIn(net.app, authorizeParams(base, newPkce(), { scope: 'openid fhirUser user/AuditEvent.rs' }), 'xm-zyy-doctor', DEMO_PASSWORD);
    expect(r.error).toBe('invalid_scope');
    expect(r.code).toBeUndefined();
  });

  describe('the code exchange', () => {
    const fresh = async () => {
      const pkce = newPkce();
      const r = await signIn(net.app, authorizeParams(base, pkce), 'qz-dyyy-doctor', DEMO_PASSWORD);
      expect(r.code).toBeDefined();
      return { code: r.code!, verifier: pkce.verifier };
    };

    test('a wrong code_verifier → invalid_grant, and the code is spent', async () => {
      const { code, verifier } = await fresh();
      const wrong = await exchangeCode(net.app, base, code, newPkce().verifier);
      expect(wrong.status).toBe(400);
      expect(wrong.body.error).toBe('invalid_grant');
      expect(wrong.body.access_token).toBeUndefined();
      expect((await exchangeCode(net.app, base, code, verifier)).body.error).toBe('invalid_grant');
    });

    test('a replayed code → invalid_grant, and the session it gave ends', async () => {
      const { code, verifier } = await fresh();
      const first = await exchangeCode(net.app, base, code, verifier);
      expect(first.status).toBe(200);
      const replay = await exchangeCode(net.app, base, code, verifier);
      expect(replay.body.error).toBe('invalid_grant');
      expect((await request(net.app).get(byNid(CHEN_NID)).set(bearer(first.body.access_token))).status).toBe(401);
    });

    test.each<[string, (c: { code: string; verifier: string }) => Record<string, string>, number, string]>([
      ['another redirect_uri', () => ({ redirect_uri: `${'http://127.0.0.1:9'}/console/` }), 400, 'invalid_grant'],
      ['an unknown client', () => ({ client_id: 'evil-app' }), 401, 'invalid_client'],
      ['a HIS client id', () => ({ client_id: 'xm-zsh-his' }), 401, 'invalid_client'],
      ['no code_verifier', () => ({ code_verifier: '' }), 400, 'invalid_request'],
      ['a malformed code_verifier', () => ({ code_verifier: 'too short' }), 400, 'invalid_request'],
      ['a made-up code', () => ({ code: 'A'.repeat(43) }), 400, 'invalid_grant'],
      ['break-glass at the exchange', () => ({ purpose_of_use: 'ETREAT' }), 400, 'invalid_request'],
    ])('%s', async (_what, over, status, error) => {
      const c = await fresh();
      const form = over(c);
      const res = await exchangeCode(net.app, base, form.code ?? c.code, form.code_verifier ?? c.verifier, form);
      expect(res.status).toBe(status);
      expect(res.body.error).toBe(error);
      expect(res.body.access_token).toBeUndefined();
    });

    test('a code older than 60 s → invalid_grant', async () => {
      const { code, verifier } = await fresh();
      advance(61_000);
      expect((await exchangeCode(net.app, base, code, verifier)).body.error).toBe('invalid_grant');
    });
  });

  test('a session idle for longer than 30 minutes has ended', async () => {
    const t = await signedIn(net.app, base, 'zz-lhq-doctor', DEMO_PASSWORD);
    advance(31 * 60_000);
    const r = await refresh(net.app, t.refresh_token);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_grant');
    expect((await request(net.app).get(byNid(CHEN_NID)).set(bearer(t.access_token))).status).toBe(401);
  });

  test('an auditor signs in with purpose HOPERAT and reaches the audit trail, not results', async () => {
    const t = await signedIn(net.app, base, 'auditor', DEMO_PASSWORD);
    expect(t.user.roles).toEqual(['auditor']);
    const claims = JSON.parse(Buffer.from(t.access_token.split('.')[1]!, 'base64url').toString());
    expect(claims.extensions.ihe_iua.purpose_of_use[0].code).toBe('HOPERAT');
    expect((await request(net.app).get('/AuditEvent?_count=5').set(bearer(t.access_token))).status).toBe(200);
    expect((await request(net.app).get(byNid(CHEN_NID)).set(bearer(t.access_token))).status).toBe(403);
    expect((await refresh(net.app, t.refresh_token, { purpose_of_use: 'ETREAT', break_glass_reason: '抢救病人' })).body.error).toBe('invalid_scope');
  });
});
