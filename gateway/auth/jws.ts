import { createHash, createPublicKey, createPrivateKey, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto';

/**
 * Compact JWS (RFC 7515) for the two JWTs the gateway handles: client assertions it verifies and
 * access tokens it signs (API.md §3). Written on node:crypto rather than a JWT library so the
 * algorithm is pinned by the *key*, never chosen by the token: a key is imported once together with
 * the one algorithm it may be used with, and a token whose header names another is refused. That
 * closes `alg: none`, HS/RS key confusion and RSA/EC mix-ups by construction.
 */

/** The only signature algorithms accepted anywhere (SMART Backend Services' two). */
export const JWS_ALGORITHMS = ['RS384', 'ES384'] as const;
export type JwsAlg = (typeof JWS_ALGORITHMS)[number];
export const isJwsAlg = (v: unknown): v is JwsAlg => v === 'RS384' || v === 'ES384';

/** A verification or signing key bound to its algorithm. */
export interface AlgKey {
  kid: string;
  alg: JwsAlg;
  key: KeyObject;
}

export interface DecodedJws {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** `base64url(header).base64url(payload)`, the bytes the signature covers */
  signingInput: string;
  signature: Buffer;
}

const B64URL = /^[A-Za-z0-9_-]*$/;
const MIN_RSA_BITS = 2048;

function parseJsonObject(segment: string): Record<string, unknown> | null {
  if (!segment || !B64URL.test(segment)) return null;
  try {
    const v: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * Split and decode a compact JWS without verifying it; null when it is not one (wrong number of
 * parts, characters outside base64url, header or payload not a JSON object, longer than `maxLength`).
 */
export function decodeJws(token: string, maxLength = 8192): DecodedJws | null {
  if (typeof token !== 'string' || token.length > maxLength) return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const [h, p, s] = parts as [string, string, string];
  if (!B64URL.test(s)) return null;
  const header = parseJsonObject(h);
  const payload = parseJsonObject(p);
  if (!header || !payload) return null;
  return { header, payload, signingInput: `${h}.${p}`, signature: Buffer.from(s, 'base64url') };
}

/** Whether `key` is of the kind `alg` needs (RSA ≥ 2048 bits for RS384, P-384 for ES384). */
export function keyFitsAlg(key: KeyObject, alg: JwsAlg): boolean {
  const details = key.asymmetricKeyDetails ?? {};
  if (alg === 'RS384') return key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= MIN_RSA_BITS;
  return key.asymmetricKeyType === 'ec' && details.namedCurve === 'secp384r1';
}

/** The algorithm a key is used with when the JWK does not say. */
export function defaultAlgFor(key: KeyObject): JwsAlg | undefined {
  if (keyFitsAlg(key, 'RS384')) return 'RS384';
  if (keyFitsAlg(key, 'ES384')) return 'ES384';
  return undefined;
}

/**
 * Verify the signature of a decoded JWS with a key bound to one algorithm. False for any mismatch
 * (header alg ≠ key's alg, wrong signature length, bad signature); never throws.
 */
export function verifyJws(jws: DecodedJws, key: AlgKey): boolean {
  if (jws.header.alg !== key.alg) return false;
  try {
    const data = Buffer.from(jws.signingInput);
    if (key.alg === 'ES384') {
      if (jws.signature.length !== 96) return false;
      return verify('sha384', data, { key: key.key, dsaEncoding: 'ieee-p1363' }, jws.signature);
    }
    return verify('sha384', data, key.key, jws.signature);
  } catch {
    return false;
  }
}

/** Sign `payload` as a compact JWS with `key`; `extraHeader` adds e.g. `typ`. */
export function signJws(payload: Record<string, unknown>, key: AlgKey, extraHeader: Record<string, unknown> = {}): string {
  const header = { ...extraHeader, alg: key.alg, kid: key.kid };
  const signingInput = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const data = Buffer.from(signingInput);
  const signature =
    key.alg === 'ES384' ? sign('sha384', data, { key: key.key, dsaEncoding: 'ieee-p1363' }) : sign('sha384', data, key.key);
  return `${signingInput}.${signature.toString('base64url')}`;
}

/** RFC 7638 thumbprint of a public JWK (RSA or EC), base64url SHA-256: a kid that names the key. */
export function jwkThumbprint(jwk: JsonWebKey): string {
  const members =
    jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** Whether a JWK carries private (or symmetric) key material. */
export const hasPrivateMembers = (jwk: Record<string, unknown>) => PRIVATE_MEMBERS.some((m) => m in jwk);

/** The public half of a JWK, without private members and with the fields we set. */
export function publicJwkOf(key: KeyObject, extra: { kid: string; alg: JwsAlg }): JsonWebKey {
  const pub = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' });
  return { ...pub, kid: extra.kid, alg: extra.alg, use: 'sig' };
}

/**
 * Import a public JWK as a verification key bound to one algorithm: the JWK's `alg` when given
 * (must be RS384 or ES384), else the one its key type implies. Throws with a reason (no key
 * material) when the JWK is private, symmetric, malformed or too weak.
 */
export function importPublicJwk(jwk: Record<string, unknown>, fallbackKid?: string): AlgKey {
  if (hasPrivateMembers(jwk)) throw new Error('holds private key material; configure the public key only');
  if (jwk.kty !== 'RSA' && jwk.kty !== 'EC') throw new Error(`kty must be RSA or EC`);
  if (jwk.use !== undefined && jwk.use !== 'sig') throw new Error('use must be sig');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch {
    throw new Error('is not a valid public JWK');
  }
  return bindAlg(key, jwk, fallbackKid ?? jwkThumbprint(jwk as JsonWebKey));
}

/** Import a private JWK (the gateway's own signing key) bound to its algorithm. */
export function importPrivateJwk(jwk: Record<string, unknown>): AlgKey {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch {
    throw new Error('is not a valid private JWK');
  }
  const kid = typeof jwk.kid === 'string' && jwk.kid ? jwk.kid : jwkThumbprint(createPublicKey(key).export({ format: 'jwk' }));
  return bindAlg(key, jwk, kid);
}

function bindAlg(key: KeyObject, jwk: Record<string, unknown>, kid: string): AlgKey {
  const alg = jwk.alg === undefined ? defaultAlgFor(key) : jwk.alg;
  if (!isJwsAlg(alg)) throw new Error(`alg must be one of ${JWS_ALGORITHMS.join(', ')} (RSA ≥ ${MIN_RSA_BITS} bits or EC P-384)`);
  if (!keyFitsAlg(key, alg)) throw new Error(`key does not fit alg ${alg} (RSA ≥ ${MIN_RSA_BITS} bits or EC P-384)`);
  return { kid: typeof jwk.kid === 'string' && jwk.kid ? jwk.kid : kid, alg, key };
}
