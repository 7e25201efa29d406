import type { Coding } from '@medplum/fhirtypes';
import type { Role } from './config';

/**
 * Who is asking: built from a verified access token (gateway/auth) and handed to every layer below
 * HTTP. Consent, recognition and audit all read it; nothing below HTTP sees express.
 */
export interface Requester {
  clientId: string;
  /** the client's hospital (Organization id); absent for auditor/monitor clients */
  hospitalId?: string;
  roles: Role[];
  /** granted SMART scopes, e.g. `system/DiagnosticReport.rs` */
  scopes: string[];
  /** the person the HIS acts for (IHE IUA extensions.ihe_iua) */
  user?: { id: string; name?: string; roles: Coding[] };
  /** v3-ActReason code: TREAT unless the assertion said otherwise */
  purposeOfUse: string;
  /** the access token's jti, for the audit trail */
  tokenId?: string;
  /** a person signed in to an app (docs/users.md): their session, checked open on every request */
  sessionId?: string;
  /** the account name of that person */
  username?: string;
  /** the reason the person typed when they chose break-glass (ETREAT/BTG) */
  breakGlassReason?: string;
}

export const BREAK_GLASS_PURPOSES = new Set(['ETREAT', 'BTG']);
export const isBreakGlass = (r: Pick<Requester, 'purposeOfUse'>) => BREAK_GLASS_PURPOSES.has(r.purposeOfUse);

/**
 * What one request touched, filled in by the domain layers as they work and read by the audit
 * writer once the request is answered (allowed or refused). One AuditEvent is written per patient.
 */
export class AccessRecord {
  /** unique per request; also sent as the `X-Request-Id` response header */
  constructor(readonly requestId: string) {}
  /** the client an unauthenticated request claimed to be (token endpoint), for refused requests */
  claimedClientId?: string;
  /** regional patient ids concerned */
  readonly patients = new Set<string>();
  /** hospitals whose data was returned */
  readonly hospitalsReturned = new Set<string>();
  /** set when break-glass let the request through where consent alone would not have */
  breakGlass = false;
  /** catalogue items of the results released (codes, never values) */
  readonly items = new Set<string>();
  /** consent withheld some results */
  suppressed = false;
  /** why the asker changed something (a merge, an unmerge): the audit record keeps it */
  reason?: string;
  /** a sign-in or sign-out (docs/users.md): the account name tried and what came of it */
  signIn?: { username: string; result: string };
  /** the FHIR interaction or operation (`search-type`, `read`, `create`, `update`, `$verify`, …) */
  interaction = 'unknown';
  resourceType?: string;
  /** ids of resources created or read (for create/update/read) */
  readonly resourceIds = new Set<string>();

  addPatient(id: string | undefined): void {
    if (id) this.patients.add(id);
  }
}

/** A clock, so tests can fix time. */
export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };
