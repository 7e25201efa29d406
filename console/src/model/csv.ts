/**
 * CSV (RFC 4180) for a spreadsheet: every field quoted when it holds a comma, quote, CR or LF,
 * quotes doubled; CRLF line ends; and a field a spreadsheet would run as a formula (= + - @, tab,
 * CR at its start) is prefixed with an apostrophe, so an audit export cannot carry a live formula
 * planted through a user-entered value.
 */

export function csvField(value: string | number | boolean | undefined | null): string {
  let s = value === undefined || value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | boolean | undefined | null>>): string {
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}

/** UTF-8 with a byte-order mark, so spreadsheet programs read the Chinese correctly. */
export const CSV_BOM = '\ufeff';
