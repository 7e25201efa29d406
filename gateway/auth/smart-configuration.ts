import { JWS_ALGORITHMS } from './jws';
import { ALL_SCOPES, ROLE_SCOPES, scopesForRoles } from './scopes';
import type { Role } from '../config';

/** Path of the token endpoint, under publicBaseUrl. */
export const TOKEN_ENDPOINT_PATH = '/auth/token';
/** The authorization endpoint people sign in at, and the revocation endpoint that signs them out (docs/users.md). */
export const AUTHORIZE_PATH = '/auth/authorize';
export const REVOKE_PATH = '/auth/revoke';
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** The token endpoint URL: the `aud` every client assertion must carry (API.md §3). */
export const tokenEndpointUrl = (publicBaseUrl: string) => `${publicBaseUrl.replace(/\/+$/, '')}${TOKEN_ENDPOINT_PATH}`;

/**
 * `GET /.well-known/smart-configuration` (API.md §3; SMART App Launch 2.x "Conformance"): what a
 * backend service needs to discover the token endpoint and what it accepts, and what an app people
 * sign in to needs: the authorization endpoint (code + PKCE S256) and revocation (sign-out).
 */
export function smartConfiguration(publicBaseUrl: string): Record<string, unknown> {
  const base = publicBaseUrl.replace(/\/+$/, '');
  return {
    issuer: base,
    authorization_endpoint: `${base}${AUTHORIZE_PATH}`,
    token_endpoint: tokenEndpointUrl(publicBaseUrl),
    revocation_endpoint: `${base}${REVOKE_PATH}`,
    // the gateway's public token-signing keys (docs/auth.md §9)
    jwks_uri: `${base}/.well-known/jwks.json`,
    grant_types_supported: ['client_credentials', 'authorization_code', 'refresh_token'],
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'none'],
    token_endpoint_auth_signing_alg_values_supported: [...JWS_ALGORITHMS],
    scopes_supported: [...ALL_SCOPES, ...scopesForRoles(Object.keys(ROLE_SCOPES) as Role[], 'user')],
    capabilities: ['client-confidential-asymmetric', 'launch-standalone', 'client-public', 'permission-v2'],
  };
}
