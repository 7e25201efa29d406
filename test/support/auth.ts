import { createHash, createHmac, generateKeyPairSync, randomUUID, sign as cryptoSign, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import type { Role } from '../../gateway/config';

/**
 * Test clients of the token endpoint (API.md §3): real key pairs, real signed client assertions.
 * The signer here is written independently of gateway/auth so tests do not check the gateway's
 * code against itself.
 */

export interface TestClient {
  id: string;
  config: { id: string; hospital?: string; roles: Role[]; jwks: { keys: JsonWebKey[] } };
  privateKey: KeyObject;
  kid: string;
  alg: 'RS384' | 'ES384';
}

export interface TestUser {
  id: string;
  name?: string;
  role?: { system: string; code: string };
}

export const TOKEN_PATH = '/auth/token';
export const DEFAULT_PUBLIC_BASE_URL = 'http://127.0.0.1:8080';
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
export const PURPOSE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
/**
 * The person an assertion names when the caller does not say (the gateway requires one in every
 * token that reaches data). Pass `user: undefined` explicitly for an assertion without a person.
 */
export const DEFAULT_TEST_USER: TestUser = { id: 'T0001', name: '测试医生' };

// Key generation (RSA especially) is slow: one pair per client id and algorithm per process.
const keyCache = new Map<string, { privateKey: KeyObject; publicKey: KeyObject }>();

function keyPair(id: string, alg: 'RS384' | 'ES384') {
  const cacheKey = `${alg}:${id}`;
  let pair = keyCache.get(cacheKey);
  if (!pair) {
    pair =
      alg === 'RS384'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ec', { namedCurve: 'P-384' });
    keyCache.set(cacheKey, pair);
  }
  return pair;
}

/** RFC 7638 JWK thumbprint: a kid that names the key itself. */
function thumbprint(jwk: JsonWebKey): string {
  const members =
    jwk.kty === 'EC'
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

/** A client with a fresh (per process, per id) key pair and its public JWKS, ready for the config. */
export function makeTestClient(opts: { id: string; hospital?: string; roles: Role[]; alg?: 'RS384' | 'ES384' }): TestClient {
  const alg = opts.alg ?? 'RS384';
  const { privateKey, publicKey } = keyPair(opts.id, alg);
  const jwk = publicKey.export({ format: 'jwk' });
  const kid = thumbprint(jwk);
  const config: TestClient['config'] = {
    id: opts.id,
    ...(opts.hospital ? { hospital: opts.hospital } : {}),
    roles: [...opts.roles],
    jwks: { keys: [{ ...jwk, kid, alg, use: 'sig' }] },
  };
  return { id: opts.id, config, privateKey, kid, alg };
}

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/**
 * A compact JWS client assertion. Defaults make a valid one, naming {@link DEFAULT_TEST_USER} unless
 * `user` is given (even as undefined). Every option exists to make an invalid one: `alg: 'none'`,
 * `alg: 'HS384'` with `key` a string (HMAC secret), another `key`, `kid`, `iat`, `expiresIn`
 * (seconds from iat, may be negative), and `claims` merged last (a claim set to `undefined` is
 * removed).
 */
export function signClientAssertion(
  client: TestClient,
  opts: {
    aud: string;
    user?: TestUser;
    purposeOfUse?: string;
    jti?: string;
    expiresIn?: number;
    iat?: number;
    alg?: string;
    kid?: string;
    key?: KeyObject | string;
    claims?: Record<string, unknown>;
  },
): string {
  const alg = opts.alg ?? client.alg;
  const iat = opts.iat ?? Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = {
    iss: client.id,
    sub: client.id,
    aud: opts.aud,
    iat,
    exp: iat + (opts.expiresIn ?? 60),
    jti: opts.jti ?? randomUUID(),
  };
  const user = 'user' in opts ? opts.user : DEFAULT_TEST_USER;
  if (user || opts.purposeOfUse) {
    const iua: Record<string, unknown> = {};
    if (user) {
      iua.subject_id = user.id;
      if (user.name !== undefined) iua.subject_name = user.name;
      if (user.role) iua.subject_role = [user.role];
    }
    if (opts.purposeOfUse) iua.purpose_of_use = [{ system: PURPOSE_SYSTEM, code: opts.purposeOfUse }];
    payload.extensions = { ihe_iua: iua };
  }
  for (const [k, v] of Object.entries(opts.claims ?? {})) {
    if (v === undefined) delete payload[k];
    else payload[k] = v;
  }
  const header = { alg, typ: 'JWT', kid: opts.kid ?? client.kid };
  const signingInput = `${b64url(header)}.${b64url(payload)}`;
  const key = opts.key ?? client.privateKey;
  let signature: Buffer;
  if (alg === 'none') {
    signature = Buffer.alloc(0);
  } else if (alg.startsWith('HS')) {
    const secret = typeof key === 'string' ? key : key.type === 'secret' ? key : key.export({ format: 'pem', type: 'spki' });
    signature = createHmac(`sha${alg.slice(2)}`, secret).update(signingInput).digest();
  } else {
    if (typeof key === 'string') throw new Error(`a string key only makes sense for HS*, not ${alg}`);
    const hash = `sha${alg.slice(2)}`;
    signature = alg.startsWith('ES')
      ? cryptoSign(hash, Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' })
      : alg.startsWith('PS')
        ? cryptoSign(hash, Buffer.from(signingInput), { key, padding: 6 /* RSA_PKCS1_PSS_PADDING */ })
        : cryptoSign(hash, Buffer.from(signingInput), key);
  }
  return `${signingInput}.${signature.toString('base64url')}`;
}

/** The form of a token request (API.md §3), ready for supertest's `.type('form').send(…)`. */
export function tokenRequestForm(assertion: string, scope?: string): Record<string, string> {
  return {
    grant_type: 'client_credentials',
    client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: assertion,
    ...(scope !== undefined ? { scope } : {}),
  };
}

/**
 * An access token for `client` from the app's token endpoint (the person is {@link DEFAULT_TEST_USER}
 * unless `user` is given); throws with the OAuth error body on failure.
 */
export async function requestToken(
  app: Express,
  client: TestClient,
  opts: { publicBaseUrl?: string; scope?: string; user?: TestUser; purposeOfUse?: string } = {},
): Promise<string> {
  const aud = `${(opts.publicBaseUrl ?? DEFAULT_PUBLIC_BASE_URL).replace(/\/+$/, '')}${TOKEN_PATH}`;
  const assertion = signClientAssertion(client, {
    aud,
    ...('user' in opts ? { user: opts.user } : {}),
    purposeOfUse: opts.purposeOfUse,
  });
  const res = await request(app).post(TOKEN_PATH).type('form').send(tokenRequestForm(assertion, opts.scope));
  if (res.status !== 200 || typeof res.body?.access_token !== 'string') {
    throw new Error(`token request for ${client.id} failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body.access_token as string;
}
