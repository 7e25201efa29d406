import { sign } from 'node:crypto';
import request from 'supertest';
import { expectValidFhir } from '../../../support/fhir-validation';
import { makeTestClient, requestToken, signClientAssertion, tokenRequestForm, type TestClient } from '../../../support/auth';
import { testDatabases, type TestDb } from '../../../support/databases';
import { startGateway, TEST_BASE_URL, type StartedGateway } from '../../../support/gateway-harness';

/** Access control through the real app (API.md §3): discovery, token endpoint, 401 and 403. */

const TOKEN_URL = `${TEST_BASE_URL}/auth/token`;
const HOSPITAL = {
  id: 'xm-zsh',
  name: '厦门大学附属中山医院',
  city: '350200',
  grade: '3A',
  recognizedItems: [],
  timeoutMs: 300,
  adapter: { type: 'fhir', baseUrl: 'http://127.0.0.1:9/fhir' },
};
const clients = {
  clinician: makeTestClient({ id: 'xm-zsh-his', hospital: 'xm-zsh', roles: ['clinician'] }),
  registrar: makeTestClient({ id: 'xm-zsh-reg', hospital: 'xm-zsh', roles: ['registrar'] }),
  auditor: makeTestClient({ id: 'audit-office', roles: ['auditor'], alg: 'ES384' }),
  monitor: makeTestClient({ id: 'ops-monitor', roles: ['monitor'], alg: 'ES384' }),
};
type RoleName = keyof typeof clients;
const DOCTOR = { id: 'D1029', name: '林医生' };

describe.each(testDatabases())('access control over HTTP on %s', (_name, open) => {
  let tdb: TestDb;
  let gw: StartedGateway;
  const tokens = {} as Record<RoleName, string>;
  beforeAll(async () => {
    tdb = await open();
    gw = await startGateway({ db: tdb, clients: Object.values(clients), hospitals: [HOSPITAL], consentDefault: 'permit' });
    for (const role of Object.keys(clients) as RoleName[]) tokens[role] = await requestToken(gw.app, clients[role], { user: DOCTOR });
  });
  afterAll(async () => {
    await gw.close();
    await tdb.close();
  });

  it('GET /.well-known/smart-configuration needs no token and names the token endpoint', async () => {
    const res = await request(gw.app).get('/.well-known/smart-configuration').expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const base = TOKEN_URL.replace(/\/auth\/token$/, '');
    expect(res.body).toEqual({
      issuer: base,
      token_endpoint: TOKEN_URL,
      // people sign in to apps (docs/users.md): SMART App Launch, code + PKCE, refresh, revocation
      authorization_endpoint: `${base}/auth/authorize`,
      revocation_endpoint: `${base}/auth/revoke`,
      jwks_uri: `${base}/.well-known/jwks.json`,
      grant_types_supported: ['client_credentials', 'authorization_code', 'refresh_token'],
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['private_key_jwt', 'none'],
      token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
      scopes_supported: expect.arrayContaining(['system/Patient.rs', 'system/Consent.cruds', 'system/AuditEvent.rs', 'user/Patient.rs']),
      capabilities: ['client-confidential-asymmetric', 'launch-standalone', 'client-public', 'permission-v2'],
    });
  });

  describe('POST /auth/token', () => {
    it('answers 200 with plain JSON, no-store, and the token works', async () => {
      const assertion = signClientAssertion(clients.clinician, { aud: TOKEN_URL, user: DOCTOR, purposeOfUse: 'ETREAT' });
      const res = await request(gw.app).post('/auth/token').type('form').send(tokenRequestForm(assertion)).expect(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toMatchObject({ token_type: 'bearer', expires_in: 300, scope: expect.stringContaining('system/DiagnosticReport.rs') });
      await request(gw.app).get('/Organization').set('Authorization', `Bearer ${res.body.access_token}`).expect(200);
    });

    it.each<[string, () => Record<string, string>, number, string]>([
      ['wrong grant_type', () => ({ ...tokenRequestForm(signClientAssertion(clients.clinician, { aud: TOKEN_URL, user: DOCTOR })), grant_type: 'password' }), 400, 'unsupported_grant_type'],
      ['alg none', () => tokenRequestForm(signClientAssertion(clients.clinician, { aud: TOKEN_URL, user: DOCTOR, alg: 'none' })), 401, 'invalid_client'],
      ['another client’s key', () => tokenRequestForm(signClientAssertion(clients.clinician, { aud: TOKEN_URL, user: DOCTOR, key: clients.registrar.privateKey })), 401, 'invalid_client'],
      ['a scope beyond the roles', () => tokenRequestForm(signClientAssertion(clients.registrar, { aud: TOKEN_URL, user: DOCTOR }), 'system/Observation.rs'), 400, 'invalid_scope'],
    ])('refuses %s with an OAuth error, not an OperationOutcome', async (_n, form, status, error) => {
      const res = await request(gw.app).post('/auth/token').type('form').send(form());
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({ error, error_description: expect.any(String) });
    });

    it('refuses a replay sent to a second gateway instance on the same database', async () => {
      const second = await startGateway({ db: tdb, clients: Object.values(clients), hospitals: [HOSPITAL] });
      try {
        const form = tokenRequestForm(signClientAssertion(clients.clinician, { aud: TOKEN_URL, user: DOCTOR }));
        await request(gw.app).post('/auth/token').type('form').send(form).expect(200);
        const replay = await request(second.app).post('/auth/token').type('form').send(form).expect(401);
        expect(replay.body.error).toBe('invalid_client');
      } finally {
        await second.close();
      }
    });

    it('records refused token requests in the audit trail under the claimed client', async () => {
      const claimed = clients.registrar;
      const form = tokenRequestForm(signClientAssertion(claimed, { aud: TOKEN_URL, user: DOCTOR, key: clients.clinician.privateKey }));
      await request(gw.app).post('/auth/token').type('form').send(form).expect(401);
      const res = await request(gw.app)
        .get(`/AuditEvent?agent=${claimed.id}`)
        .set('Authorization', `Bearer ${tokens.auditor}`)
        .expect(200);
      expectValidFhir(res.body);
      const events = (res.body.entry ?? []).map((e: { resource: { outcome?: string; subtype?: Array<{ code?: string }> } }) => e.resource);
      expect(events.some((e: { outcome?: string }) => e.outcome !== '0')).toBe(true);
    });
  });

  describe('401 on the API', () => {
    it.each<[string, () => string | undefined]>([
      ['no token', () => undefined],
      ['a garbage token', () => 'Bearer not.a.token'],
      ['a Basic header', () => 'Basic eG06eHg='],
      ['a client assertion used as a token', () => `Bearer ${signClientAssertion(clients.clinician, { aud: TOKEN_URL, user: DOCTOR })}`],
      ['a token signed by another key', () => `Bearer ${forgeWithOtherKey(tokens.clinician, clients.registrar)}`],
      ['a token with another audience', () => `Bearer ${reclaim(tokens.clinician, { aud: 'https://other.example/fhir' })}`],
    ])('%s → 401 OperationOutcome login with WWW-Authenticate: Bearer', async (_n, header) => {
      const req = request(gw.app).get('/Organization');
      const h = header();
      if (h !== undefined) req.set('Authorization', h);
      const res = await req;
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue[0].code).toBe('login');
      expectValidFhir(res.body);
    });

    it('an expired token → 401', async () => {
      let now = Date.now();
      const clock = { now: () => new Date(now) };
      const timed = await startGateway({ db: tdb, clients: Object.values(clients), hospitals: [HOSPITAL], clock });
      try {
        const token = await requestToken(timed.app, clients.auditor, { user: DOCTOR });
        await request(timed.app).get('/Organization').set('Authorization', `Bearer ${token}`).expect(200);
        now += 301_000;
        const res = await request(timed.app).get('/Organization').set('Authorization', `Bearer ${token}`).expect(401);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
        expect(res.body.issue[0].code).toBe('login');
      } finally {
        await timed.close();
      }
    });
  });

  describe('role × endpoint (API.md §3–§8): 403 exactly where the role has no scope or role', () => {
    const NID = encodeURIComponent('urn:oid:2.16.156.10011.1.3|11010519491231002X');
    type Endpoint = [string, 'GET' | 'POST', string, RoleName[], unknown?];
    const endpoints: Endpoint[] = [
      ['Patient search', 'GET', `/Patient?identifier=${NID}`, ['clinician', 'registrar']],
      ['DiagnosticReport search', 'GET', '/DiagnosticReport?patient=unknown-patient', ['clinician']],
      ['Observation search', 'GET', '/Observation?patient=unknown-patient', ['clinician']],
      ['ImagingStudy search', 'GET', '/ImagingStudy?patient=unknown-patient', ['clinician']],
      ['Organization search', 'GET', '/Organization', ['clinician', 'auditor']],
      ['Consent search', 'GET', '/Consent?patient=unknown-patient', ['registrar']],
      ['Consent create', 'POST', '/Consent', ['registrar'], { resourceType: 'Consent', status: 'active' }],
      ['AuditEvent search', 'GET', '/AuditEvent', ['auditor']],
      ['AuditEvent $verify', 'GET', '/AuditEvent/$verify', ['auditor']],
      ['AuditEvent $checkpoints', 'GET', '/AuditEvent/$checkpoints', ['auditor']],
      ['metrics', 'GET', '/metrics', ['auditor', 'monitor']],
      ['$recognition', 'GET', '/Patient/unknown-patient/$recognition?item=CBC', ['clinician']],
      ['$recognition-stats', 'GET', '/$recognition-stats', ['auditor']],
    ];
    const table = endpoints.flatMap(([name, method, path, allowed, body]) =>
      (Object.keys(clients) as RoleName[]).map((role) => [name, role, method, path, allowed.includes(role), body] as const),
    );

    it.each(table)('%s as %s', async (_name, role, method, path, allowed, body) => {
      let req = method === 'GET' ? request(gw.app).get(path) : request(gw.app).post(path);
      req = req.set('Authorization', `Bearer ${tokens[role]}`);
      if (body !== undefined) req = req.set('Content-Type', 'application/fhir+json').send(JSON.stringify(body));
      const res = await req;
      expect(res.status).not.toBe(401);
      if (allowed) {
        expect(res.status).not.toBe(403);
      } else {
        expect(res.status).toBe(403);
        expect(res.body.resourceType).toBe('OperationOutcome');
        expect(res.body.issue[0].code).toBe('forbidden');
        expectValidFhir(res.body);
      }
    });
  });
});

/** Re-sign a token's header and claims with another (client's) key, keeping the gateway's kid. */
function forgeWithOtherKey(token: string, other: TestClient): string {
  const [h, p] = token.split('.') as [string, string, string];
  // the registrar's key is RSA 2048 like the gateway's, so the RS384 header stays truthful
  const sig = sign('sha384', Buffer.from(`${h}.${p}`), other.privateKey);
  return `${h}.${p}.${sig.toString('base64url')}`;
}

/** Change claims without re-signing (the signature then no longer matches, as for any edit). */
function reclaim(token: string, claims: Record<string, unknown>): string {
  const [h, p, s] = token.split('.') as [string, string, string];
  const payload = { ...JSON.parse(Buffer.from(p, 'base64url').toString()), ...claims };
  return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
}
