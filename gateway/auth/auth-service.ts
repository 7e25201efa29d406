import type { Requester } from '../context';
import { forbidden, serviceUnavailable, unauthorized } from '../fhir/outcomes';
import type { AccessRequirement, AuthService } from './contract';
import type { ServiceDeps } from '../service-deps';
import { decodeAccessToken, verifyAccessToken } from './access-token';
import { claimedClientId, clientRequester, CLOCK_SKEW_SECONDS, registerClients, verifyClientAssertion } from './client-assertion';
import { createJtiStore } from './jti-store';
import { scopesAllow, scopesForRoles } from './scopes';
import { createSigningKeyStore } from './signing-keys';
import { keySourceOf } from './key-source';
import { issueAccessToken, readForm } from './token-endpoint';
import { OAuthError } from './oauth-error';
import { registerApps } from './apps';
import { createSessionStore } from './session-store';
import { createSignIn } from './sign-in';
import { createUserStore } from './user-store';
import { createUserTokens } from './user-tokens';

// RFC 6750 §2.1 b64token
const BEARER_RE = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * Access control (API.md §3): SMART Backend Services tokens for hospital systems, with the person
 * the HIS acts for named in every token (IHE IUA). Issues tokens (`issueToken`), verifies
 * them on every request (`authenticate`) and checks each route's scope and roles (`authorize`).
 * All shared state — signing keys, seen assertion jtis — is in the database, so any number of
 * instances can share one.
 */
export function createAuthService(deps: ServiceDeps): AuthService {
  const { config, db, clock, log, metrics } = deps;
  const clients = registerClients(config.clients);
  const keys = createSigningKeyStore({ db, clock, log, source: keySourceOf(config, log) });
  const jtis = createJtiStore({ db, log, nowEpochSeconds: () => Math.floor(clock.now().getTime() / 1000) });
  const apps = registerApps(config);
  const users = createUserStore(db);
  const sessions = createSessionStore(db);
  const userTokens = createUserTokens({ config, apps, users, sessions, keys, clock });
  const signIn = createSignIn({ config, apps, users, sessions, clock, onAttempt: (result) => metrics.signIns.inc({ result }) });
  const endpointDeps = { config, clients, clock, log, metrics, jtis, keys, userTokens };
  /** a hospital system configured, or an app people sign in to */
  const knownClient = (id: string) => clients.has(id) || apps.has(id);
  /** A person's token is good only while their session is open: sign-out and disabling act at once. */
  const sessionOpen = async (r: Requester) => {
    if (r.sessionId && !(await sessions.isOpen(r.sessionId, clock.now()))) {
      throw unauthorized('The session has ended; sign in again', 'session ended');
    }
    return r;
  };
  const issuer = config.publicBaseUrl;

  const invalidToken = () => unauthorized('The bearer token is not valid', 'invalid token');

  // Every request of a HIS carries the same token for its whole life (≤ 300 s): its signature is
  // checked once, and later requests only re-check what can change since (expiry, the key still
  // held, the client still configured). Tokens are short, so a plain bounded map suffices.
  const verified = new Map<string, { requester: Requester; exp: number; kid: string; key: unknown }>();
  const VERIFIED_MAX = 10_000;

  return {
    init: () => keys.init(),

    async authenticate(authorization: string | undefined): Promise<Requester> {
      if (!authorization) throw unauthorized();
      const m = BEARER_RE.exec(authorization);
      if (!m) throw invalidToken();
      const nowSeconds = Math.floor(clock.now().getTime() / 1000);
      const hit = verified.get(m[1]!);
      if (hit && hit.exp > nowSeconds && keys.knownKey(hit.kid) === hit.key && knownClient(hit.requester.clientId)) return sessionOpen(hit.requester);
      const jws = decodeAccessToken(m[1]!);
      if (!jws) throw invalidToken();
      const kid = jws.header.kid as string;
      const key = keys.knownKey(kid) ?? (await keys.findKey(kid));
      const check = verifyAccessToken(jws, key, { issuer, nowSeconds });
      if (!check.ok) {
        if (check.reason === 'expired') throw unauthorized('The bearer token has expired', 'token expired');
        throw invalidToken();
      }
      // A client removed from the configuration loses access at once, not when its tokens expire.
      if (!knownClient(check.requester.clientId)) throw invalidToken();
      // Only the gateway signs, and only person tokens name a session; a client token naming one is forged.
      if (check.requester.sessionId && !apps.has(check.requester.clientId)) throw invalidToken();
      await sessionOpen(check.requester);
      if (verified.size >= VERIFIED_MAX) verified.clear();
      verified.set(m[1]!, { requester: Object.freeze(check.requester), exp: check.claims.exp as number, kid, key });
      return check.requester;
    },

    async issueToken(form: unknown) {
      const raw = form as Record<string, unknown> | undefined;
      try {
        const issued = await issueAccessToken(readForm(form), endpointDeps);
        metrics.tokensIssued.inc();
        return issued;
      } catch (e) {
        if (e instanceof OAuthError) {
          metrics.tokensRefused.inc({ error: e.error });
          log.info({ clientId: claimedClientId(raw?.client_assertion, raw?.client_id), error: e.error, reason: e.reason }, 'token request refused');
        }
        throw e;
      }
    },

    async revokeToken(form: unknown) {
      const raw = readForm(form);
      return userTokens.revoke(raw);
    },

    signIn,

    async authenticateCdsClient(authorization: string | undefined, audiences: readonly string[]): Promise<Requester> {
      if (!authorization) throw unauthorized('A CDS client JWT is required (Authorization: Bearer)');
      const m = BEARER_RE.exec(authorization);
      if (!m) throw invalidToken();
      const nowSeconds = Math.floor(clock.now().getTime() / 1000);
      let verified: ReturnType<typeof verifyClientAssertion>;
      try {
        verified = verifyClientAssertion(m[1]!, { clients, tokenUrl: audiences, nowSeconds, subOptional: true });
      } catch (e) {
        if (!(e instanceof OAuthError)) throw e;
        log.info({ reason: e.reason }, 'cds client jwt refused');
        throw unauthorized('The CDS client JWT is not valid', 'invalid token');
      }
      const fresh = await jtis.claim(verified.client.config.id, verified.jti, Math.ceil(verified.exp) + CLOCK_SKEW_SECONDS).catch((e) => {
        log.error({ reason: (e as Error).message }, 'assertion_jtis insert failed');
        throw serviceUnavailable('The token service is temporarily unavailable');
      });
      if (!fresh) throw unauthorized('The CDS client JWT was already used (jti replay)', 'jti replay');
      // The person comes from the hook's context; the client is granted what its roles allow.
      const client = verified.client.config;
      return clientRequester(client, scopesForRoles(client.roles), { purposeOfUse: 'TREAT', tokenId: verified.jti });
    },

    authorize(requester: Requester, access: AccessRequirement): void {
      if (access.roles?.length && !access.roles.some((r) => requester.roles.includes(r))) {
        throw forbidden(`This request needs one of the roles: ${access.roles.join(', ')}`, 'role-required');
      }
      if (access.resource && !scopesAllow(requester.scopes, access.resource, access.permission)) {
        const needed = `system/${access.resource}.${access.permission ?? '*'}`;
        throw forbidden(`This request needs the scope ${needed}`, 'insufficient-scope');
      }
    },
  };
}
