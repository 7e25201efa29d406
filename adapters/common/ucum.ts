import { UcumLhcUtils } from '@lhncbc/ucum-lhc';
import type { Quantity } from '@medplum/fhirtypes';
import { UCUM } from './systems';

/**
 * Units as Chinese labs write them → UCUM (API.md §4: quantities in UCUM with `code`). The
 * hospital's text stays in `Quantity.unit`; the UCUM code goes to `Quantity.code`.
 *
 * Order: the code map's `unit` wins; then the spelling table below; then ucum-lhc validation of
 * the (normalised) text, accepting its suggestion when that suggestion is itself valid
 * (`/HPF` → `/[HPF]`). A unit nobody can read stays text only (no `code`, no `system`).
 */

/** Spellings that are common in Chinese LIS output and are not (or not the intended) UCUM. */
export const UNIT_SPELLINGS: Readonly<Record<string, string>> = {
  'umol/L': 'umol/L',
  'IU/L': 'U/L', // enzyme activity as reported by Chinese labs (ALT, AST…); API.md §2
  'mIU/L': 'm[IU]/L',
  'mIU/mL': 'm[IU]/mL',
  'uIU/mL': 'u[IU]/mL',
  'IU/mL': '[IU]/mL',
  // `[U]/mL` is not UCUM (ucum-lhc rejects it); `U/mL` is, and is what LOINC uses for CA125/CA19-9.
  'U/mL': 'U/mL',
  '10*9/L': '10*9/L',
  '10*12/L': '10*12/L',
  '10*6/L': '10*6/L',
  '10*3/uL': '10*3/uL',
  '%': '%',
  'ml': 'mL',
  'ng/ml': 'ng/mL',
  'pg/ml': 'pg/mL',
  'mg/dl': 'mg/dL',
  'g/dl': 'g/dL',
  'sec': 's',
  '秒': 's',
  'INR': '{INR}',
  'mmHg': 'mm[Hg]',
  '/HP': '/[HPF]',
  '/HPF': '/[HPF]',
  '/LP': '/[LPF]',
  '/LPF': '/[LPF]',
};

const SUPERSCRIPT_DIGITS = '⁰¹²³⁴⁵⁶⁷⁸⁹';

/** Fold typography: full-width forms, micro signs, `×10^9` and `10^9` exponent styles, spaces. */
export function canonicalUnitText(text: string): string {
  return text
    .replace(/10([⁰¹²³⁴⁵⁶⁷⁸⁹]+)/g, (_m, sup: string) => '10*' + [...sup].map((c) => SUPERSCRIPT_DIGITS.indexOf(c)).join(''))
    .normalize('NFKC')
    .replace(/[µμ]/g, 'u')
    .replace(/\s+/g, '')
    .replace(/^[×xX*]\s*(?=10)/, '')
    .replace(/10\^(\d+)/g, '10*$1')
    .replace(/10E(\d+)/gi, '10*$1');
}

let utils: ReturnType<typeof UcumLhcUtils.getInstance> | undefined;
const validity = new Map<string, string | null>();
const MAX_CACHE = 10_000;

/** The UCUM code for a candidate string, or null; ucum-lhc is asked once per distinct string. */
export function ucumCodeFor(candidate: string): string | null {
  const cached = validity.get(candidate);
  if (cached !== undefined) return cached;
  utils ??= UcumLhcUtils.getInstance();
  let code: string | null = null;
  // UCUM has no blanks; ucum-lhc would log the attempt to the console
  if (/\s/.test(candidate) || !candidate) return null;
  try {
    const r = utils.validateUnitString(candidate, true);
    if (r.status === 'valid') code = r.ucumCode ?? candidate;
    else if (r.ucumCode && r.ucumCode !== candidate && utils.validateUnitString(r.ucumCode).status === 'valid') code = r.ucumCode;
  } catch {
    code = null;
  }
  if (validity.size >= MAX_CACHE) validity.clear(); // hostile input must not grow memory without bound
  validity.set(candidate, code);
  return code;
}

export interface NormalisedUnit {
  /** the hospital's text (or the UCUM code when the hospital gave none) */
  unit?: string;
  /** the UCUM code, when one is known */
  code?: string;
}

const normalised = new Map<string, NormalisedUnit>();

/**
 * The unit of a quantity: `text` as the hospital wrote it, `preferred` the code map's UCUM unit.
 * Cached per (text, preferred).
 */
export function normaliseUnit(text: string | undefined, preferred?: string): NormalisedUnit {
  const key = `${text ?? ''}\u0000${preferred ?? ''}`;
  const hit = normalised.get(key);
  if (hit) return hit;
  const out = computeUnit(text?.trim() || undefined, preferred?.trim() || undefined);
  if (normalised.size >= MAX_CACHE) normalised.clear();
  normalised.set(key, out);
  return out;
}

function computeUnit(text: string | undefined, preferred: string | undefined): NormalisedUnit {
  const preferredCode = preferred ? ucumCodeFor(preferred) : null;
  if (preferredCode) return { unit: text ?? preferredCode, code: preferredCode };
  if (!text) return {};
  const canonical = canonicalUnitText(text);
  const spelled = UNIT_SPELLINGS[canonical] ?? UNIT_SPELLINGS[canonical.toUpperCase()];
  const code = (spelled && ucumCodeFor(spelled)) || ucumCodeFor(canonical);
  return code ? { unit: text, code } : { unit: text };
}

/** A FHIR Quantity in UCUM where the unit can be read; `comparator` for `<5.0`-style values. */
export function quantity(value: number, unitText: string | undefined, preferred?: string, comparator?: Quantity['comparator']): Quantity {
  const u = normaliseUnit(unitText, preferred);
  const q: Quantity = { value };
  if (comparator) q.comparator = comparator;
  if (u.unit) q.unit = u.unit;
  if (u.code) {
    q.system = UCUM;
    q.code = u.code;
  }
  return q;
}
