import type { Coding } from '@medplum/fhirtypes';
import type { ClientConfig } from '../config';
import { BREAK_GLASS_PURPOSES, type Requester } from '../context';
import { decodeJws, importPublicJwk, isJwsAlg, verifyJws, type AlgKey } from './jws';
import { clientAuthFailed, OAuthError } from './oauth-error';

/**
 * Client assertions (SMART Backend Services / RFC 7523 private_key_jwt; API.md §3): who the client
 * is, proven by a JWS signed with a key of its configured JWKS, and whom it acts for (IHE IUA
 * `extensions.ihe_iua`). Pure functions over the decoded token, the registered clients and the time.
 */

/** Longest client_assertion accepted. Ours are ~1 KiB; more is an attack or a mistake. */
export const MAX_ASSERTION_BYTES = 8192;
/** `exp` may be at most this far ahead (API.md §3: five minutes). */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;
/** Tolerance for clock differences between a hospital's HIS and the gateway. */
export const CLOCK_SKEW_SECONDS = 30;
export const PURPOSE_OF_USE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
/**
 * The v3-ActReason purposes a token may carry: treatment, break-glass (ETREAT, BTG; clinicians
 * only) and healthcare operations (HOPERAT: auditors, monitoring). Consent judges the rest.
 */
export const SUPPORTED_PURPOSES = new Set(['TREAT', 'ETREAT', 'BTG', 'HOPERAT']);

/** A configured client with its keys imported, bound to their algorithms. */
export interface RegisteredClient {
  config: ClientConfig;
  /** by kid; a key without kid in the config is known by its RFC 7638 thumbprint */
  keys: Map<string, AlgKey>;
}

/** Import every configured client's JWKS; throws naming `clients[i].jwks.keys[j]` for a bad key. */
export function registerClients(clients: readonly ClientConfig[]): Map<string, RegisteredClient> {
  const out = new Map<string, RegisteredClient>();
  clients.forEach((config, i) => {
    const keys = new Map<string, AlgKey>();
    config.jwks.keys.forEach((jwk, j) => {
      try {
        const key = importPublicJwk(jwk as Record<string, unknown>);
        if (keys.has(key.kid)) throw new Error(`duplicate kid ${key.kid}`);
        keys.set(key.kid, key);
      } catch (e) {
        throw new Error(`clients[${i}].jwks.keys[${j}]: ${(e as Error).message}`);
      }
    });
    out.set(config.id, { config, keys });
  });
  return out;
}

const CLIENT_ID_RE = /^[A-Za-z0-9._-]{2,64}$/;

/**
 * The client an assertion claims to come from, read without verifying anything: only for the audit
 * trail of refused requests. Undefined unless it has the shape of a client id.
 */
export function claimedClientId(assertion: unknown, formClientId?: unknown): string | undefined {
  if (typeof formClientId === 'string' && CLIENT_ID_RE.test(formClientId)) return formClientId;
  if (typeof assertion !== 'string') return undefined;
  const jws = decodeJws(assertion, MAX_ASSERTION_BYTES);
  const iss = jws?.payload.iss;
  return typeof iss === 'string' && CLIENT_ID_RE.test(iss) ? iss : undefined;
}

export interface VerifiedAssertion {
  client: RegisteredClient;
  jti: string;
  /** assertion expiry, epoch seconds */
  exp: number;
  payload: Record<string, unknown>;
}

/**
 * Verify a client assertion: shape, algorithm, key, signature, then the claims. Every failure is
 * `invalid_client` (RFC 7523 §3.2); failures before the signature is known good share one
 * description, so a caller learns nothing about which clients or kids exist. Does not check the
 * jti for replay (that needs the store; see jti-store.ts).
 */
export function verifyClientAssertion(
  assertion: string,
  ctx: {
    clients: ReadonlyMap<string, RegisteredClient>;
    /** the `aud` the JWT must carry: the token endpoint URL, or a CDS service's URLs (any one) */
    tokenUrl: string | readonly string[];
    nowSeconds: number;
    formClientId?: string;
    /** CDS Hooks client JWTs may leave `sub` out (CDS Hooks 2.0 §Trusting CDS Clients); assertions may not */
    subOptional?: boolean;
  },
): VerifiedAssertion {
  if (Buffer.byteLength(assertion) > MAX_ASSERTION_BYTES) throw clientAuthFailed('assertion too large');
  const jws = decodeJws(assertion, MAX_ASSERTION_BYTES);
  if (!jws) throw clientAuthFailed('assertion is not a compact JWS');
  const { header, payload } = jws;
  if (!isJwsAlg(header.alg)) throw clientAuthFailed('assertion alg not allowed');
  // RFC 7515 §4.1.11: extensions we would have to understand; we understand none.
  if (header.crit !== undefined) throw clientAuthFailed('assertion has crit header');
  if (header.typ !== undefined && (typeof header.typ !== 'string' || header.typ.toUpperCase() !== 'JWT')) {
    throw clientAuthFailed('assertion typ is not JWT');
  }
  if (typeof header.kid !== 'string' || !header.kid) throw clientAuthFailed('assertion has no kid');
  const iss = payload.iss;
  if (typeof iss !== 'string') throw clientAuthFailed('assertion has no iss');
  const client = ctx.clients.get(iss);
  if (!client) throw clientAuthFailed('unknown client');
  const key = client.keys.get(header.kid);
  if (!key) throw clientAuthFailed('unknown kid');
  if (!verifyJws(jws, key)) throw clientAuthFailed('bad signature');

  // Authentic from here on: descriptions may be specific, they only help the key's holder.
  if (payload.sub !== iss && !(ctx.subOptional && payload.sub === undefined)) {
    throw new OAuthError('invalid_client', 'sub must equal iss (the client id)', 'iss/sub mismatch');
  }
  if (ctx.formClientId !== undefined && ctx.formClientId !== iss) {
    throw new OAuthError('invalid_client', 'client_id does not match the assertion', 'client_id mismatch');
  }
  const aud = payload.aud;
  const allowed: readonly string[] = typeof ctx.tokenUrl === 'string' ? [ctx.tokenUrl] : ctx.tokenUrl;
  const audOk = (typeof aud === 'string' && allowed.includes(aud)) || (Array.isArray(aud) && aud.length > 0 && aud.every((a) => allowed.includes(a)));
  if (!audOk) throw new OAuthError('invalid_client', 'aud must be the token endpoint URL', 'wrong aud');
  const now = ctx.nowSeconds;
  const exp = payload.exp;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new OAuthError('invalid_client', 'exp is required', 'no exp');
  if (exp <= now - CLOCK_SKEW_SECONDS) throw new OAuthError('invalid_client', 'assertion expired', 'expired');
  if (exp > now + MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS) {
    throw new OAuthError('invalid_client', 'exp must be at most 5 minutes ahead', 'exp too far ahead');
  }
  for (const claim of ['nbf', 'iat'] as const) {
    const v = payload[claim];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new OAuthError('invalid_client', `${claim} must be a number`, `bad ${claim}`);
    if (v > now + CLOCK_SKEW_SECONDS) throw new OAuthError('invalid_client', `${claim} is in the future`, `${claim} in future`);
  }
  const jti = payload.jti;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) {
    throw new OAuthError('invalid_client', 'jti is required (at most 256 characters)', 'bad jti');
  }
  return { client, jti, exp, payload };
}

/** The requester a verified client acts as: its hospital and roles, the granted scopes, the person and purpose. */
export function clientRequester(client: ClientConfig, scopes: string[], acting: { user?: Requester['user']; purposeOfUse: string; tokenId?: string }): Requester {
  return {
    clientId: client.id,
    ...(client.hospital ? { hospitalId: client.hospital } : {}),
    roles: [...client.roles],
    scopes,
    ...(acting.user ? { user: acting.user } : {}),
    purposeOfUse: acting.purposeOfUse,
    ...(acting.tokenId ? { tokenId: acting.tokenId } : {}),
  };
}

/** The person and purpose an assertion names (IHE IUA `extensions.ihe_iua`). */
export interface IuaClaims {
  user?: NonNullable<Requester['user']>;
  purposeOfUse: string;
}

const TEXT_RE = /^[^\p{Cc}]{1,128}$/u;
const CODE_RE = /^[^\s\p{Cc}]{1,64}$/u;
const bad = (what: string) => new OAuthError('invalid_request', `invalid extensions.ihe_iua.${what}`);

function codings(v: unknown, what: string, max: number): Coding[] {
  const list = Array.isArray(v) ? v : v && typeof v === 'object' ? [v] : null; // IUA also allows one Coding
  if (!list || list.length === 0 || list.length > max) throw bad(what);
  return list.map((c) => {
    if (!c || typeof c !== 'object') throw bad(what);
    const { system, code, display } = c as Record<string, unknown>;
    if (typeof code !== 'string' || !CODE_RE.test(code)) throw bad(what);
    if (system !== undefined && (typeof system !== 'string' || !/^\S{1,256}$/.test(system))) throw bad(what);
    if (display !== undefined && (typeof display !== 'string' || !TEXT_RE.test(display))) throw bad(what);
    return { ...(system ? { system } : {}), code, ...(display ? { display } : {}) };
  });
}

/** Read and check `extensions.ihe_iua`; `purpose_of_use` defaults to TREAT. Throws `invalid_request`. */
export function readIuaClaims(payload: Record<string, unknown>): IuaClaims {
  const ext = payload.extensions;
  if (ext === undefined) return { purposeOfUse: 'TREAT' };
  if (!ext || typeof ext !== 'object' || Array.isArray(ext)) throw new OAuthError('invalid_request', 'invalid extensions');
  const iua = (ext as Record<string, unknown>).ihe_iua;
  if (iua === undefined) return { purposeOfUse: 'TREAT' };
  if (!iua || typeof iua !== 'object' || Array.isArray(iua)) throw bad('');
  const { subject_id: id, subject_name: name, subject_role: role, purpose_of_use: purpose } = iua as Record<string, unknown>;

  let purposeOfUse = 'TREAT';
  if (purpose !== undefined) {
    const list = codings(purpose, 'purpose_of_use', 1);
    const p = list[0]!;
    if ((p.system !== undefined && p.system !== PURPOSE_OF_USE_SYSTEM) || !SUPPORTED_PURPOSES.has(p.code!)) {
      throw new OAuthError('invalid_request', `unsupported purpose_of_use (supported: ${[...SUPPORTED_PURPOSES].join(', ')})`);
    }
    purposeOfUse = p.code!;
  }
  if (id === undefined) {
    if (name !== undefined || role !== undefined) throw bad('subject_id');
    return { purposeOfUse };
  }
  if (typeof id !== 'string' || !TEXT_RE.test(id)) throw bad('subject_id');
  if (name !== undefined && (typeof name !== 'string' || !TEXT_RE.test(name))) throw bad('subject_name');
  const roles = role === undefined ? [] : codings(role, 'subject_role', 10);
  return { user: { id, ...(name !== undefined ? { name } : {}), roles }, purposeOfUse };
}

/**
 * Rules between the client, its grant and the person (API.md §3, §5): a token that reaches any data
 * names the person it is for; break-glass is for clinicians only (refused as `invalid_scope`: it is
 * asking for more than the client's roles allow).
 */
export function checkIuaForClient(iua: IuaClaims, client: ClientConfig, grantedScopes: readonly string[]): void {
  if (grantedScopes.length > 0 && !iua.user) {
    throw new OAuthError('invalid_request', 'the assertion must name the user (extensions.ihe_iua.subject_id)');
  }
  if (BREAK_GLASS_PURPOSES.has(iua.purposeOfUse) && !client.roles.includes('clinician')) {
    throw new OAuthError('invalid_scope', 'break-glass purposes are for clinician clients only');
  }
}
