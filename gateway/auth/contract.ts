import type { Role } from '../config';
import type { Requester } from '../context';
import type { SignIn } from './sign-in';

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
  /** people signed in to an app (docs/users.md): the rotating refresh token, and who they are */
  refreshToken?: string;
  user?: SignedInUser;
}

/** Who signed in, for the app to show (the token response's `user`). */
export interface SignedInUser {
  username: string;
  name: string;
  staffId: string;
  hospital?: string;
  hospitalName?: string;
  roles: Role[];
}

export interface AuthService {
  init(): Promise<void>;
  /** a verified Requester from `Authorization: Bearer …`; throws a 401 OperationOutcomeError */
  authenticate(authorization: string | undefined): Promise<Requester>;
  /** throws a 403 OperationOutcomeError when the requester lacks what the request needs */
  authorize(requester: Requester, needs: AccessRequirement): void;
  /**
   * The token endpoint on the parsed form: `client_credentials` (hospital systems), and
   * `authorization_code` / `refresh_token` (people in an app, docs/users.md); throws OAuthError.
   */
  issueToken(form: unknown): Promise<IssuedToken>;
  /** RFC 7009 revocation (sign-out): the person whose session ended, if a session did; throws OAuthError */
  revokeToken(form: unknown): Promise<Requester | undefined>;
  /** the authorization endpoint's sign-in (docs/users.md §2) */
  readonly signIn: SignIn;
  /**
   * A CDS Hooks client (CDS Hooks 2.0 "Trusting CDS Clients"): the Bearer JWT signed by a configured
   * client's key, `aud` one of `audiences` (the CDS service URL; for feedback also its own URL), `jti` not seen before. The requester has the client's
   * hospital and roles; the person comes from the hook's context. Throws a 401 OperationOutcomeError.
   */
  authenticateCdsClient(authorization: string | undefined, audiences: readonly string[]): Promise<Requester>;
}
