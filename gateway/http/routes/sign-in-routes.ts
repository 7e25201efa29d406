import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuthService } from '../../auth/contract';
import { NO_STORE, OAuthError } from '../../auth/oauth-error';
import type { SignInAnswer } from '../../auth/sign-in';
import { AUTHORIZE_PATH, REVOKE_PATH } from '../../auth/smart-configuration';
import type { GatewayConfig } from '../../config';
import type { FhirRequest, FhirResponse, Route } from '../route';
import { renderSignInForm, renderSignInProblem, SIGN_IN_STYLE_HASH } from '../sign-in-page';
import { oauthErrorResponse } from './auth-routes';

/**
 * People sign in (docs/users.md): `GET /auth/authorize` shows the form for a checked authorization
 * request, `POST /auth/authorize` checks the password and redirects back to the app with a code,
 * `POST /auth/revoke` signs out. The HTTP half only: the CSRF cookie, the page, its headers.
 *
 * Login CSRF (docs/users.md §4): the form carries a random value that must equal the value of an
 * HttpOnly, SameSite=Strict cookie set with the form, and a cross-origin `Origin` is refused. A
 * page from elsewhere can neither read the value nor make the browser send the cookie.
 */
export function signInRoutes(auth: AuthService, config: GatewayConfig): Route[] {
  const secure = config.publicBaseUrl.startsWith('https:');
  // `__Host-` binds the cookie to this origin and path `/`, and needs Secure: only behind TLS.
  const COOKIE = secure ? '__Host-xzq_signin' : 'xzq_signin';
  const cookieAttrs = `HttpOnly; SameSite=Strict; Path=${secure ? '/' : AUTHORIZE_PATH}${secure ? '; Secure' : ''}`;
  const ownOrigin = new URL(config.publicBaseUrl).origin;

  const csrfOf = (req: FhirRequest): string | undefined => {
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === COOKIE) return v.join('=');
    }
    return undefined;
  };

  const headersFor = (formAction: string[]) => ({
    ...NO_STORE,
    'Content-Security-Policy': `default-src 'none'; style-src ${SIGN_IN_STYLE_HASH}; img-src 'self' data:; form-action 'self' ${formAction.join(' ')}; frame-ancestors 'none'; base-uri 'none'`,
    'X-Frame-Options': 'DENY',
    // same-origin, not no-referrer: under no-referrer the browser sends `Origin: null` with the form,
    // and the CSRF check needs the real one. Nothing is sent to other sites either way.
    'Referrer-Policy': 'same-origin',
  });

  const render = (answer: SignInAnswer, req: FhirRequest, csrf?: string): FhirResponse => {
    if (answer.kind === 'redirect') {
      return { status: 303, body: '', headers: { ...NO_STORE, Location: answer.location, 'Set-Cookie': `${COOKIE}=; Max-Age=0; ${cookieAttrs}` } };
    }
    if (answer.kind === 'problem') {
      const query = Object.fromEntries(Object.entries(req.query).map(([k, v]) => [k, v[0] ?? '']));
      return { status: answer.status, contentType: 'text/html; charset=utf-8', headers: headersFor([]), body: renderSignInProblem(answer.lang, answer.problem, query) };
    }
    const value = csrf ?? randomBytes(32).toString('base64url');
    const redirectOrigin = new URL(answer.request.redirectUri).origin;
    return {
      status: answer.status,
      contentType: 'text/html; charset=utf-8',
      headers: { ...headersFor(redirectOrigin === ownOrigin ? [] : [redirectOrigin]), 'Set-Cookie': `${COOKIE}=${value}; Max-Age=1800; ${cookieAttrs}` },
      body: renderSignInForm({
        lang: answer.request.lang,
        appName: answer.request.app.name,
        fields: answer.fields,
        csrf: value,
        message: answer.message,
        username: answer.username,
        lockMinutes: config.signIn.lockMinutes,
      }),
    };
  };

  const formOf = (body: unknown): Record<string, string[]> => {
    const out: Record<string, string[]> = {};
    if (body && typeof body === 'object') {
      for (const [k, v] of Object.entries(body as Record<string, unknown>)) out[k] = Array.isArray(v) ? v.map(String) : [String(v)];
    }
    return out;
  };

  const sameValue = (a: string | undefined, b: string | undefined) =>
    Boolean(a && b && a.length >= 32 && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b)));

  async function signIn(req: FhirRequest): Promise<FhirResponse> {
    const form = formOf(req.body);
    const origin = req.headers.origin;
    const cookie = csrfOf(req);
    const csrfOk = sameValue(cookie, form.csrf?.[0]) && (origin === undefined || origin === ownOrigin);
    const attempt = await auth.signIn.signIn(form, { csrfOk, address: req.remoteAddress });
    if (attempt.audit) req.record.signIn = attempt.audit;
    if (attempt.requester) req.requester = attempt.requester;
    return render(attempt.answer, req, csrfOk ? cookie : undefined);
  }

  async function revoke(req: FhirRequest): Promise<FhirResponse> {
    try {
      const ended = await auth.revokeToken(req.body);
      req.record.signIn = { username: ended?.username ?? '(unknown session)', result: ended ? 'signed-out' : 'no-session' };
      if (ended) req.requester = ended;
      // RFC 7009 §2.2: 200 whether or not the token was known.
      return { status: 200, contentType: 'application/json', headers: { ...NO_STORE }, body: {} };
    } catch (e) {
      if (e instanceof OAuthError) return oauthErrorResponse(e);
      throw e;
    }
  }

  return [
    {
      method: 'GET',
      path: AUTHORIZE_PATH,
      interaction: 'authorize',
      access: { kind: 'none' },
      // showing a form touches nothing; the sign-in it leads to is audited
      audited: false,
      body: 'none',
      handler: async (req) => render(auth.signIn.begin(req.query), req, csrfOf(req)),
    },
    // like the token endpoint, sign-in and sign-out never wait for admission (auth-routes.ts)
    { method: 'POST', path: AUTHORIZE_PATH, interaction: 'login', access: { kind: 'none' }, audited: true, admitted: false, body: 'form', handler: signIn },
    { method: 'POST', path: REVOKE_PATH, interaction: 'logout', access: { kind: 'none' }, audited: true, admitted: false, body: 'form', handler: revoke },
  ];
}
