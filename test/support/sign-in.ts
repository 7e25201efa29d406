import { createHash, randomBytes } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';

/**
 * A SMART public app signing a person in, as a browser and the console do it (docs/users.md):
 * the authorization request with PKCE, the sign-in form with its CSRF cookie, the code exchange.
 * supertest against the real app; nothing here knows the gateway's internals.
 */

export const CONSOLE_ID = 'xzq-console';

export interface Pkce {
  verifier: string;
  challenge: string;
}

export function newPkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface AuthorizeParams {
  response_type?: string;
  client_id?: string;
  redirect_uri?: string;
  scope?: string;
  state?: string;
  code_challenge?: string;
  code_challenge_method?: string;
  aud?: string;
  ui_locales?: string;
}

export function authorizeParams(base: string, pkce: Pkce, over: AuthorizeParams = {}): Record<string, string> {
  const p: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: CONSOLE_ID,
    redirect_uri: `${base}/console/`,
    state: randomBytes(12).toString('base64url'),
    code_challenge: pkce.challenge,
    code_challenge_method: 'S256',
    aud: base,
    ...over,
  };
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as Record<string, string>;
}

/** The form's hidden fields (the request's parameters and the CSRF value), read off the page. */
export function hiddenFields(html: string): Record<string, string> {
  const out: Record<string, string> = {};
  const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) out[unescape(m[1]!)] = unescape(m[2]!);
  return out;
}

/** The `name=value` of the sign-in cookie a response set. */
export function signInCookie(res: request.Response): string | undefined {
  const set = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  return set.map((c) => c.split(';')[0]!).find((c) => /^(__Host-)?xzq_signin=/.test(c));
}

export interface SignInResult {
  /** the form page's answer (GET) */
  page: request.Response;
  /** the answer to the posted form */
  res: request.Response;
  /** from the redirect, when there was one */
  code?: string;
  state?: string;
  error?: string;
}

/** GET the sign-in page for `params`, then post it back with a user name and password. */
export async function signIn(app: Express, params: Record<string, string>, username: string, password: string, opts: { origin?: string } = {}): Promise<SignInResult> {
  const page = await request(app).get('/auth/authorize').query(params);
  if (page.status !== 200) return { page, res: page };
  const fields = hiddenFields(page.text);
  const cookie = signInCookie(page)!;
  let post = request(app).post('/auth/authorize').type('form').set('Cookie', cookie);
  if (opts.origin) post = post.set('Origin', opts.origin);
  const res = await post.send({ ...fields, username, password });
  const location = res.headers.location as string | undefined;
  if (!location) return { page, res };
  const url = new URL(location);
  return {
    page,
    res,
    code: url.searchParams.get('code') ?? undefined,
    state: url.searchParams.get('state') ?? undefined,
    error: url.searchParams.get('error') ?? undefined,
  };
}

export interface UserTokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  scope: string;
  user: { username: string; name: string; staffId: string; hospital?: string; hospitalName?: string; roles: string[] };
}

export const exchangeCode = (app: Express, base: string, code: string, verifier: string, over: Record<string, string> = {}) =>
  request(app)
    .post('/auth/token')
    .type('form')
    .send({ grant_type: 'authorization_code', code, redirect_uri: `${base}/console/`, client_id: CONSOLE_ID, code_verifier: verifier, ...over });

export const refresh = (app: Express, refreshToken: string, over: Record<string, string> = {}) =>
  request(app).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: CONSOLE_ID, ...over });

export const revoke = (app: Express, token: string) => request(app).post('/auth/revoke').type('form').send({ token, client_id: CONSOLE_ID });

/** Sign in and exchange the code: the tokens a console holds after sign-in. */
export async function signedIn(app: Express, base: string, username: string, password: string): Promise<UserTokens> {
  const pkce = newPkce();
  const r = await signIn(app, authorizeParams(base, pkce), username, password);
  if (!r.code) throw new Error(`sign-in of ${username} failed: ${r.res.status} ${r.error ?? ''}`);
  const t = await exchangeCode(app, base, r.code, pkce.verifier);
  if (t.status !== 200) throw new Error(`code exchange for ${username}: ${t.status} ${JSON.stringify(t.body)}`);
  return t.body as UserTokens;
}
