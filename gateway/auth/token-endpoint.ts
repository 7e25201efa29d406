import type { Logger } from 'pino';
import type { GatewayConfig } from '../config';
import type { Clock, Requester } from '../context';
import type { IssuedToken } from './contract';
import { serviceUnavailable } from '../fhir/outcomes';
import type { Metrics } from '../metrics';
import { accessTokenClaims, signAccessToken } from './access-token';
import {
  checkIuaForClient,
  claimedClientId,
  clientRequester,
  CLOCK_SKEW_SECONDS,
  readIuaClaims,
  verifyClientAssertion,
  type RegisteredClient,
} from './client-assertion';
import type { JtiStore } from './jti-store';
import { OAuthError } from './oauth-error';
import { grantScopes } from './scopes';
import type { SigningKeyStore } from './signing-keys';
import { CLIENT_ASSERTION_TYPE, tokenEndpointUrl } from './smart-configuration';
import { USER_GRANT_PARAMS, type UserTokens } from './user-tokens';

/** What the token endpoint works with. */
export interface TokenEndpointDeps {
  config: GatewayConfig;
  clients: ReadonlyMap<string, RegisteredClient>;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  jtis: JtiStore;
  keys: SigningKeyStore;
  /** the grants for people signed in to an app */
  userTokens: UserTokens;
}


const FORM_PARAMS = ['grant_type', 'client_assertion_type', 'client_assertion', 'scope', 'client_id', 'token', ...USER_GRANT_PARAMS] as const;
export type TokenForm = Partial<Record<(typeof FORM_PARAMS)[number], string>>;
export const GRANT_TYPES = ['client_credentials', 'authorization_code', 'refresh_token'] as const;

/** The token request's form parameters, each given once (RFC 6749 §3.2); throws OAuthError. */
export function readForm(body: unknown): TokenForm {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return {};
  const form: TokenForm = {};
  for (const name of FORM_PARAMS) {
    const v = (body as Record<string, unknown>)[name];
    if (v === undefined) continue;
    // RFC 6749 §3.2: request parameters must not be included more than once.
    if (typeof v !== 'string') throw new OAuthError('invalid_request', `${name} must be given once`);
    form[name] = v;
  }
  return form;
}

/**
 * The token request of API.md §3, checked in order: grant type, assertion type, the assertion
 * (RFC 7523: every failure is `invalid_client`), the IUA person and purpose (`invalid_request`),
 * scopes (`invalid_scope`), break-glass for clinicians only (`invalid_scope`), and last — because it
 * writes — the jti, whose replay is `invalid_client`. Throws OAuthError.
 */
export async function issueAccessToken(form: TokenForm, deps: TokenEndpointDeps): Promise<IssuedToken> {
  if (form.grant_type === undefined) throw new OAuthError('invalid_request', 'grant_type is required');
  if (form.grant_type === 'authorization_code') return deps.userTokens.exchangeCode(form);
  if (form.grant_type === 'refresh_token') return deps.userTokens.refresh(form);
  if (form.grant_type !== 'client_credentials') {
    throw new OAuthError('unsupported_grant_type', `grant_type must be one of ${GRANT_TYPES.join(', ')}`);
  }
  if (form.client_assertion_type !== CLIENT_ASSERTION_TYPE) {
    throw new OAuthError('invalid_request', `client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`);
  }
  if (!form.client_assertion) throw new OAuthError('invalid_request', 'client_assertion is required');

  const nowSeconds = Math.floor(deps.clock.now().getTime() / 1000);
  const verified = verifyClientAssertion(form.client_assertion, {
    clients: deps.clients,
    tokenUrl: tokenEndpointUrl(deps.config.publicBaseUrl),
    nowSeconds,
    formClientId: form.client_id,
  });
  const client = verified.client.config;
  const iua = readIuaClaims(verified.payload);
  const scopes = grantScopes(form.scope, client.roles);
  if (!scopes.ok) throw new OAuthError('invalid_scope', scopes.reason);
  checkIuaForClient(iua, client, scopes.scopes);

  let fresh: boolean;
  try {
    fresh = await deps.jtis.claim(client.id, verified.jti, Math.ceil(verified.exp) + CLOCK_SKEW_SECONDS);
  } catch (e) {
    deps.log.error({ reason: (e as Error).message }, 'assertion_jtis insert failed');
    throw serviceUnavailable('The token service is temporarily unavailable');
  }
  if (!fresh) throw new OAuthError('invalid_client', 'assertion already used (jti replay)', 'jti replay');

  const requester = clientRequester(client, scopes.scopes, iua);
  const lifetime = deps.config.auth.tokenLifetimeSeconds;
  const claims = accessTokenClaims(requester, { issuer: deps.config.publicBaseUrl, nowSeconds, lifetimeSeconds: lifetime });
  requester.tokenId = claims.jti;
  return { accessToken: signAccessToken(claims, deps.keys.signingKey()), expiresIn: lifetime, requester };
}
