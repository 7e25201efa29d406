import { claimedClientId } from '../../auth/client-assertion';
import type { AuthService } from '../../auth/contract';
import { NO_STORE, OAuthError } from '../../auth/oauth-error';
import { smartConfiguration, TOKEN_ENDPOINT_PATH } from '../../auth/smart-configuration';
import type { GatewayConfig } from '../../config';
import type { FhirRequest, FhirResponse, Route } from '../route';

/** An OAuth error in OAuth's own JSON (RFC 6749 §5.2), not an OperationOutcome. */
export function oauthErrorResponse(e: OAuthError): FhirResponse {
  return {
    status: e.status,
    contentType: 'application/json',
    headers: { ...NO_STORE },
    body: { error: e.error, error_description: e.description },
  };
}

/**
 * SMART discovery and the token endpoint (API.md §3). `POST /auth/token`: OAuth JSON in, OAuth
 * JSON out (never an OperationOutcome, except 503 when the replay store cannot be written). Sets
 * `req.requester` on success and `req.record.claimedClientId` whenever a client id can be read, for
 * the audit trail.
 */
export function authRoutes(auth: AuthService, config: GatewayConfig): Route[] {
  async function token(req: FhirRequest): Promise<FhirResponse> {
    const raw = req.body as Record<string, unknown> | undefined;
    const claimed = claimedClientId(raw?.client_assertion, raw?.client_id);
    if (claimed) req.record.claimedClientId = claimed;
    try {
      const issued = await auth.issueToken(raw);
      req.requester = issued.requester;
      return {
        status: 200,
        contentType: 'application/json',
        headers: { ...NO_STORE },
        body: {
          access_token: issued.accessToken,
          token_type: 'bearer',
          expires_in: issued.expiresIn,
          scope: issued.requester.scopes.join(' '),
          // people signed in to an app (docs/users.md §3): RFC 6749 §5.1 allows further members
          ...(issued.refreshToken ? { refresh_token: issued.refreshToken } : {}),
          ...(issued.user ? { user: issued.user } : {}),
        },
      };
    } catch (e) {
      if (e instanceof OAuthError) return oauthErrorResponse(e);
      throw e;
    }
  }

  return [
    {
      method: 'GET',
      path: '/.well-known/smart-configuration',
      interaction: 'smart-configuration',
      access: { kind: 'none' },
      audited: false,
      body: 'none',
      handler: async () => ({
        status: 200,
        contentType: 'application/json',
        headers: { 'Cache-Control': 'public, max-age=300' },
        body: smartConfiguration(config.publicBaseUrl),
      }),
    },
    // Never waits for admission (gateway/http/admission.ts): a token request holds no patient data and
    // little memory, and its durable writes (the jti, the audit record) batch better the more run at
    // once; gated, the bench's token endpoint fell from 364 to 212 tokens/s.
    { method: 'POST', path: TOKEN_ENDPOINT_PATH, interaction: 'token', access: { kind: 'none' }, audited: true, admitted: false, body: 'form', handler: token },
  ];
}
