/**
 * The console as a SMART App Launch public client (`xzq-console`, standalone launch): discovery,
 * the authorization request, and the three token-endpoint calls (code, refresh, revoke). Plain
 * fetches; the session (session.ts) decides when to make them.
 */

export const CLIENT_ID = 'xzq-console';

export interface SmartConfiguration {
  authorization_endpoint: string;
  token_endpoint: string;
  revocation_endpoint?: string;
}

export interface ConsoleUser {
  username: string;
  name: string;
  staffId?: string;
  hospital?: string;
  hospitalName?: string;
  roles: string[];
}

export interface TokenAnswer {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope?: string;
  refresh_token?: string;
  user?: ConsoleUser;
}

/** An OAuth error answer (RFC 6749 §5.2), or a network failure (`error` = `network`). */
export class OAuthFailure extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status: number,
  ) {
    super(error);
  }
}

/** The redirect URI registered for the console: exactly `<origin>/console/`. */
export const redirectUri = () => `${location.origin}/console/`;

export async function discover(): Promise<SmartConfiguration> {
  const res = await safeFetch('/.well-known/smart-configuration', { headers: { Accept: 'application/json' } });
  if (!res.ok) throw new OAuthFailure('discovery', `HTTP ${res.status}`, res.status);
  const body = (await res.json()) as Partial<SmartConfiguration>;
  if (typeof body.authorization_endpoint !== 'string' || typeof body.token_endpoint !== 'string') {
    throw new OAuthFailure('discovery', 'the SMART configuration names no authorization endpoint', res.status);
  }
  return body as SmartConfiguration;
}

export function authorizeUrl(config: SmartConfiguration, p: { state: string; challenge: string; lang: string }): string {
  const url = new URL(config.authorization_endpoint, location.origin);
  const q = url.searchParams;
  q.set('response_type', 'code');
  q.set('client_id', CLIENT_ID);
  q.set('redirect_uri', redirectUri());
  // No scope: the gateway grants the scopes of the person's roles.
  q.set('state', p.state);
  q.set('code_challenge', p.challenge);
  q.set('code_challenge_method', 'S256');
  q.set('aud', location.origin);
  q.set('ui_locales', p.lang === 'en' ? 'en' : 'zh-CN');
  return url.toString();
}

export function exchangeCode(config: SmartConfiguration, code: string, verifier: string): Promise<TokenAnswer> {
  return tokenRequest(config.token_endpoint, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri(),
    client_id: CLIENT_ID,
    code_verifier: verifier,
  });
}

/** A refresh; with `breakGlassReason`, for a break-glass token (purpose of use ETREAT). */
export function refreshTokens(config: SmartConfiguration, refreshToken: string, breakGlassReason?: string): Promise<TokenAnswer> {
  const form: Record<string, string> = { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: CLIENT_ID };
  if (breakGlassReason !== undefined) {
    form.purpose_of_use = 'ETREAT';
    form.break_glass_reason = breakGlassReason;
  }
  return tokenRequest(config.token_endpoint, form);
}

/** Revoke the refresh token (RFC 7009): the session ends at the gateway too. Failures are ignored: the tab forgets it anyway. */
export async function revoke(config: SmartConfiguration, refreshToken: string): Promise<void> {
  if (!config.revocation_endpoint) return;
  await safeFetch(config.revocation_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: refreshToken, client_id: CLIENT_ID }).toString(),
  }).catch(() => undefined);
}

async function tokenRequest(endpoint: string, form: Record<string, string>): Promise<TokenAnswer> {
  const res = await safeFetch(endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams(form).toString(),
  });
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  const b = (body ?? {}) as Record<string, unknown>;
  if (!res.ok) {
    throw new OAuthFailure(
      typeof b.error === 'string' ? b.error : 'server_error',
      typeof b.error_description === 'string' ? b.error_description : `HTTP ${res.status}`,
      res.status,
    );
  }
  if (typeof b.access_token !== 'string' || typeof b.expires_in !== 'number') {
    throw new OAuthFailure('server_error', 'the token answer holds no access token', res.status);
  }
  return b as unknown as TokenAnswer;
}

async function safeFetch(input: string, init: RequestInit): Promise<Response> {
  try {
    // no cookies: the console's authority is its bearer token alone
    return await fetch(input, { ...init, credentials: 'omit', cache: 'no-store' });
  } catch {
    throw new OAuthFailure('network', 'the gateway cannot be reached', 0);
  }
}
