import { JWS_ALGORITHMS } from './jws';
import { ALL_SCOPES } from './scopes';

/** Path of the token endpoint, under publicBaseUrl. */
export const TOKEN_ENDPOINT_PATH = '/auth/token';
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** The token endpoint URL: the `aud` every client assertion must carry (API.md §3). */
export const tokenEndpointUrl = (publicBaseUrl: string) => `${publicBaseUrl.replace(/\/+$/, '')}${TOKEN_ENDPOINT_PATH}`;

/**
 * `GET /.well-known/smart-configuration` (API.md §3; SMART App Launch 2.x "Conformance"): what a
 * backend service needs to discover the token endpoint and what it accepts.
 */
export function smartConfiguration(publicBaseUrl: string): Record<string, unknown> {
  return {
    token_endpoint: tokenEndpointUrl(publicBaseUrl),
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: [...JWS_ALGORITHMS],
    scopes_supported: [...ALL_SCOPES],
    capabilities: ['client-confidential-asymmetric'],
  };
}
