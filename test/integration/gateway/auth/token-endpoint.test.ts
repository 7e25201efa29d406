import { createPublicKey } from 'node:crypto';
import { decodeJws } from '../../../../gateway/auth/jws';
import { ROLE_SCOPES } from '../../../../gateway/auth/scopes';
import { makeTestClient, signClientAssertion, tokenRequestForm, CLIENT_ASSERTION_TYPE, type TestClient } from '../../../support/auth';
import { testDatabases, type TestDb } from '../../../support/databases';
import { authInstance, bodyOf, postToken, TOKEN_URL, BASE_URL, type AuthInstance } from '../../../support/auth-service-fixture';

/** POST /auth/token (API.md §3) with real signed assertions, on every test database. */

const clinician = makeTestClient({ id: 'xm-zsh-his', hospital: 'xm-zsh', roles: ['clinician', 'registrar'] });
const registrar = makeTestClient({ id: 'zz-sy-reg', hospital: 'zz-sy', roles: ['registrar'] });
const auditor = makeTestClient({ id: 'audit-office', roles: ['auditor'], alg: 'ES384' });
const monitor = makeTestClient({ id: 'prometheus', roles: ['monitor'] });
const stranger = makeTestClient({ id: 'stranger', hospital: 'xm-zsh', roles: ['clinician'] }); // not configured
const DOCTOR = { id: 'D1029', name: '林医生', role: { system: 'urn:oid:2.16.156.10011.2.3.3.11', code: 'physician' } };

const assertion = (client: TestClient, opts: Partial<Parameters<typeof signClientAssertion>[1]> = {}) =>
  signClientAssertion(client, { aud: TOKEN_URL, user: DOCTOR, ...opts });

describe.each(testDatabases())('POST /auth/token on %s', (_name, open) => {
  let tdb: TestDb;
  let gw: AuthInstance;
  beforeAll(async () => {
    tdb = await open();
    gw = await authInstance(tdb, [clinician, registrar, auditor, monitor]);
  });
  afterAll(async () => {
    await gw.close();
    await tdb.close();
  });

  describe('issues a token', () => {
    it('with every scope of the roles, the hospital, the user and TREAT by default', async () => {
      const { res, req } = await postToken(gw, tokenRequestForm(assertion(clinician)));
      expect(res.status).toBe(200);
      expect(res.contentType).toBe('application/json');
      expect(res.headers).toMatchObject({ 'Cache-Control': 'no-store' });
      const body = bodyOf(res);
      expect(body).toEqual({
        access_token: expect.any(String),
        token_type: 'bearer',
        expires_in: 300,
        scope: [...ROLE_SCOPES.clinician, 'system/Consent.cruds'].join(' '),
      });
      const claims = decodeJws(body.access_token as string)!.payload;
      expect(claims).toMatchObject({
        iss: BASE_URL,
        aud: BASE_URL,
        sub: 'xm-zsh-his',
        hospital: 'xm-zsh',
        roles: ['clinician', 'registrar'],
        scope: body.scope,
        extensions: {
          ihe_iua: {
            subject_id: 'D1029',
            subject_name: '林医生',
            subject_role: [DOCTOR.role],
            purpose_of_use: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT' }],
          },
        },
      });
      expect((claims.exp as number) - (claims.iat as number)).toBeLessThanOrEqual(300);
      expect(typeof claims.jti).toBe('string');
      // the dispatcher hands this to the audit writer
      expect(req.requester).toEqual({
        clientId: 'xm-zsh-his',
        hospitalId: 'xm-zsh',
        roles: ['clinician', 'registrar'],
        scopes: (body.scope as string).split(' '),
        user: { id: 'D1029', name: '林医生', roles: [DOCTOR.role] },
        purposeOfUse: 'TREAT',
        tokenId: claims.jti,
      });
      // and the token authenticates, giving back the same person
      expect(await gw.auth.authenticate(`Bearer ${body.access_token}`)).toEqual(req.requester);
    });

    it.each(['ETREAT', 'BTG'])('carries break-glass purpose %s for a clinician', async (purpose) => {
      const { res, req } = await postToken(gw, tokenRequestForm(assertion(clinician, { purposeOfUse: purpose })));
      expect(res.status).toBe(200);
      expect(req.requester?.purposeOfUse).toBe(purpose);
      const requester = await gw.auth.authenticate(`Bearer ${bodyOf(res).access_token}`);
      expect(requester.purposeOfUse).toBe(purpose);
      expect(requester.user?.id).toBe('D1029');
    });

    it('grants exactly the scopes asked for when within the roles', async () => {
      const { res } = await postToken(gw, tokenRequestForm(assertion(clinician), 'system/Patient.r system/Observation.rs'));
      expect(bodyOf(res).scope).toBe('system/Patient.r system/Observation.rs');
      const requester = await gw.auth.authenticate(`Bearer ${bodyOf(res).access_token}`);
      expect(requester.scopes).toEqual(['system/Patient.r', 'system/Observation.rs']);
    });

    it('accepts an ES384 client (auditor) and grants its roles’ scopes', async () => {
      const { res, req } = await postToken(gw, tokenRequestForm(assertion(auditor, { user: { id: 'A7' } })));
      expect(res.status).toBe(200);
      expect(bodyOf(res).scope).toBe('system/AuditEvent.rs system/Organization.rs');
      expect(req.requester?.hospitalId).toBeUndefined();
    });

    it('gives a monitor an empty scope and needs no user', async () => {
      const { res, req } = await postToken(gw, tokenRequestForm(assertion(monitor, { user: undefined })));
      expect(res.status).toBe(200);
      expect(bodyOf(res).scope).toBe('');
      expect(req.requester).toMatchObject({ clientId: 'prometheus', roles: ['monitor'], scopes: [] });
    });

    it('accepts a matching client_id parameter', async () => {
      const { res } = await postToken(gw, { ...tokenRequestForm(assertion(clinician)), client_id: 'xm-zsh-his' });
      expect(res.status).toBe(200);
    });
  });

  describe('refuses', () => {
    const now = () => Math.floor(Date.now() / 1000);
    const clinicianPublicPem = () => createPublicKey(clinician.privateKey).export({ format: 'pem', type: 'spki' }) as string;

    type Case = [string, () => Record<string, unknown>, number, string];
    const cases: Case[] = [
      // the form
      ['an empty body', () => ({}), 400, 'invalid_request'],
      ['a body that is not a form', () => 'grant_type=client_credentials' as unknown as Record<string, unknown>, 400, 'invalid_request'],
      ['no grant_type', () => ({ ...tokenRequestForm(assertion(clinician)), grant_type: undefined }), 400, 'invalid_request'],
      // the grants of people signed in to an app (docs/users.md; tested in user-sign-in.test.ts) need their own parameters
      ['grant_type authorization_code with an assertion and no code', () => ({ ...tokenRequestForm(assertion(clinician)), grant_type: 'authorization_code' }), 400, 'invalid_request'],
      ['grant_type refresh_token with an assertion and no refresh token', () => ({ ...tokenRequestForm(assertion(clinician)), grant_type: 'refresh_token' }), 400, 'invalid_request'],
      ['grant_type password', () => ({ ...tokenRequestForm(assertion(clinician)), grant_type: 'password' }), 400, 'unsupported_grant_type'],
      ['no client_assertion_type', () => ({ ...tokenRequestForm(assertion(clinician)), client_assertion_type: undefined }), 400, 'invalid_request'],
      ['a SAML client_assertion_type', () => ({ ...tokenRequestForm(assertion(clinician)), client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' }), 400, 'invalid_request'],
      ['no client_assertion', () => ({ grant_type: 'client_credentials', client_assertion_type: CLIENT_ASSERTION_TYPE }), 400, 'invalid_request'],
      ['a repeated parameter', () => ({ ...tokenRequestForm(assertion(clinician)), scope: ['system/Patient.rs', 'system/Patient.r'] }), 400, 'invalid_request'],
      // the assertion's form
      ['an assertion that is not a JWT', () => tokenRequestForm('not-a-jwt'), 401, 'invalid_client'],
      ['an assertion in JSON serialisation', () => tokenRequestForm(JSON.stringify({ payload: 'x', signatures: [] })), 401, 'invalid_client'],
      ['an assertion over 8 KiB', () => tokenRequestForm(assertion(clinician, { claims: { padding: 'x'.repeat(8500) } })), 401, 'invalid_client'],
      // the algorithm
      ['alg none', () => tokenRequestForm(assertion(clinician, { alg: 'none' })), 401, 'invalid_client'],
      ['HS384 keyed with the client’s RSA public key', () => tokenRequestForm(assertion(clinician, { alg: 'HS384', key: clinicianPublicPem() })), 401, 'invalid_client'],
      ['HS256 with a guessed secret', () => tokenRequestForm(assertion(clinician, { alg: 'HS256', key: 'secret' })), 401, 'invalid_client'],
      ['RS256 by the right key', () => tokenRequestForm(assertion(clinician, { alg: 'RS256' })), 401, 'invalid_client'],
      ['PS384 by the right key', () => tokenRequestForm(assertion(clinician, { alg: 'PS384' })), 401, 'invalid_client'],
      ['ES384 in the header of an RSA-signed assertion', () => tokenRequestForm(assertion(clinician, { alg: 'ES384', key: auditor.privateKey })), 401, 'invalid_client'],
      ['a crit header', () => tokenRequestForm(withHeader(assertion(clinician), { crit: ['exp'] })), 401, 'invalid_client'],
      // the client and its key
      ['an unknown client', () => tokenRequestForm(assertion(stranger)), 401, 'invalid_client'],
      ['a kid not in the client’s jwks', () => tokenRequestForm(assertion(clinician, { kid: 'no-such-key' })), 401, 'invalid_client'],
      ['no kid', () => tokenRequestForm(assertion(clinician, { kid: '' })), 401, 'invalid_client'],
      ['the client’s kid signed by another client’s key', () => tokenRequestForm(assertion(clinician, { key: registrar.privateKey })), 401, 'invalid_client'],
      ['another client’s key and kid, claiming this client', () => tokenRequestForm(assertion(clinician, { key: registrar.privateKey, kid: registrar.kid })), 401, 'invalid_client'],
      ['a signature over another payload', () => tokenRequestForm(tamper(assertion(clinician), { sub: 'zz-sy-reg' })), 401, 'invalid_client'],
      // the claims
      ['iss ≠ sub', () => tokenRequestForm(assertion(clinician, { claims: { sub: 'zz-sy-reg' } })), 401, 'invalid_client'],
      ['no sub', () => tokenRequestForm(assertion(clinician, { claims: { sub: undefined } })), 401, 'invalid_client'],
      ['iss naming another client', () => tokenRequestForm(assertion(clinician, { claims: { iss: 'zz-sy-reg', sub: 'zz-sy-reg' } })), 401, 'invalid_client'],
      ['a client_id parameter naming another client', () => ({ ...tokenRequestForm(assertion(clinician)), client_id: 'zz-sy-reg' }), 401, 'invalid_client'],
      ['aud of another server', () => tokenRequestForm(assertion(clinician, { aud: 'https://other.example/auth/token' })), 401, 'invalid_client'],
      ['aud = the base URL, not the token endpoint', () => tokenRequestForm(assertion(clinician, { aud: BASE_URL })), 401, 'invalid_client'],
      ['aud an array with another audience', () => tokenRequestForm(assertion(clinician, { claims: { aud: [TOKEN_URL, 'https://other.example'] } })), 401, 'invalid_client'],
      ['no aud', () => tokenRequestForm(assertion(clinician, { claims: { aud: undefined } })), 401, 'invalid_client'],
      ['no exp', () => tokenRequestForm(assertion(clinician, { claims: { exp: undefined } })), 401, 'invalid_client'],
      ['exp a string', () => tokenRequestForm(assertion(clinician, { claims: { exp: String(now() + 60) } })), 401, 'invalid_client'],
      ['an expired assertion', () => tokenRequestForm(assertion(clinician, { iat: now() - 600, expiresIn: 300 })), 401, 'invalid_client'],
      ['exp more than 5 minutes ahead', () => tokenRequestForm(assertion(clinician, { expiresIn: 600 })), 401, 'invalid_client'],
      ['nbf in the future', () => tokenRequestForm(assertion(clinician, { claims: { nbf: now() + 120 } })), 401, 'invalid_client'],
      ['iat in the future', () => tokenRequestForm(assertion(clinician, { iat: now() + 120, expiresIn: 60 })), 401, 'invalid_client'],
      ['no jti', () => tokenRequestForm(assertion(clinician, { claims: { jti: undefined } })), 401, 'invalid_client'],
      ['an empty jti', () => tokenRequestForm(assertion(clinician, { jti: '' })), 401, 'invalid_client'],
      ['a jti over 256 characters', () => tokenRequestForm(assertion(clinician, { jti: 'j'.repeat(257) })), 401, 'invalid_client'],
      // scope
      ['a scope beyond the roles', () => tokenRequestForm(assertion(clinician), 'system/AuditEvent.rs'), 400, 'invalid_scope'],
      ['more permission than the role grants', () => tokenRequestForm(assertion(registrar), 'system/Patient.cruds'), 400, 'invalid_scope'],
      ['a wildcard scope', () => tokenRequestForm(assertion(clinician), 'system/*.rs'), 400, 'invalid_scope'],
      ['a v1 scope', () => tokenRequestForm(assertion(clinician), 'system/Patient.read'), 400, 'invalid_scope'],
      ['patient data for a monitor', () => tokenRequestForm(assertion(monitor), 'system/Patient.rs'), 400, 'invalid_scope'],
      // the person and the purpose
      ['break-glass (ETREAT) for a registrar', () => tokenRequestForm(assertion(registrar, { purposeOfUse: 'ETREAT' })), 400, 'invalid_scope'],
      ['break-glass (BTG) for an auditor', () => tokenRequestForm(assertion(auditor, { purposeOfUse: 'BTG' })), 400, 'invalid_scope'],
      ['no user for a data token', () => tokenRequestForm(assertion(clinician, { user: undefined })), 400, 'invalid_request'],
      ['an unsupported purpose', () => tokenRequestForm(assertion(clinician, { purposeOfUse: 'HMARKT' })), 400, 'invalid_request'],
      ['a malformed ihe_iua', () => tokenRequestForm(assertion(clinician, { claims: { extensions: { ihe_iua: { subject_id: 42 } } } })), 400, 'invalid_request'],
    ];

    it.each(cases)('%s', async (_name, form, status, error) => {
      const body = form();
      const { res, req } = await postToken(gw, body);
      expect(res.status).toBe(status);
      expect(res.contentType).toBe('application/json');
      expect(res.headers).toMatchObject({ 'Cache-Control': 'no-store' });
      expect(bodyOf(res)).toEqual({ error, error_description: expect.any(String) });
      expect(req.requester).toBeUndefined();
      // never echo the assertion (or any part of it) back
      const text = JSON.stringify(res.body);
      const a = (body as Record<string, unknown>).client_assertion;
      if (typeof a === 'string') for (const part of a.split('.')) if (part.length > 8) expect(text).not.toContain(part);
      expect((bodyOf(res).error_description as string).length).toBeLessThan(120);
    });

    it('does not tell an unknown kid from a bad signature or an unknown client', async () => {
      const descriptions = await Promise.all(
        [
          assertion(clinician, { kid: 'no-such-key' }),
          assertion(clinician, { key: registrar.privateKey }),
          assertion(stranger),
          assertion(clinician, { alg: 'none' }),
          'garbage',
        ].map(async (a) => bodyOf((await postToken(gw, tokenRequestForm(a))).res).error_description),
      );
      expect(new Set(descriptions).size).toBe(1);
    });

    it('names the claimed client for the audit trail when the assertion is refused', async () => {
      const { req } = await postToken(gw, tokenRequestForm(assertion(clinician, { key: registrar.privateKey })));
      expect(req.record.claimedClientId).toBe('xm-zsh-his');
      const garbage = await postToken(gw, tokenRequestForm('garbage'));
      expect(garbage.req.record.claimedClientId).toBeUndefined();
      const weird = await postToken(gw, tokenRequestForm(assertion(clinician, { claims: { iss: '<script>' } })));
      expect(weird.req.record.claimedClientId).toBeUndefined();
    });

    it('refuses a replayed assertion (same jti), also when signed anew', async () => {
      const a = assertion(clinician);
      expect((await postToken(gw, tokenRequestForm(a))).res.status).toBe(200);
      const replay = await postToken(gw, tokenRequestForm(a));
      expect(replay.res.status).toBe(401);
      expect(bodyOf(replay.res).error).toBe('invalid_client');
      const jti = decodeJws(a)!.payload.jti as string;
      expect((await postToken(gw, tokenRequestForm(assertion(clinician, { jti })))).res.status).toBe(401);
      // jtis are per client: another client may use the same value
      expect((await postToken(gw, tokenRequestForm(assertion(registrar, { jti })))).res.status).toBe(200);
    });

    it('lets exactly one of many concurrent uses of one assertion through', async () => {
      const a = assertion(clinician);
      const results = await Promise.all(Array.from({ length: 25 }, () => postToken(gw, tokenRequestForm(a))));
      expect(results.filter((r) => r.res.status === 200)).toHaveLength(1);
      expect(results.filter((r) => r.res.status === 401)).toHaveLength(24);
    });

    it('counts refusals by error in the metrics', async () => {
      await postToken(gw, tokenRequestForm('garbage'));
      const metric = await gw.metrics.tokensRefused.get();
      expect(metric.values.find((v) => v.labels.error === 'invalid_client')?.value).toBeGreaterThan(0);
    });
  });
});

function withHeader(jwt: string, extra: Record<string, unknown>): string {
  // re-signing is not needed: the header is refused before the signature is checked
  const [h, p, s] = jwt.split('.') as [string, string, string];
  const header = { ...JSON.parse(Buffer.from(h, 'base64url').toString()), ...extra };
  return `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${p}.${s}`;
}

function tamper(jwt: string, claims: Record<string, unknown>): string {
  const [h, p, s] = jwt.split('.') as [string, string, string];
  const payload = { ...JSON.parse(Buffer.from(p, 'base64url').toString()), ...claims };
  return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
}
