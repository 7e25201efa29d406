import type { JsonWebKey } from 'node:crypto';
import type { Route } from '../route';

/** Path of the gateway's JWK Set (RFC 7517 §5): the public keys its access tokens are signed with. */
export const JWKS_PATH = '/.well-known/jwks.json';

/** How long an answer is reused, here and by callers: the key store re-reads as often. */
const MAX_AGE_SECONDS = 60;

/**
 * `GET /.well-known/jwks.json` (open, not audited: public keys only, no patient data): every key an
 * instance accepts tokens from, by `kid` — the key folder's and those other instances published,
 * attested (docs/auth.md §9). During a rotation it lists the old key and the new one.
 */
export function jwksRoutes(deps: { jwks: () => Promise<JsonWebKey[]>; now?: () => number }): Route[] {
  const now = deps.now ?? Date.now;
  let cached: { at: number; keys: JsonWebKey[] } | undefined;
  return [
    {
      method: 'GET',
      path: JWKS_PATH,
      interaction: 'jwks',
      access: { kind: 'none' },
      audited: false,
      body: 'none',
      handler: async () => {
        if (!cached || now() - cached.at > MAX_AGE_SECONDS * 1000) cached = { at: now(), keys: await deps.jwks() };
        return {
          status: 200,
          contentType: 'application/jwk-set+json',
          headers: { 'Cache-Control': `public, max-age=${MAX_AGE_SECONDS}` },
          body: { keys: cached.keys },
        };
      },
    },
  ];
}
