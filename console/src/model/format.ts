/**
 * Times as Fujian reads them: China Standard Time (UTC+8, no daylight saving), whatever zone the
 * browser is in, so a doctor in any hospital and the auditor see the same clock time.
 */

const CHINA_OFFSET_MS = 8 * 3600_000;

/** `YYYY-MM-DD HH:mm` (`:ss` with `seconds`) in China time; a date-only value as given; '' for nothing, the text itself when unreadable. */
export function chinaDateTime(value: string | undefined, opts: { seconds?: boolean } = {}): string {
  if (!value) return '';
  if (/^\d{4}(-\d{2}(-\d{2})?)?$/.test(value)) return value;
  const t = Date.parse(value);
  if (Number.isNaN(t)) return value;
  const iso = new Date(t + CHINA_OFFSET_MS).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, opts.seconds ? 19 : 16)}`;
}

/** `YYYY-MM-DD` of an instant in China time (for date filters); undefined when unreadable. */
export function chinaDate(value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : new Date(t + CHINA_OFFSET_MS).toISOString().slice(0, 10);
}

export function timeMs(value: string | undefined): number {
  const t = value ? Date.parse(value) : NaN;
  return Number.isNaN(t) ? -Infinity : t;
}

/** Money in yuan, two decimals, thousands separated: ¥1,234.50 */
export function yuan(value: number): string {
  const [int, dec] = value.toFixed(2).split('.');
  return `¥${int!.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${dec}`;
}

export function percent(rate: number | undefined): string {
  return rate === undefined ? '—' : `${(rate * 100).toFixed(1)}%`;
}

const SUPERSCRIPT: Record<string, string> = { '0': '⁰', '1': '¹', '2': '²', '3': '³', '4': '⁴', '5': '⁵', '6': '⁶', '7': '⁷', '8': '⁸', '9': '⁹', '-': '⁻' };

/** A unit as a lab report prints it: UCUM's `10*9/L` as 10⁹/L; anything else as given. */
export function unitText(unit: string | undefined): string {
  if (!unit) return '';
  return unit.replace(/10[*^](-?\d+)/g, (_m, exp: string) => `10${[...exp].map((c) => SUPERSCRIPT[c] ?? c).join('')}`);
}
