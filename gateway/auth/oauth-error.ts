/**
 * OAuth 2.0 token endpoint errors (RFC 6749 §5.2, RFC 7523 §3.2; API.md §3). These are not
 * OperationOutcomes: the token endpoint answers in OAuth's own JSON.
 */
export type OAuthErrorCode = 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'invalid_scope' | 'unsupported_grant_type';

export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    /** short and generic: returned to the caller */
    readonly description: string,
    /** precise, for the log only (never assertion text or key material) */
    readonly reason: string = description,
  ) {
    super(`${error}: ${description}`);
    this.name = 'OAuthError';
  }

  /** 401 for a client that could not be authenticated, 400 for everything else. */
  get status(): number {
    return this.error === 'invalid_client' ? 401 : 400;
  }
}

/** Headers of every token endpoint response (RFC 6749 §5.1). */
export const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' } as const;

/** RFC 7523's answer to every assertion that does not authenticate the client: one description for all. */
export const clientAuthFailed = (reason: string) => new OAuthError('invalid_client', 'client authentication failed', reason);
