import type { GatewayConfig } from '../config';
import type { Clock, Requester } from '../context';
import { safeText } from '../fhir/fhir-string';
import type { RegisteredApp } from './apps';
import { AUTHORIZE_PARAMS, checkAuthorizeRequest, redirectWith, type AuthorizePageProblem, type AuthorizeRequest } from './authorize-request';
import { verifyAgainstNothing, verifyPassword } from './passwords';
import { grantScopes } from './scopes';
import type { SessionStore } from './session-store';
import { isLocked, USERNAME_RE, type UserStore } from './user-store';
import { defaultPurposeOf, userRequester } from './user-requester';

/**
 * The authorization endpoint's person-facing half (docs/users.md §2): show the sign-in form for a
 * checked authorization request, check the password, count failures into a lock-out, and send the
 * browser back to the app with a one-time code. No HTML and no cookies here: the route renders
 * the answer and does the HTTP parts (the form's CSRF cookie is compared there).
 */

/** What the sign-in form says after a failed attempt. */
export type SignInMessage = 'wrong-credentials' | 'locked' | 'disabled' | 'rate-limited' | 'no-access' | 'expired-form';

/** What the audit trail records of an attempt. */
export type SignInResult =
  | 'success'
  | 'wrong-password'
  | 'unknown-user'
  | 'locked'
  | 'locked-now'
  | 'disabled'
  | 'rate-limited'
  | 'csrf'
  | 'no-access';

export type SignInAnswer =
  | { kind: 'form'; status: number; request: AuthorizeRequest; fields: Record<string, string>; message?: SignInMessage; username?: string }
  | { kind: 'redirect'; location: string }
  | { kind: 'problem'; status: number; problem: AuthorizePageProblem; lang: 'zh' | 'en' };

export interface SignInAttempt {
  answer: SignInAnswer;
  /** the account name tried (as typed, made safe) and what came of it */
  audit?: { username: string; result: SignInResult };
  /** the person, once the password was right: the audit record names them */
  requester?: Requester;
}

export interface SignInDeps {
  config: Pick<GatewayConfig, 'publicBaseUrl' | 'canonicalBase' | 'signIn' | 'hospitals'>;
  apps: ReadonlyMap<string, RegisteredApp>;
  users: UserStore;
  sessions: SessionStore;
  clock: Clock;
  /** each attempt's result, for the metric `xzq_sign_ins_total` */
  onAttempt?: (result: SignInResult) => void;
}

const STATUS: Record<SignInMessage, number> = {
  'wrong-credentials': 401,
  locked: 403,
  disabled: 403,
  'no-access': 403,
  'rate-limited': 429,
  'expired-form': 403,
};

/** Failed attempts per address in a window, per instance: a brake on guessing across many accounts. */
function addressBrake(limit: number) {
  const WINDOW_MS = 15 * 60_000;
  const seen = new Map<string, { count: number; since: number }>();
  return {
    blocked(address: string | undefined, now: number) {
      const e = address ? seen.get(address) : undefined;
      return Boolean(e && now - e.since < WINDOW_MS && e.count >= limit);
    },
    fail(address: string | undefined, now: number) {
      if (!address) return;
      const e = seen.get(address);
      if (!e || now - e.since >= WINDOW_MS) {
        if (seen.size >= 10_000) seen.clear();
        seen.set(address, { count: 1, since: now });
      } else e.count += 1;
    },
  };
}

export function createSignIn(deps: SignInDeps) {
  const { config, apps, users, sessions, clock } = deps;
  const hospitals = new Set(config.hospitals.map((h) => h.id));
  const brake = addressBrake(config.signIn.maxFailuresPerAddress);

  const fieldsOf = (params: Record<string, string[]>) => {
    const out: Record<string, string> = {};
    for (const name of AUTHORIZE_PARAMS) {
      const v = params[name]?.[0];
      if (v !== undefined) out[name] = v;
    }
    return out;
  };

  const check = (params: Record<string, string[]>): { ok: true; request: AuthorizeRequest } | { ok: false; answer: SignInAnswer } => {
    const c = checkAuthorizeRequest(params, apps, config.publicBaseUrl);
    if (c.ok) return c;
    if (c.show === 'page') return { ok: false, answer: { kind: 'problem', status: 400, problem: c.problem, lang: c.lang } };
    return { ok: false, answer: { kind: 'redirect', location: redirectWith(c.redirectUri, { error: c.error, error_description: c.description, state: c.state }) } };
  };

  return {
    /** `GET /auth/authorize`: the sign-in form, or why there is none */
    begin(params: Record<string, string[]>): SignInAnswer {
      const c = check(params);
      return c.ok ? { kind: 'form', status: 200, request: c.request, fields: fieldsOf(params) } : c.answer;
    },

    /** `POST /auth/authorize`: the form came back with a user name and password */
    async signIn(form: Record<string, string[]>, ctx: { csrfOk: boolean; address?: string }): Promise<SignInAttempt> {
      const attempt = await attemptSignIn(form, ctx);
      if (attempt.audit) deps.onAttempt?.(attempt.audit.result);
      return attempt;
    },
  };

  async function attemptSignIn(form: Record<string, string[]>, ctx: { csrfOk: boolean; address?: string }): Promise<SignInAttempt> {
    const c = check(form);
    if (!c.ok) return { answer: c.answer };
    const request = c.request;
    const typed = (form.username?.[0] ?? '').trim().toLowerCase();
    const password = form.password?.[0] ?? '';
    const username = safeText(typed, { lineBreaks: false, max: 64 });
    const fields = fieldsOf(form);
    const again = (message: SignInMessage, result: SignInResult, requester?: Requester): SignInAttempt => ({
      answer: { kind: 'form', status: STATUS[message], request, fields, message, username: USERNAME_RE.test(typed) ? typed : undefined },
      audit: { username: username || '(none)', result },
      ...(requester ? { requester } : {}),
    });
    // Login CSRF: the form must come from a page we served to this browser (docs/users.md §4).
    if (!ctx.csrfOk) return again('expired-form', 'csrf');
    const now = clock.now();
    if (brake.blocked(ctx.address, now.getTime())) return again('rate-limited', 'rate-limited');

    const user = USERNAME_RE.test(typed) ? await users.get(typed) : undefined;
    if (!user) {
      await verifyAgainstNothing(password);
      brake.fail(ctx.address, now.getTime());
      return again('wrong-credentials', 'unknown-user');
    }
    // A locked account is not even tried: guessing goes no further while it is locked.
    if (isLocked(user, now)) return again('locked', 'locked');
    if (!(await verifyPassword(password, user.passwordHash))) {
      brake.fail(ctx.address, now.getTime());
      const { lockedNow } = await users.recordFailure(user.username, now, config.signIn);
      return lockedNow ? again('locked', 'locked-now') : again('wrong-credentials', 'wrong-password');
    }
    const requester = userRequester(user, request.app, [], { purposeOfUse: defaultPurposeOf(user), canonicalBase: config.canonicalBase });
    if (user.disabled) return again('disabled', 'disabled', requester);
    if (user.hospital ? !hospitals.has(user.hospital) : user.roles.some((r) => r === 'clinician' || r === 'registrar')) {
      return again('no-access', 'no-access', requester);
    }
    await users.recordSuccess(user.username, now);
    const scopes = grantScopes(request.scope, user.roles, 'user');
    if (!scopes.ok) {
      return {
        answer: { kind: 'redirect', location: redirectWith(request.redirectUri, { error: 'invalid_scope', error_description: scopes.reason, state: request.state }) },
        audit: { username: user.username, result: 'success' },
        requester,
      };
    }
    const code = await sessions.createCode(
      { clientId: request.app.id, redirectUri: request.redirectUri, username: user.username, codeChallenge: request.codeChallenge, scope: request.scope },
      now,
    );
    return {
      answer: { kind: 'redirect', location: redirectWith(request.redirectUri, { code, state: request.state }) },
      audit: { username: user.username, result: 'success' },
      requester: { ...requester, scopes: scopes.scopes },
    };
  }
}

export type SignIn = ReturnType<typeof createSignIn>;
