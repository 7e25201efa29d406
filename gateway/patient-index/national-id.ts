/**
 * Resident identity card numbers (GB 11643, DOMAIN.md "Identifiers"): 17 digits and a check
 * character. Pure; used before any lookup so a mistyped id never reaches a hospital.
 */
export const NATIONAL_ID_SYSTEM = 'urn:oid:2.16.156.10011.1.3';

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK = '10X98765432';

export type NationalIdProblem = 'format' | 'birth-date' | 'check-digit';

/** The check character for the first 17 digits. */
export function checkCharacter(first17: string): string {
  let s = 0;
  for (let i = 0; i < 17; i++) s += Number(first17[i]) * WEIGHTS[i];
  return CHECK[s % 11];
}

/** Normalise (upper-case X) and validate; returns the id or the problem. */
export function validateNationalId(raw: string): { ok: true; id: string } | { ok: false; problem: NationalIdProblem } {
  const id = raw.trim().toUpperCase();
  if (!/^\d{17}[\dX]$/.test(id)) return { ok: false, problem: 'format' };
  const y = Number(id.slice(6, 10));
  const m = Number(id.slice(10, 12));
  const d = Number(id.slice(12, 14));
  const date = new Date(Date.UTC(y, m - 1, d));
  if (y < 1850 || date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) {
    return { ok: false, problem: 'birth-date' };
  }
  if (checkCharacter(id) !== id[17]) return { ok: false, problem: 'check-digit' };
  return { ok: true, id };
}

/** Birth date (YYYY-MM-DD) and administrative gender from a valid id. */
export function demographicsFromNationalId(id: string): { birthDate: string; gender: 'male' | 'female' } {
  return {
    birthDate: `${id.slice(6, 10)}-${id.slice(10, 12)}-${id.slice(12, 14)}`,
    gender: Number(id[16]) % 2 === 1 ? 'male' : 'female',
  };
}
