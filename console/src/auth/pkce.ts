/**
 * PKCE (RFC 7636, S256) and the `state` of an authorization request, from the browser's own
 * cryptographic random source. The verifier never leaves the tab except to the token endpoint.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';

/** A random string of the RFC 7636 unreserved characters (43–128 for a verifier). */
export function randomString(length: number): string {
  // 256 is not a multiple of 66: bytes ≥ 198 (3 × 66) are dropped so every character is equally likely.
  const out: string[] = [];
  while (out.length < length) {
    const bytes = crypto.getRandomValues(new Uint8Array(length * 2));
    for (const b of bytes) {
      if (b < 198 && out.length < length) out.push(ALPHABET[b % 66]!);
    }
  }
  return out.join('');
}

export function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** BASE64URL(SHA-256(ASCII(verifier))) */
export async function s256Challenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

export interface PkcePair {
  verifier: string;
  challenge: string;
  state: string;
}

export async function newPkce(): Promise<PkcePair> {
  const verifier = randomString(64);
  return { verifier, challenge: await s256Challenge(verifier), state: randomString(32) };
}
