import { randomUUID } from 'node:crypto';
import type { Coding } from '@medplum/fhirtypes';
import { ROLES, type Role } from '../config';
import type { Requester } from '../context';
import { PURPOSE_OF_USE_SYSTEM } from './client-assertion';
import { decodeJws, signJws, verifyJws, type AlgKey, type DecodedJws } from './jws';

/**
 * The gateway's access tokens (API.md §3): JWT access tokens in the shape of RFC 9068 (`typ`
 * `at+jwt`), signed by the gateway, carrying the client, its hospital and roles, the granted scopes
 * and the IUA user claims under `extensions.ihe_iua` — the same names as in the assertion, so a
 * token can be read with the IUA profile in hand.
 */
export const ACCESS_TOKEN_TYP = 'at+jwt';
/** Longest bearer token accepted; ours are ~1 KiB. */
export const MAX_ACCESS_TOKEN_LENGTH = 8192;

export interface AccessTokenClaims {
  iss: string;
  aud: string;
  sub: string;
  client_id: string;
  iat: number;
  exp: number;
  jti: string;
  scope: string;
  roles: Role[];
  hospital?: string;
  /** a person's session (OpenID Connect's `sid`): their tokens end with it */
  sid?: string;
  extensions: {
    ihe_iua: {
      subject_id?: string;
      subject_name?: string;
      subject_role?: Coding[];
      purpose_of_use: Coding[];
    };
    /** ours: the typed reason of a break-glass token (IUA has no claim for it) */
    xzq_break_glass?: { reason: string };
  };
}

/** Build the claims of a new token for `requester` (tokenId is assigned here). */
export function accessTokenClaims(
  requester: Omit<Requester, 'tokenId'>,
  opts: { issuer: string; nowSeconds: number; lifetimeSeconds: number; jti?: string },
): AccessTokenClaims {
  const iua: AccessTokenClaims['extensions']['ihe_iua'] = {
    purpose_of_use: [{ system: PURPOSE_OF_USE_SYSTEM, code: requester.purposeOfUse }],
  };
  if (requester.user) {
    iua.subject_id = requester.user.id;
    if (requester.user.name !== undefined) iua.subject_name = requester.user.name;
    if (requester.user.roles.length) iua.subject_role = requester.user.roles;
  }
  const extensions: AccessTokenClaims['extensions'] = { ihe_iua: iua };
  if (requester.breakGlassReason) extensions.xzq_break_glass = { reason: requester.breakGlassReason };
  return {
    iss: opts.issuer,
    aud: opts.issuer,
    // RFC 9068 §2.2: the resource owner when there is one (a signed-in person), else the client
    sub: requester.username ?? requester.clientId,
    client_id: requester.clientId,
    iat: opts.nowSeconds,
    exp: opts.nowSeconds + opts.lifetimeSeconds,
    jti: opts.jti ?? randomUUID(),
    scope: requester.scopes.join(' '),
    roles: [...requester.roles],
    ...(requester.hospitalId ? { hospital: requester.hospitalId } : {}),
    ...(requester.sessionId ? { sid: requester.sessionId } : {}),
    extensions,
  };
}

export function signAccessToken(claims: AccessTokenClaims, key: AlgKey): string {
  return signJws(claims as unknown as Record<string, unknown>, key, { typ: ACCESS_TOKEN_TYP });
}

export type TokenCheck =
  | { ok: true; requester: Requester; claims: Record<string, unknown> }
  | { ok: false; reason: 'malformed' | 'unknown-key' | 'signature' | 'issuer' | 'audience' | 'expired' | 'claims' };

/** Decode an access token's compact form; null when it is not one. */
export function decodeAccessToken(token: string): DecodedJws | null {
  const jws = decodeJws(token, MAX_ACCESS_TOKEN_LENGTH);
  if (!jws || jws.header.typ !== ACCESS_TOKEN_TYP || typeof jws.header.kid !== 'string') return null;
  return jws;
}

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const ROLE_SET = new Set<string>(ROLES);

/**
 * Verify a decoded access token with the key its kid names (the caller finds the key) and turn it
 * into a Requester. The key fixes the algorithm; iss and aud must be the gateway; exp is hard.
 */
export function verifyAccessToken(jws: DecodedJws, key: AlgKey | undefined, opts: { issuer: string; nowSeconds: number }): TokenCheck {
  if (!key) return { ok: false, reason: 'unknown-key' };
  if (!verifyJws(jws, key)) return { ok: false, reason: 'signature' };
  const c = jws.payload;
  if (c.iss !== opts.issuer) return { ok: false, reason: 'issuer' };
  if (c.aud !== opts.issuer) return { ok: false, reason: 'audience' };
  if (typeof c.exp !== 'number' || c.exp <= opts.nowSeconds) return { ok: false, reason: 'expired' };
  const iua = (c.extensions as { ihe_iua?: Record<string, unknown> } | undefined)?.ihe_iua;
  const purpose = (iua?.purpose_of_use as Coding[] | undefined)?.[0]?.code;
  const clientId = c.client_id ?? c.sub;
  if (
    typeof c.sub !== 'string' ||
    typeof clientId !== 'string' ||
    (c.sid !== undefined && typeof c.sid !== 'string') ||
    typeof c.jti !== 'string' ||
    typeof c.scope !== 'string' ||
    !isStringArray(c.roles) ||
    !c.roles.every((r) => ROLE_SET.has(r)) ||
    (c.hospital !== undefined && typeof c.hospital !== 'string') ||
    typeof purpose !== 'string'
  ) {
    return { ok: false, reason: 'claims' };
  }
  const requester: Requester = {
    clientId,
    roles: c.roles as Role[],
    scopes: c.scope ? c.scope.split(' ') : [],
    purposeOfUse: purpose,
    tokenId: c.jti,
  };
  if (typeof c.hospital === 'string') requester.hospitalId = c.hospital;
  if (typeof c.sid === 'string') {
    requester.sessionId = c.sid;
    requester.username = c.sub;
  }
  const reason = (c.extensions as { xzq_break_glass?: { reason?: unknown } } | undefined)?.xzq_break_glass?.reason;
  if (typeof reason === 'string') requester.breakGlassReason = reason;
  if (typeof iua?.subject_id === 'string') {
    requester.user = {
      id: iua.subject_id,
      ...(typeof iua.subject_name === 'string' ? { name: iua.subject_name } : {}),
      roles: Array.isArray(iua.subject_role) ? (iua.subject_role as Coding[]) : [],
    };
  }
  return { ok: true, requester, claims: c };
}
