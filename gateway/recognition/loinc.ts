/**
 * LOINC code syntax and its mod-10 check digit (the LOINC Users' Guide, "Check digit calculation"),
 * used to refuse a catalogue whose codes were mistyped (API.md §6).
 */

const LOINC_SYNTAX = /^(\d{1,7})-(\d)$/;

/** The check digit of a LOINC code's numeric part: Luhn's mod 10, as LOINC defines it. */
export function loincCheckDigit(digits: string): number {
  let sum = 0;
  let double = true; // the rightmost digit is doubled
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return (10 - (sum % 10)) % 10;
}

/** True when `code` reads `NNNNN-C` and C is the right check digit. */
export function isValidLoinc(code: string): boolean {
  const m = LOINC_SYNTAX.exec(code);
  return m !== null && loincCheckDigit(m[1]) === Number(m[2]);
}

/** Why `code` is not a LOINC code, or undefined when it is one. */
export function loincProblem(code: string): string | undefined {
  const m = LOINC_SYNTAX.exec(code);
  if (!m) return `"${code}" is not a LOINC code (NNNNN-C)`;
  const expected = loincCheckDigit(m[1]);
  if (expected !== Number(m[2])) return `"${code}" has a wrong check digit (expected ${m[1]}-${expected})`;
  return undefined;
}
