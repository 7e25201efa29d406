import { createHmac, createPublicKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { accessTokenClaims, signAccessToken } from '../../../../gateway/auth/access-token';
import { importPrivateJwk, signJws, type AlgKey } from '../../../../gateway/auth/jws';
import { createJtiStore } from '../../../../gateway/auth/jti-store';
import { addSigningKey, retireSigningKey } from '../../../../gateway/auth/signing-keys';
import { keySourceOf } from '../../../../gateway/auth/key-source';
import { makeKeyFolder } from '../../../support/trust';
import type { Requester } from '../../../../gateway/context';
import { isOperationOutcomeError, type OperationOutcomeError } from '../../../../gateway/fhir/outcomes';
import type { AccessRequirement } from '../../../../gateway/auth/contract';
import { silentLogger } from '../../../../gateway/logger';
import { makeTestClient, signClientAssertion, tokenRequestForm, type TestClient } from '../../../support/auth';
import { openSqlite, testDatabases, type TestDb } from '../../../support/databases';
import { authInstance, bodyOf, postToken, TestClock, TOKEN_URL, BASE_URL, type AuthInstance } from '../../../support/auth-service-fixture';

const clinician = makeTestClient({ id: 'xm-zsh-his', hospital: 'xm-zsh', roles: ['clinician'] });
const registrar = makeTestClient({ id: 'zz-sy-reg', hospital: 'zz-sy', roles: ['registrar'] });
const auditor = makeTestClient({ id: 'audit-office', roles: ['auditor'] });
const CLIENTS = [clinician, registrar, auditor];
const DOCTOR = { id: 'D1029', name: '林医生' };

const assertionFor = (client: TestClient, opts: Partial<Parameters<typeof signClientAssertion>[1]> = {}) =>
  signClientAssertion(client, { aud: TOKEN_URL, user: DOCTOR, ...opts });

async function tokenFrom(instance: AuthInstance, client: TestClient, opts: Partial<Parameters<typeof signClientAssertion>[1]> = {}, scope?: string) {
  const { res } = await postToken(instance, tokenRequestForm(assertionFor(client, opts), scope));
  if (res.status !== 200) throw new Error(`token refused: ${JSON.stringify(res.body)}`);
  return bodyOf(res).access_token as string;
}

async function rejection(p: Promise<unknown>): Promise<OperationOutcomeError> {
  try {
    await p;
  } catch (e) {
    if (isOperationOutcomeError(e)) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

function gatewaySigningJwk() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: `cfg-${randomUUID().slice(0, 8)}`, alg: 'RS384' } as Record<string, unknown>;
}

describe.each(testDatabases())('AuthService on %s', (_name, open) => {
  let tdb: TestDb;
  const opened: AuthInstance[] = [];
  const instance = async (opts: Parameters<typeof authInstance>[2] = {}, clients = CLIENTS) => {
    const i = await authInstance(tdb, clients, opts);
    opened.push(i);
    return i;
  };
  beforeEach(async () => {
    tdb = await open();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((i) => i.close()));
    await tdb.close();
  });

  describe('signing keys', () => {
    it('generates one key on first start and a second instance reuses it', async () => {
      const a = await instance();
      const rows = await tdb.db('signing_keys').select('*');
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ alg: 'RS384', retired_at: null });
      expect(JSON.parse(rows[0].public_jwk)).not.toHaveProperty('d');
      const b = await instance({ secondConnection: true });
      expect(await tdb.db('signing_keys').count({ n: '*' })).toEqual([{ n: expect.anything() }]);
      expect(Number((await tdb.db('signing_keys').count({ n: '*' }))[0]!.n)).toBe(1);
      // a token from one instance is good at the other
      const token = await tokenFrom(a, clinician);
      expect((await b.auth.authenticate(`Bearer ${token}`)).clientId).toBe('xm-zsh-his');
    });

    it('is race-safe when several instances start together on an empty store', async () => {
      const instances = await Promise.all([0, 1, 2, 3].map((n) => instance({ secondConnection: n > 0 })));
      expect(Number((await tdb.db('signing_keys').count({ n: '*' }))[0]!.n)).toBe(1);
      const tokens = await Promise.all(instances.map((i) => tokenFrom(i, clinician)));
      const kids = new Set(tokens.map((t) => JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString()).kid));
      expect(kids.size).toBe(1);
      for (const i of instances) for (const t of tokens) await expect(i.auth.authenticate(`Bearer ${t}`)).resolves.toBeDefined();
    });

    it('signs with a configured key, publishes its public half, and others verify it', async () => {
      const dbKeyed = await instance();
      const jwk = gatewaySigningJwk();
      const configured = await instance({ signingKey: jwk, secondConnection: true });
      const row = await tdb.db('signing_keys').where({ kid: jwk.kid }).first();
      expect(row.private_jwk).toBeNull();
      const token = await tokenFrom(configured, clinician);
      expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toMatchObject({ kid: jwk.kid, alg: 'RS384', typ: 'at+jwt' });
      // the first instance never saw that kid: it re-reads the table and accepts
      expect((await dbKeyed.auth.authenticate(`Bearer ${token}`)).clientId).toBe('xm-zsh-his');
    });

    it('rotates: a new key signs after refresh, old tokens stay good until the old key is retired', async () => {
      // a key folder of this test's own: adding a key to the process's shared one would change every other test's signing key
      const keyDirectory = makeKeyFolder().directory;
      const a = await instance({ keyDirectory });
      const source = keySourceOf(a.config, silentLogger())!;
      const oldToken = await tokenFrom(a, clinician);
      const oldKid = (await tdb.db('signing_keys').first('kid')).kid;
      const newKid = await addSigningKey(tdb.db, source, new Date(Date.now() + 1000));
      // another instance started after the rotation signs with the new key at once
      const b = await instance({ keyDirectory, secondConnection: true });
      const newToken = await tokenFrom(b, clinician);
      expect(JSON.parse(Buffer.from(newToken.split('.')[0]!, 'base64url').toString()).kid).toBe(newKid);
      await expect(a.auth.authenticate(`Bearer ${newToken}`)).resolves.toBeDefined(); // unknown kid → re-read
      await expect(b.auth.authenticate(`Bearer ${oldToken}`)).resolves.toBeDefined();
      expect(await retireSigningKey(tdb.db, source, oldKid, new Date())).toBe(true);
      await b.auth.init(); // the periodic re-read, made now
      const e = await rejection(b.auth.authenticate(`Bearer ${oldToken}`));
      expect(e.status).toBe(401);
    });

    it('refuses an unusable configured key at start-up', async () => {
      const ec256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
      await expect(instance({ signingKey: { ...ec256, kid: 'ec256' } as Record<string, unknown> })).rejects.toThrow(/keys.directory/);
    });
  });

  describe('replay protection across instances', () => {
    it('refuses at a second instance on another connection an assertion the first accepted', async () => {
      const a = await instance();
      const b = await instance({ secondConnection: true });
      const assertion = assertionFor(clinician);
      expect((await postToken(a, tokenRequestForm(assertion))).res.status).toBe(200);
      const replay = await postToken(b, tokenRequestForm(assertion));
      expect(replay.res.status).toBe(401);
      expect(bodyOf(replay.res).error).toBe('invalid_client');
    });

    it('lets exactly one instance accept an assertion raced to both', async () => {
      const a = await instance();
      const b = await instance({ secondConnection: true });
      for (let round = 0; round < 5; round++) {
        const assertion = assertionFor(clinician);
        const results = await Promise.all([a, b, a, b].map((i) => postToken(i, tokenRequestForm(assertion))));
        expect(results.map((r) => r.res.status).sort()).toEqual([200, 401, 401, 401]);
      }
    });

    it('remembers across a restart', async () => {
      const assertion = assertionFor(clinician);
      const first = await instance();
      expect((await postToken(first, tokenRequestForm(assertion))).res.status).toBe(200);
      const restarted = await instance({ secondConnection: true });
      expect((await postToken(restarted, tokenRequestForm(assertion))).res.status).toBe(401);
    });

    it('prunes expired jtis and keeps live ones', async () => {
      let now = 0; // the store's own occasional prune runs at the first claim, when nothing has expired
      const store = createJtiStore({ db: tdb.db, log: silentLogger(), nowEpochSeconds: () => now });
      expect(await store.claim('c', 'old', 900)).toBe(true);
      expect(await store.claim('c', 'live', 1_100)).toBe(true);
      expect(await store.claim('c', 'live', 1_100)).toBe(false);
      now = 1_000;
      expect(await store.prune(now)).toBe(1);
      expect((await tdb.db('assertion_jtis').select('jti')).map((r) => r.jti)).toEqual(['live']);
    });
  });

  describe('authenticate (API side, API.md §3)', () => {
    let clock: TestClock;
    let gw: AuthInstance;
    let signingJwk: Record<string, unknown>;
    let gatewayKey: AlgKey;
    beforeEach(async () => {
      clock = new TestClock();
      signingJwk = gatewaySigningJwk();
      gatewayKey = importPrivateJwk(signingJwk);
      gw = await instance({ clock, signingKey: signingJwk });
    });

    const requester: Requester = {
      clientId: 'xm-zsh-his',
      hospitalId: 'xm-zsh',
      roles: ['clinician'],
      scopes: ['system/Patient.rs'],
      user: { id: 'D1029', roles: [] },
      purposeOfUse: 'TREAT',
    };
    const forged = (overrides: Record<string, unknown>, key: AlgKey = gatewayKey, header: Record<string, unknown> = { typ: 'at+jwt' }) => {
      const claims = { ...accessTokenClaims(requester, { issuer: BASE_URL, nowSeconds: Math.floor(clock.t / 1000), lifetimeSeconds: 300 }), ...overrides };
      return signJws(claims, key, header);
    };
    const hmacToken = (secret: string) => {
      const claims = accessTokenClaims(requester, { issuer: BASE_URL, nowSeconds: Math.floor(clock.t / 1000), lifetimeSeconds: 300 });
      const input = `${Buffer.from(JSON.stringify({ alg: 'HS384', typ: 'at+jwt', kid: gatewayKey.kid })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
      return `${input}.${createHmac('sha384', secret).update(input).digest('base64url')}`;
    };
    const otherKey = (): AlgKey => ({ kid: gatewayKey.kid, alg: 'RS384', key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey });

    it('accepts a token it issued and a token it signs itself with the same claims', async () => {
      const token = await tokenFrom(gw, clinician, { iat: Math.floor(clock.t / 1000) });
      await expect(gw.auth.authenticate(`Bearer ${token}`)).resolves.toMatchObject({ clientId: 'xm-zsh-his', user: { id: 'D1029' } });
      await expect(gw.auth.authenticate(`bearer ${forged({})}`)).resolves.toMatchObject({ clientId: 'xm-zsh-his' });
    });

    it.each<[string, () => string | undefined]>([
      ['no Authorization header', () => undefined],
      ['an empty header', () => ''],
      ['Basic credentials', () => 'Basic eG06eHg='],
      ['Bearer without a token', () => 'Bearer '],
      ['a garbage token', () => 'Bearer garbage'],
      ['a token with spaces', () => 'Bearer a b c'],
      ['three garbage parts', () => 'Bearer aaa.bbb.ccc'],
      ['a token signed by another key under our kid', () => `Bearer ${forged({}, otherKey())}`],
      ['a token under an unknown kid', () => `Bearer ${forged({}, { ...otherKey(), kid: 'unknown-kid' })}`],
      ['a wrong audience', () => `Bearer ${forged({ aud: 'https://other.example' })}`],
      ['an audience array', () => `Bearer ${forged({ aud: [BASE_URL] })}`],
      ['a wrong issuer', () => `Bearer ${forged({ iss: 'https://other.example' })}`],
      ['an expired token', () => `Bearer ${forged({ exp: Math.floor(clock.t / 1000) - 1 })}`],
      ['no exp', () => `Bearer ${forged({ exp: undefined })}`],
      ['alg none', () => `Bearer ${noneToken(forged({}))}`],
      ['HS384 keyed with our public key', () => `Bearer ${hmacToken(createPublicKey(gatewayKey.key).export({ format: 'pem', type: 'spki' }) as string)}`],
      ['a client assertion instead of an access token', () => `Bearer ${assertionFor(clinician)}`],
      ['no typ at+jwt', () => `Bearer ${forged({}, gatewayKey, {})}`],
      ['an unknown role', () => `Bearer ${forged({ roles: ['superuser'] })}`],
      ['a client no longer configured', () => `Bearer ${forged({ sub: 'removed-client', client_id: 'removed-client' })}`],
      ['an oversized token', () => `Bearer ${forged({ pad: 'x'.repeat(9000) })}`],
    ])('401 with WWW-Authenticate: Bearer for %s', async (_name, header) => {
      const e = await rejection(gw.auth.authenticate(header()));
      expect(e.status).toBe(401);
      expect(e.headers['WWW-Authenticate']).toMatch(/^Bearer /);
      expect(e.outcome.issue[0]).toMatchObject({ severity: 'error', code: 'login' });
    });

    it('401 once the token has outlived its lifetime', async () => {
      const token = await tokenFrom(gw, clinician, { iat: Math.floor(clock.t / 1000) });
      clock.advance(299);
      await expect(gw.auth.authenticate(`Bearer ${token}`)).resolves.toBeDefined();
      clock.advance(2);
      const e = await rejection(gw.auth.authenticate(`Bearer ${token}`));
      expect(e.status).toBe(401);
      expect(e.headers['WWW-Authenticate']).toContain('error="invalid_token"');
    });

    it('a token issued by another gateway (other key, same client ids) is refused', async () => {
      const otherDb = await open();
      try {
        const other = await authInstance(otherDb, CLIENTS, { signingKey: gatewaySigningJwk() });
        const token = await tokenFrom(other, clinician);
        const e = await rejection(gw.auth.authenticate(`Bearer ${token}`));
        expect(e.status).toBe(401);
      } finally {
        await otherDb.close();
      }
    });
  });
});

describe('authorize (403, API.md §3)', () => {
  let tdb: TestDb;
  let gw: AuthInstance;
  beforeAll(async () => {
    tdb = await openSqlite();
    gw = await authInstance(tdb, CLIENTS);
  });
  afterAll(() => tdb.close());

  const tokenAccess = (a: AccessRequirement): AccessRequirement => a;
  type Row = [string, AccessRequirement, { clinician: boolean; registrar: boolean; auditor: boolean; monitor: boolean }];
  const rows: Row[] = [
    ['any token', tokenAccess({}), { clinician: true, registrar: true, auditor: true, monitor: true }],
    ['Patient search', tokenAccess({ resource: 'Patient', permission: 's' }), { clinician: true, registrar: true, auditor: false, monitor: false }],
    ['DiagnosticReport read', tokenAccess({ resource: 'DiagnosticReport', permission: 'r' }), { clinician: true, registrar: false, auditor: false, monitor: false }],
    ['Observation search', tokenAccess({ resource: 'Observation', permission: 's' }), { clinician: true, registrar: false, auditor: false, monitor: false }],
    ['ImagingStudy search', tokenAccess({ resource: 'ImagingStudy', permission: 's' }), { clinician: true, registrar: false, auditor: false, monitor: false }],
    ['Organization read', tokenAccess({ resource: 'Organization', permission: 'r' }), { clinician: true, registrar: false, auditor: true, monitor: false }],
    ['Consent create', tokenAccess({ resource: 'Consent', permission: 'c' }), { clinician: false, registrar: true, auditor: false, monitor: false }],
    ['Consent update', tokenAccess({ resource: 'Consent', permission: 'u' }), { clinician: false, registrar: true, auditor: false, monitor: false }],
    ['AuditEvent search', tokenAccess({ resource: 'AuditEvent', permission: 's' }), { clinician: false, registrar: false, auditor: true, monitor: false }],
    ['AuditEvent create', tokenAccess({ resource: 'AuditEvent', permission: 'c' }), { clinician: false, registrar: false, auditor: false, monitor: false }],
    ['$recognition (clinician role + DiagnosticReport.s)', tokenAccess({ resource: 'DiagnosticReport', permission: 's', roles: ['clinician'] }), { clinician: true, registrar: false, auditor: false, monitor: false }],
    ['$recognition-stats (auditor role)', tokenAccess({ roles: ['auditor'] }), { clinician: false, registrar: false, auditor: true, monitor: false }],
    ['/metrics (auditor or monitor)', tokenAccess({ roles: ['auditor', 'monitor'] }), { clinician: false, registrar: false, auditor: true, monitor: true }],
  ];
  const requesters: Record<'clinician' | 'registrar' | 'auditor' | 'monitor', Requester> = {
    clinician: { clientId: 'c', hospitalId: 'xm-zsh', roles: ['clinician'], scopes: ['system/Patient.rs', 'system/DiagnosticReport.rs', 'system/Observation.rs', 'system/ImagingStudy.rs', 'system/Organization.rs'], purposeOfUse: 'TREAT' },
    registrar: { clientId: 'r', hospitalId: 'xm-zsh', roles: ['registrar'], scopes: ['system/Patient.rs', 'system/Consent.cruds'], purposeOfUse: 'TREAT' },
    auditor: { clientId: 'a', roles: ['auditor'], scopes: ['system/AuditEvent.rs', 'system/Organization.rs'], purposeOfUse: 'TREAT' },
    monitor: { clientId: 'm', roles: ['monitor'], scopes: [], purposeOfUse: 'TREAT' },
  };

  const table = rows.flatMap(([name, access, allowed]) =>
    (Object.keys(allowed) as Array<keyof typeof allowed>).map((role) => [name, role, access, allowed[role]] as const),
  );
  it.each(table)('%s as %s', async (_name, role, access, allowed) => {
    const run = () => gw.auth.authorize(requesters[role], access);
    if (allowed) expect(run).not.toThrow();
    else {
      let caught: unknown;
      try {
        run();
      } catch (e) {
        caught = e;
      }
      expect(isOperationOutcomeError(caught)).toBe(true);
      expect((caught as OperationOutcomeError).status).toBe(403);
      expect((caught as OperationOutcomeError).outcome.issue[0]!.code).toBe('forbidden');
    }
  });

  it('a valid token whose scope was narrowed at request time is refused what it left out', async () => {
    const token = await tokenFrom(gw, clinician, {}, 'system/Patient.rs');
    const r = await gw.auth.authenticate(`Bearer ${token}`);
    expect(() => gw.auth.authorize(r, tokenAccess({ resource: 'Patient', permission: 's' }))).not.toThrow();
    expect(() => gw.auth.authorize(r, tokenAccess({ resource: 'DiagnosticReport', permission: 's' }))).toThrow(expect.objectContaining({ status: 403 }));
  });
});

function noneToken(jwt: string): string {
  const [, p] = jwt.split('.');
  return `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${p}.`;
}
