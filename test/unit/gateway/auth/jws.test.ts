import { createHmac, generateKeyPairSync } from 'node:crypto';
import {
  decodeJws,
  hasPrivateMembers,
  importPrivateJwk,
  importPublicJwk,
  jwkThumbprint,
  publicJwkOf,
  signJws,
  verifyJws,
  type AlgKey,
} from '../../../../gateway/auth/jws';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaOther = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const rsaSigner: AlgKey = { kid: 'r1', alg: 'RS384', key: rsa.privateKey };
const rsaVerifier: AlgKey = { kid: 'r1', alg: 'RS384', key: rsa.publicKey };
const ecSigner: AlgKey = { kid: 'e1', alg: 'ES384', key: ec.privateKey };
const ecVerifier: AlgKey = { kid: 'e1', alg: 'ES384', key: ec.publicKey };
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('signJws / verifyJws', () => {
  it.each([
    ['RS384', rsaSigner, rsaVerifier],
    ['ES384', ecSigner, ecVerifier],
  ])('%s round-trips and binds the header', (alg, signer, verifier) => {
    const token = signJws({ a: 1 }, signer, { typ: 'JWT' });
    const jws = decodeJws(token)!;
    expect(jws.header).toEqual({ typ: 'JWT', alg, kid: signer.kid });
    expect(jws.payload).toEqual({ a: 1 });
    expect(verifyJws(jws, verifier)).toBe(true);
  });

  it('refuses a token whose header alg differs from the key’s', () => {
    const jws = decodeJws(signJws({ a: 1 }, rsaSigner))!;
    expect(verifyJws({ ...jws, header: { ...jws.header, alg: 'ES384' } }, rsaVerifier)).toBe(false);
    expect(verifyJws(jws, { ...rsaVerifier, alg: 'ES384' })).toBe(false);
  });

  it('refuses another key, a changed payload, an empty signature', () => {
    const token = signJws({ a: 1 }, rsaSigner);
    const jws = decodeJws(token)!;
    expect(verifyJws(jws, { kid: 'r1', alg: 'RS384', key: rsaOther.publicKey })).toBe(false);
    const [h, , s] = token.split('.');
    expect(verifyJws(decodeJws(`${h}.${b64({ a: 2 })}.${s}`)!, rsaVerifier)).toBe(false);
    expect(verifyJws(decodeJws(`${h}.${b64({ a: 1 })}.`)!, rsaVerifier)).toBe(false);
  });

  it('refuses an HMAC token keyed with the RSA public key (key confusion)', () => {
    const secret = rsa.publicKey.export({ format: 'pem', type: 'spki' });
    const input = `${b64({ alg: 'HS384', kid: 'r1' })}.${b64({ a: 1 })}`;
    const sig = createHmac('sha384', secret).update(input).digest('base64url');
    expect(verifyJws(decodeJws(`${input}.${sig}`)!, rsaVerifier)).toBe(false);
  });
});

describe('decodeJws', () => {
  const ok = `${b64({ alg: 'RS384' })}.${b64({ a: 1 })}.c2ln`;
  it('decodes a compact JWS', () => expect(decodeJws(ok)).not.toBeNull());
  it.each([
    ['two parts', `${b64({ alg: 'RS384' })}.${b64({})}`],
    ['four parts', `${ok}.x`],
    ['JSON serialisation', JSON.stringify({ payload: 'x' })],
    ['non-base64url characters', `${b64({ alg: 'RS384' })}.${b64({})}.a+b/`],
    ['header not JSON', `bm90IGpzb24.${b64({})}.c2ln`],
    ['header an array', `${b64(['RS384'])}.${b64({})}.c2ln`],
    ['payload a string', `${b64({ alg: 'RS384' })}.${b64('x')}.c2ln`],
    ['empty header', `.${b64({})}.c2ln`],
    ['too long', `${b64({ alg: 'RS384' })}.${b64({ p: 'x'.repeat(9000) })}.c2ln`],
  ])('null for %s', (_name, token) => {
    expect(decodeJws(token)).toBeNull();
  });
});

describe('JWK import', () => {
  it('binds a public RSA JWK to RS384 and an EC P-384 JWK to ES384 when alg is absent', () => {
    expect(importPublicJwk(rsa.publicKey.export({ format: 'jwk' }) as Record<string, unknown>).alg).toBe('RS384');
    expect(importPublicJwk(ec.publicKey.export({ format: 'jwk' }) as Record<string, unknown>).alg).toBe('ES384');
  });

  it('uses the JWK kid, else the RFC 7638 thumbprint', () => {
    const jwk = rsa.publicKey.export({ format: 'jwk' });
    expect(importPublicJwk({ ...jwk, kid: 'mine' }).kid).toBe('mine');
    expect(importPublicJwk(jwk as Record<string, unknown>).kid).toBe(jwkThumbprint(jwk));
  });

  it.each([
    ['a private JWK', () => rsa.privateKey.export({ format: 'jwk' })],
    ['a symmetric key', () => ({ kty: 'oct', k: 'c2VjcmV0' })],
    ['alg HS384', () => ({ ...rsa.publicKey.export({ format: 'jwk' }), alg: 'HS384' })],
    ['alg RS256', () => ({ ...rsa.publicKey.export({ format: 'jwk' }), alg: 'RS256' })],
    ['alg ES384 on an RSA key', () => ({ ...rsa.publicKey.export({ format: 'jwk' }), alg: 'ES384' })],
    ['RSA 1024', () => generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' })],
    ['EC P-256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' })],
    ['use enc', () => ({ ...rsa.publicKey.export({ format: 'jwk' }), use: 'enc' })],
    ['garbage', () => ({ kty: 'RSA', n: 'AA', e: 'AQAB' })],
  ])('refuses %s', (_name, make) => {
    expect(() => importPublicJwk(make() as Record<string, unknown>)).toThrow();
  });

  it('imports a private signing JWK and publishes only its public half', () => {
    const priv = importPrivateJwk({ ...rsa.privateKey.export({ format: 'jwk' }), kid: 'gw' });
    expect(priv).toMatchObject({ kid: 'gw', alg: 'RS384' });
    const pub = publicJwkOf(priv.key, priv);
    expect(hasPrivateMembers(pub as Record<string, unknown>)).toBe(false);
    expect(pub).toMatchObject({ kid: 'gw', alg: 'RS384', use: 'sig', kty: 'RSA' });
  });
});
