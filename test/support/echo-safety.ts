import fc from 'fast-check';

/**
 * What no answer of the gateway may carry (issue #14): a C0 control other than tab, CR and LF, DEL,
 * a C1 control, or a lone UTF-16 surrogate. Written here independently of gateway/fhir/fhir-string.ts
 * so the tests do not check the sanitiser against itself.
 */
export function unsafeCharIn(s: string): string | undefined {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || (c >= 0x7f && c <= 0x9f)) return `U+${c.toString(16).padStart(4, '0')} at ${i}`;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else return `lone high surrogate U+${c.toString(16)} at ${i}`;
    } else if (c >= 0xdc00 && c <= 0xdfff) return `lone low surrogate U+${c.toString(16)} at ${i}`;
  }
  return undefined;
}

/** Every string (keys too) of a JSON value that holds an unsafe character, with its path. */
export function unsafeStringsIn(value: unknown, path = '$'): string[] {
  if (typeof value === 'string') {
    const bad = unsafeCharIn(value);
    return bad ? [`${path}: ${bad} in ${JSON.stringify(value)}`] : [];
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => unsafeStringsIn(v, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => [...unsafeStringsIn(k, `${path} key`), ...unsafeStringsIn(v, `${path}.${k}`)]);
  }
  return [];
}

const hex = (n: number, width = 4) => n.toString(16).toUpperCase().padStart(width, '0');

/** A C0 or C1 control, DEL, tab/CR/LF, or a noncharacter. */
export const controlChar = (): fc.Arbitrary<string> =>
  fc.oneof(fc.integer({ min: 0x00, max: 0x1f }), fc.integer({ min: 0x7f, max: 0x9f }), fc.constantFrom(0xfffe, 0xffff)).map((c) => String.fromCharCode(c));

/** One UTF-16 surrogate on its own. */
export const loneSurrogate = (): fc.Arbitrary<string> =>
  fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));

/**
 * Text a request might carry, once decoded: controls, lone surrogates, whitespace, ASCII, CJK and
 * characters outside the BMP, mixed.
 */
export const hostileText = (maxLength = 24): fc.Arbitrary<string> =>
  fc
    .array(
      fc.oneof(
        { weight: 3, arbitrary: controlChar() },
        { weight: 2, arbitrary: loneSurrogate() },
        { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
        { weight: 2, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 4 }) },
        { weight: 1, arbitrary: fc.constantFrom(' ', '\u00a0', '\u2028', '\ufeff', '血常规', '😀', '"', '\\', "'", '<script>', '|', ',', '$', 'a'.repeat(70)) },
      ),
      { maxLength },
    )
    .map((parts) => parts.join(''));

/** Percent-encode UTF-8 bytes; a lone surrogate is written as its (invalid) WTF-8 bytes, e.g. %ED%A0%80. */
export function percentEncode(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (/^[A-Za-z0-9\-._~]$/.test(ch)) out += ch;
    else if (cp >= 0xd800 && cp <= 0xdfff) out += `%${hex(0xe0 | (cp >> 12), 2)}%${hex(0x80 | ((cp >> 6) & 0x3f), 2)}%${hex(0x80 | (cp & 0x3f), 2)}`;
    else out += [...Buffer.from(ch, 'utf8')].map((b) => `%${hex(b, 2)}`).join('');
  }
  return out;
}

/**
 * A URL component (path segment or query value) as a client might send it: percent-encoded hostile
 * text, raw percent bytes (`%00`, `%C2%85`, `%FF`), broken escapes (`%`, `%zz`) and dots.
 */
export const urlComponent = (): fc.Arbitrary<string> =>
  fc
    .array(
      fc.oneof(
        { weight: 4, arbitrary: hostileText(8).map(percentEncode) },
        { weight: 2, arbitrary: fc.integer({ min: 0, max: 255 }).map((b) => `%${hex(b, 2)}`) },
        { weight: 1, arbitrary: fc.constantFrom('%', '%%', '%zz', '%0', '%C2%85', '%E2%80%A8', '%EF%BF%BF', '%ED%A0%80', '%F0%9F%98%80', '.', '..', '~', '+', 'h0.r1', 'Patient%2F1') },
        { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom(...'abcXYZ019-._'), minLength: 1, maxLength: 8 }) },
      ),
      { minLength: 1, maxLength: 6 },
    )
    .map((parts) => parts.join(''));

/**
 * A header value Node's HTTP client will send (tab, printable ASCII and bytes 0x80–0xFF, which the
 * server reads as Latin-1: the C1 range arrives as control characters).
 */
export const sendableHeaderValue = (maxLength = 40): fc.Arbitrary<string> =>
  fc.string({
    unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constant(0x09)).map((c) => String.fromCharCode(c)),
    maxLength,
  });
