import { registerApps } from '../../../../gateway/auth/apps';
import { checkAuthorizeRequest, redirectWith } from '../../../../gateway/auth/authorize-request';

/**
 * The authorization request's rules (SMART App Launch 2.x, RFC 6749 §4.1.2.1, RFC 7636), one row
 * each: which faults are shown on the page (app or redirect in doubt, no state) and which go back
 * to the app as `error=`.
 */
const BASE = 'https://hie.xzq.example';
const apps = registerApps({ publicBaseUrl: BASE, apps: [{ id: 'ward-app', name: '病区应用', redirectUris: ['https://ward.example/cb?x=1'] }] });
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
const ok: Record<string, string> = {
  response_type: 'code',
  client_id: 'xzq-console',
  redirect_uri: `${BASE}/console/`,
  state: 'abc123',
  code_challenge: CHALLENGE,
  code_challenge_method: 'S256',
  aud: BASE,
};
const params = (over: Record<string, string | undefined>) => {
  const p: Record<string, string[]> = {};
  for (const [k, v] of Object.entries({ ...ok, ...over })) if (v !== undefined) p[k] = [v];
  return p;
};

describe('checkAuthorizeRequest', () => {
  test('a good request, with identity scopes and user scopes', () => {
    const c = checkAuthorizeRequest(params({ scope: 'openid fhirUser user/Patient.rs', ui_locales: 'en-US' }), apps, BASE);
    expect(c).toMatchObject({ ok: true, request: { redirectUri: `${BASE}/console/`, state: 'abc123', codeChallenge: CHALLENGE, lang: 'en', scope: 'openid fhirUser user/Patient.rs' } });
  });

  test('aud with a trailing slash is the same base', () => {
    expect(checkAuthorizeRequest(params({ aud: `${BASE}/` }), apps, BASE).ok).toBe(true);
  });

  test('another registered app with its own redirect URI, query included', () => {
    expect(checkAuthorizeRequest(params({ client_id: 'ward-app', redirect_uri: 'https://ward.example/cb?x=1' }), apps, BASE).ok).toBe(true);
  });

  test.each<[string, Record<string, string | undefined>, string]>([
    ['no client_id', { client_id: undefined }, 'unknown-app'],
    ['an unknown client_id', { client_id: 'evil' }, 'unknown-app'],
    ['no redirect_uri', { redirect_uri: undefined }, 'bad-redirect-uri'],
    ['a redirect_uri of another app', { redirect_uri: 'https://ward.example/cb?x=1' }, 'bad-redirect-uri'],
    ['a prefix of the registered URI', { redirect_uri: `${BASE}/console` }, 'bad-redirect-uri'],
    ['the registered URI with more path', { redirect_uri: `${BASE}/console/x` }, 'bad-redirect-uri'],
    ['the registered URI with a query', { redirect_uri: `${BASE}/console/?a=b` }, 'bad-redirect-uri'],
    ['the registered URI with a fragment', { redirect_uri: `${BASE}/console/#x` }, 'bad-redirect-uri'],
    ['upper-case host', { redirect_uri: `https://HIE.xzq.example/console/` }, 'bad-redirect-uri'],
    ['no state', { state: undefined }, 'missing-state'],
    ['an empty state', { state: '' }, 'missing-state'],
    ['a state with a space', { state: 'a b' }, 'missing-state'],
    ['a state of 513 characters', { state: 'x'.repeat(513) }, 'missing-state'],
  ])('%s → the page says %s', (_what, over, problem) => {
    expect(checkAuthorizeRequest(params(over), apps, BASE)).toMatchObject({ ok: false, show: 'page', problem });
  });

  test('a repeated parameter → the page', () => {
    const p = params({});
    p.redirect_uri = [`${BASE}/console/`, 'https://evil.example/'];
    expect(checkAuthorizeRequest(p, apps, BASE)).toMatchObject({ ok: false, show: 'page', problem: 'repeated-parameter' });
  });

  test.each<[string, Record<string, string | undefined>, string]>([
    ['response_type token', { response_type: 'token' }, 'unsupported_response_type'],
    ['no response_type', { response_type: undefined }, 'unsupported_response_type'],
    ['no code_challenge_method', { code_challenge_method: undefined }, 'invalid_request'],
    ['PKCE plain', { code_challenge_method: 'plain' }, 'invalid_request'],
    ['no code_challenge', { code_challenge: undefined }, 'invalid_request'],
    ['a 42-character challenge', { code_challenge: CHALLENGE.slice(1) }, 'invalid_request'],
    ['a challenge with padding', { code_challenge: `${CHALLENGE.slice(1)}=` }, 'invalid_request'],
    ['no aud', { aud: undefined }, 'invalid_request'],
    ['another aud', { aud: 'https://other.example/fhir' }, 'invalid_request'],
    ['a system scope', { scope: 'system/Patient.rs' }, 'invalid_scope'],
    ['a wildcard scope', { scope: 'user/*.rs' }, 'invalid_scope'],
    ['a v1 scope', { scope: 'user/Patient.read' }, 'invalid_scope'],
  ])('%s → back to the app with %s', (_what, over, error) => {
    expect(checkAuthorizeRequest(params(over), apps, BASE)).toMatchObject({ ok: false, show: 'redirect', error, redirectUri: `${BASE}/console/`, state: 'abc123' });
  });

  test('redirectWith keeps the registered query and encodes the answer', () => {
    expect(redirectWith('https://ward.example/cb?x=1', { code: 'c&d', state: 'a b' })).toBe('https://ward.example/cb?x=1&code=c%26d&state=a+b');
  });
});
