import { isRegisteredRedirect, type RegisteredApp } from './apps';
import { IDENTITY_SCOPES, MAX_SCOPE_LENGTH, parseScope } from './scopes';

/**
 * The authorization request of SMART App Launch 2.x §2.0.5 (RFC 6749 §4.1.1 with PKCE, RFC 7636),
 * checked before anyone is asked for a password. Pure: the table test walks every rule.
 *
 * Who is told about a fault follows RFC 6749 §4.1.2.1: while the app or its redirect URI is in
 * doubt, the person sees an error page and nothing is redirected anywhere (no open redirect);
 * once both are known, other faults go back to the app as `error=` on its redirect URI. A missing
 * `state` is shown on the page as well: SMART requires it, and without it the app cannot tell
 * our answer from a forged one.
 */

export const AUTHORIZE_PARAMS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'code_challenge',
  'code_challenge_method',
  'aud',
  'ui_locales',
] as const;

export interface AuthorizeRequest {
  app: RegisteredApp;
  redirectUri: string;
  state: string;
  codeChallenge: string;
  /** as asked (checked against the person's roles once they have signed in) */
  scope: string;
  lang: 'zh' | 'en';
}

/** Problems the page shows (never redirected). */
export type AuthorizePageProblem = 'repeated-parameter' | 'unknown-app' | 'bad-redirect-uri' | 'missing-state';

export type AuthorizeCheck =
  | { ok: true; request: AuthorizeRequest }
  | { ok: false; show: 'page'; problem: AuthorizePageProblem; lang: 'zh' | 'en' }
  | {
      ok: false;
      show: 'redirect';
      redirectUri: string;
      state: string;
      error: 'invalid_request' | 'unsupported_response_type' | 'invalid_scope';
      description: string;
    };

const STATE_RE = /^[\x21-\x7e]{1,512}$/;
/** base64url of a SHA-256 digest: exactly 43 characters */
const S256_CHALLENGE_RE = /^[A-Za-z0-9_-]{43}$/;

export const langOf = (uiLocales: string | undefined): 'zh' | 'en' => (uiLocales && /^en\b/i.test(uiLocales.trim()) ? 'en' : 'zh');

/**
 * Check an authorization request's parameters (from the query of the GET, or the hidden fields the
 * sign-in form posts back). `publicBaseUrl` is the FHIR base the token will be for: SMART's `aud`.
 */
export function checkAuthorizeRequest(
  params: Record<string, string[]>,
  apps: ReadonlyMap<string, RegisteredApp>,
  publicBaseUrl: string,
): AuthorizeCheck {
  const one = (name: string) => params[name]?.[0];
  const lang = langOf(params.ui_locales?.length === 1 ? one('ui_locales') : undefined);
  for (const name of AUTHORIZE_PARAMS) {
    if ((params[name]?.length ?? 0) > 1) return { ok: false, show: 'page', problem: 'repeated-parameter', lang };
  }
  const app = apps.get(one('client_id') ?? '');
  if (!app) return { ok: false, show: 'page', problem: 'unknown-app', lang };
  const redirectUri = one('redirect_uri');
  if (!redirectUri || !isRegisteredRedirect(app, redirectUri)) return { ok: false, show: 'page', problem: 'bad-redirect-uri', lang };
  const state = one('state');
  if (!state || !STATE_RE.test(state)) return { ok: false, show: 'page', problem: 'missing-state', lang };

  const refuse = (error: 'invalid_request' | 'unsupported_response_type' | 'invalid_scope', description: string): AuthorizeCheck => ({
    ok: false,
    show: 'redirect',
    redirectUri,
    state,
    error,
    description,
  });
  const responseType = one('response_type');
  if (responseType !== 'code') return refuse('unsupported_response_type', 'response_type must be code');
  if (one('code_challenge_method') !== 'S256') return refuse('invalid_request', 'PKCE is required: code_challenge_method must be S256');
  const codeChallenge = one('code_challenge');
  if (!codeChallenge || !S256_CHALLENGE_RE.test(codeChallenge)) return refuse('invalid_request', 'code_challenge must be the base64url SHA-256 of the code verifier');
  const aud = one('aud')?.replace(/\/+$/, '');
  if (aud !== publicBaseUrl) return refuse('invalid_request', `aud must be this server's FHIR base URL, ${publicBaseUrl}`);
  const scope = (one('scope') ?? '').trim();
  if (scope.length > MAX_SCOPE_LENGTH) return refuse('invalid_scope', 'scope too long');
  for (const token of scope ? scope.split(/ +/) : []) {
    if (!IDENTITY_SCOPES.has(token) && !parseScope(token, 'user')) return refuse('invalid_scope', `unsupported scope ${token.slice(0, 64)}`);
  }
  return { ok: true, request: { app, redirectUri, state, codeChallenge, scope, lang } };
}

/** The redirect URI with the answer's parameters added (its own query kept: RFC 6749 §3.1.2). */
export function redirectWith(redirectUri: string, params: Record<string, string>): string {
  const url = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.toString();
}
