import { createHash } from 'node:crypto';
import type { GatewayConfig } from '../config';
import { BREAK_GLASS_PURPOSES, type Clock, type Requester } from '../context';
import { safeText } from '../fhir/fhir-string';
import { accessTokenClaims, signAccessToken } from './access-token';
import type { RegisteredApp } from './apps';
import type { IssuedToken, SignedInUser } from './contract';
import { OAuthError } from './oauth-error';
import { grantScopes } from './scopes';
import type { SessionStore } from './session-store';
import type { SigningKeyStore } from './signing-keys';
import { isLocked, type UserAccount, type UserStore } from './user-store';
import { defaultPurposeOf, userRequester } from './user-requester';

/**
 * The token endpoint's grants for people (SMART App Launch 2.x §2.0.6–2.0.7, docs/users.md §3):
 * `authorization_code` with PKCE for a public app, and `refresh_token`, which rotates at every use
 * (a superseded refresh token ends the session: OAuth 2.0 Security BCP §4.14). A refresh may ask
 * for break-glass (`purpose_of_use=ETREAT` with a typed `break_glass_reason`): that access token
 * alone carries it, and the next plain refresh is back to the person's usual purpose.
 */

export interface UserTokenDeps {
  config: Pick<GatewayConfig, 'publicBaseUrl' | 'canonicalBase' | 'auth' | 'signIn' | 'hospitals'>;
  apps: ReadonlyMap<string, RegisteredApp>;
  users: UserStore;
  sessions: SessionStore;
  keys: SigningKeyStore;
  clock: Clock;
}

type Form = Record<string, string | undefined>;

export const USER_GRANT_PARAMS = ['code', 'redirect_uri', 'code_verifier', 'refresh_token', 'purpose_of_use', 'break_glass_reason'] as const;
const VERIFIER_RE = /^[A-Za-z0-9._~-]{43,128}$/;
const USER_PURPOSES = new Set(['TREAT', 'HOPERAT', 'ETREAT', 'BTG']);
export const MIN_BREAK_GLASS_REASON = 4;
export const MAX_BREAK_GLASS_REASON = 500;

const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

export function createUserTokens(deps: UserTokenDeps) {
  const { config, apps, users, sessions, keys, clock } = deps;
  const hospitalNames = new Map(config.hospitals.map((h) => [h.id, h.name]));

  const appOf = (form: Form): RegisteredApp => {
    if (!form.client_id) throw new OAuthError('invalid_request', 'client_id is required');
    const app = apps.get(form.client_id);
    if (!app) throw new OAuthError('invalid_client', 'unknown client', 'unknown app');
    return app;
  };

  /** The person may still sign in: enabled, not locked, their roles still give them a token. */
  const usable = async (username: string, now: Date): Promise<UserAccount> => {
    const user = await users.get(username);
    if (!user || user.disabled || isLocked(user, now)) throw new OAuthError('invalid_grant', 'the account cannot be used', 'account unusable');
    return user;
  };

  const issue = (user: UserAccount, app: RegisteredApp, scope: string, sid: string, refreshToken: string, purpose: { code: string; reason?: string }): IssuedToken => {
    const scopes = grantScopes(scope, user.roles, 'user');
    if (!scopes.ok) throw new OAuthError('invalid_scope', scopes.reason);
    const requester: Requester = userRequester(user, app, scopes.scopes, {
      purposeOfUse: purpose.code,
      canonicalBase: config.canonicalBase,
      sessionId: sid,
      ...(purpose.reason ? { breakGlassReason: purpose.reason } : {}),
    });
    const lifetime = config.auth.tokenLifetimeSeconds;
    const claims = accessTokenClaims(requester, { issuer: config.publicBaseUrl, nowSeconds: Math.floor(clock.now().getTime() / 1000), lifetimeSeconds: lifetime });
    requester.tokenId = claims.jti;
    const signedIn: SignedInUser = {
      username: user.username,
      name: user.displayName,
      staffId: user.staffId,
      roles: [...user.roles],
      ...(user.hospital ? { hospital: user.hospital, hospitalName: hospitalNames.get(user.hospital) } : {}),
    };
    return { accessToken: signAccessToken(claims, keys.signingKey()), expiresIn: lifetime, requester, refreshToken, user: signedIn };
  };

  return {
    /** `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6) */
    async exchangeCode(form: Form): Promise<IssuedToken> {
      const app = appOf(form);
      if (!form.code) throw new OAuthError('invalid_request', 'code is required');
      if (!form.redirect_uri) throw new OAuthError('invalid_request', 'redirect_uri is required');
      if (!form.code_verifier) throw new OAuthError('invalid_request', 'code_verifier is required (PKCE)');
      if (!VERIFIER_RE.test(form.code_verifier)) throw new OAuthError('invalid_request', 'code_verifier must be 43 to 128 unreserved characters');
      if (form.purpose_of_use !== undefined || form.break_glass_reason !== undefined) {
        throw new OAuthError('invalid_request', 'break-glass is asked for on a refresh, after sign-in');
      }
      const now = clock.now();
      // Redeemed first, whatever follows: a code is tried once (a wrong verifier burns it too).
      const redeemed = await sessions.redeemCode(form.code, now);
      if (!redeemed.ok) throw new OAuthError('invalid_grant', 'the code is not valid', `code ${redeemed.reason}`);
      const grant = redeemed.grant;
      if (grant.clientId !== app.id) throw new OAuthError('invalid_grant', 'the code is not valid', 'code of another client');
      if (grant.redirectUri !== form.redirect_uri) throw new OAuthError('invalid_grant', 'redirect_uri differs from the authorization request');
      if (s256(form.code_verifier) !== grant.codeChallenge) throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge');
      const user = await usable(grant.username, now);
      const purpose = { code: defaultPurposeOf(user) };
      const opened = await sessions.open({
        username: user.username,
        clientId: app.id,
        scope: grant.scope,
        codeHash: redeemed.codeHash,
        now,
        idleMinutes: config.signIn.sessionIdleMinutes,
        maxHours: config.signIn.sessionMaxHours,
      });
      return issue(user, app, grant.scope, opened.sid, opened.refreshToken, purpose);
    },

    /** `grant_type=refresh_token` (RFC 6749 §6), rotating */
    async refresh(form: Form): Promise<IssuedToken> {
      const app = appOf(form);
      if (!form.refresh_token) throw new OAuthError('invalid_request', 'refresh_token is required');
      const now = clock.now();
      // The purpose is checked before the token rotates: a refused break-glass leaves the session as it was.
      const current = await sessions.find(form.refresh_token);
      const owner = current && !current.ended_at ? await users.get(current.username) : undefined;
      if (owner) purposeFor(form, owner);
      const rotated = await sessions.rotate(form.refresh_token, now, config.signIn.sessionIdleMinutes);
      if (!rotated.ok) throw new OAuthError('invalid_grant', 'the session has ended; sign in again', `refresh ${rotated.reason}`);
      const session = rotated.session;
      if (session.client_id !== app.id) {
        await sessions.end(session.sid, now, 'wrong-client');
        throw new OAuthError('invalid_grant', 'the session has ended; sign in again', 'refresh token of another client');
      }
      const user = await usable(session.username, now).catch(async (e) => {
        await sessions.end(session.sid, now, 'account');
        throw e;
      });
      return issue(user, app, session.scope, session.sid, rotated.refreshToken, purposeFor(form, user));
    },

    /**
     * RFC 7009 revocation of a refresh token: the session ends, and with it every access token it
     * gave. The answer is the same whether the token was known (RFC 7009 §2.2); the person whose
     * session ended is returned for the audit trail.
     */
    async revoke(form: Form): Promise<Requester | undefined> {
      const app = appOf(form);
      if (!form.token) throw new OAuthError('invalid_request', 'token is required');
      const session = await sessions.find(form.token);
      if (!session || session.client_id !== app.id || session.ended_at) return undefined;
      const now = clock.now();
      await sessions.end(session.sid, now, 'sign-out');
      const user = await users.get(session.username);
      return user ? userRequester(user, app, [], { purposeOfUse: defaultPurposeOf(user), canonicalBase: config.canonicalBase, sessionId: session.sid }) : undefined;
    },
  };
}

export type UserTokens = ReturnType<typeof createUserTokens>;

/**
 * The purpose a person's token carries (docs/users.md §3): their usual one unless the refresh asks
 * for another; break-glass (ETREAT/BTG) for clinicians only and only with a typed reason of 4–500
 * characters. Pure; throws OAuthError (table-tested in test/unit/gateway/auth/user-purpose.test.ts).
 */
export function purposeFor(form: { purpose_of_use?: string; break_glass_reason?: string }, user: Pick<UserAccount, 'roles'>): { code: string; reason?: string } {
  const code = form.purpose_of_use ?? defaultPurposeOf(user);
  if (!USER_PURPOSES.has(code)) throw new OAuthError('invalid_request', `unsupported purpose_of_use (supported: ${[...USER_PURPOSES].join(', ')})`);
  if (!BREAK_GLASS_PURPOSES.has(code)) {
    if (form.break_glass_reason !== undefined) throw new OAuthError('invalid_request', 'break_glass_reason goes with a break-glass purpose_of_use only');
    return { code };
  }
  if (!user.roles.includes('clinician')) throw new OAuthError('invalid_scope', 'break-glass purposes are for clinicians only');
  const reason = safeText((form.break_glass_reason ?? '').trim(), { lineBreaks: false });
  if ([...reason].length < MIN_BREAK_GLASS_REASON || [...reason].length > MAX_BREAK_GLASS_REASON) {
    throw new OAuthError('invalid_request', `break-glass needs a break_glass_reason of ${MIN_BREAK_GLASS_REASON} to ${MAX_BREAK_GLASS_REASON} characters`);
  }
  return { code, reason };
}
