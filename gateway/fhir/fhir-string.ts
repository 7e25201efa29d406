/**
 * The one sanitiser for text the gateway echoes: error texts, stored audit values, log lines and
 * header values (issue #14). A FHIR R4 `string` is Unicode text of "non-whitespace content" in which
 * U+0009, U+000A and U+000D are the only characters below U+0020 (R4 §2.24.0.1, datatype regex
 * `[ \r\n\t\S]+`); strict clients and log pipelines also refuse DEL, the C1 controls and lone UTF-16
 * surrogates, which JSON would carry as `\u0000` or `\ud800` escapes that decode to invalid text.
 *
 * What is replaced, and how:
 *   - C0 controls other than tab, CR and LF, DEL (U+007F), C1 controls (U+0080–U+009F) and the
 *     noncharacters U+FFFE/U+FFFF: by a visible escape `\u0000` (or a fixed replacement);
 *   - lone surrogates: by U+FFFD (a pair, a character outside the BMP, is kept);
 *   - with `lineBreaks: false` (header values, log lines): tab, CR and LF too;
 *   - with `ascii: true` (header values, which Node and RFC 9110 limit to visible ASCII here):
 *     everything outside U+0020–U+007E, as `\uXXXX` per UTF-16 unit.
 * The result never contains what it replaces, and sanitising it again changes nothing.
 */
export interface SafeTextOptions {
  /** keep tab, CR and LF, which FHIR strings allow (default true) */
  lineBreaks?: boolean;
  /** also escape everything outside printable ASCII (header values) */
  ascii?: boolean;
  /** what replaces a control character: `escape` (default) writes `\uXXXX`; any other string is used as is */
  replacement?: 'escape' | string;
  /** cut the result to at most this many UTF-16 units, never inside a surrogate pair */
  max?: number;
}

// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFE\uFFFF]/;
// eslint-disable-next-line no-control-regex
const CONTROLS_AND_BREAKS = /[\u0000-\u001F\u007F-\u009F\uFFFE\uFFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NOT_PRINTABLE_ASCII = /[^\x20-\x7E]/;

const everywhere = (r: RegExp) => new RegExp(r.source, 'g');
const CONTROLS_G = everywhere(CONTROLS);
const CONTROLS_AND_BREAKS_G = everywhere(CONTROLS_AND_BREAKS);
const LONE_SURROGATE_G = everywhere(LONE_SURROGATE);
const NOT_PRINTABLE_ASCII_G = everywhere(NOT_PRINTABLE_ASCII);

const escapeUnit = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** `s` made safe to echo (see the module comment). */
export function safeText(s: string, opts: SafeTextOptions = {}): string {
  const controls = opts.lineBreaks === false ? CONTROLS_AND_BREAKS : CONTROLS;
  let out = s;
  if (LONE_SURROGATE.test(out)) out = out.replace(LONE_SURROGATE_G, '\uFFFD');
  if (controls.test(out)) {
    const replace = opts.replacement === undefined || opts.replacement === 'escape' ? escapeUnit : () => opts.replacement as string;
    out = out.replace(opts.lineBreaks === false ? CONTROLS_AND_BREAKS_G : CONTROLS_G, replace);
  }
  if (opts.ascii && NOT_PRINTABLE_ASCII.test(out)) out = out.replace(NOT_PRINTABLE_ASCII_G, escapeUnit);
  if (opts.max !== undefined && out.length > opts.max) {
    const cut = out.charCodeAt(opts.max - 1);
    out = out.slice(0, cut >= 0xd800 && cut <= 0xdbff ? opts.max - 1 : opts.max);
  }
  return out;
}

/** True when `s` holds nothing {@link safeText} would replace (with its default options). */
export function isSafeText(s: string): boolean {
  return !CONTROLS.test(s) && !LONE_SURROGATE.test(s);
}

/** A valid FHIR `string`: safe text with some non-whitespace content. */
export function isFhirString(s: string): boolean {
  return isSafeText(s) && s.trim() !== '';
}

/** A header value: printable ASCII only, so never CR, LF or another control character. */
export const safeHeaderValue = (v: string): string => safeText(v, { lineBreaks: false, ascii: true });
