import type { Role } from '../config';
import type { Requester } from '../context';

/** What a protected request needs: a SMART v2 scope `system/<resource>.<permission>` and/or a role. */
export interface AccessRequirement {
  resource?: string;
  permission?: 'c' | 'r' | 'u' | 'd' | 's';
  roles?: Role[];
}

/** A token issued by the token endpoint (API.md §3). */
export interface IssuedToken {
  accessToken: string;
  expiresIn: number;
  requester: Requester;
}

export interface AuthService {
  init(): Promise<void>;
  /** a verified Requester from `Authorization: Bearer …`; throws a 401 OperationOutcomeError */
  authenticate(authorization: string | undefined): Promise<Requester>;
  /** throws a 403 OperationOutcomeError when the requester lacks what the request needs */
  authorize(requester: Requester, needs: AccessRequirement): void;
  /** the client credentials grant on the parsed token form; throws OAuthError */
  issueToken(form: unknown): Promise<IssuedToken>;
  /**
   * A CDS Hooks client (CDS Hooks 2.0 "Trusting CDS Clients"): the Bearer JWT signed by a configured
   * client's key, `aud` one of `audiences` (the CDS service URL; for feedback also its own URL), `jti` not seen before. The requester has the client's
   * hospital and roles; the person comes from the hook's context. Throws a 401 OperationOutcomeError.
   */
  authenticateCdsClient(authorization: string | undefined, audiences: readonly string[]): Promise<Requester>;
}
