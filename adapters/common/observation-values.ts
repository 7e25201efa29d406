import type { CodeableConcept, Coding, ObservationReferenceRange, Quantity } from '@medplum/fhirtypes';
import { OBSERVATION_INTERPRETATION, SNOMED } from './systems';
import { quantity } from './ucum';

/**
 * Pure rules for one lab value (API.md §2 OBX-5/6/7/8, SQL value/unit/ref_low/ref_high/flag):
 * what kind of value it is, its reference range and its interpretation flag.
 */

const NUMBER = /^([<>]=?|≤|≥|＜|＞)?\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)$/;

const COMPARATOR: Record<string, Quantity['comparator']> = {
  '<': '<', '＜': '<', '<=': '<=', '≤': '<=', '>': '>', '＞': '>', '>=': '>=', '≥': '>=',
};

/** `12.5`, `<0.5`, `≥1000` → number and comparator; anything else → undefined. */
export function parseNumeric(text: string): { value: number; comparator?: Quantity['comparator'] } | undefined {
  const m = NUMBER.exec(text.trim());
  if (!m) return undefined;
  const value = Number(m[2]);
  if (!Number.isFinite(value)) return undefined;
  return m[1] ? { value, comparator: COMPARATOR[m[1]] } : { value };
}

/** Qualitative results as labs write them → SNOMED CT qualifier values (text keeps the original). */
const ORDINALS: Record<string, Coding> = {};
const define = (words: string[], code: string, display: string) => {
  for (const w of words) ORDINALS[w.toLowerCase()] = { system: SNOMED, code, display };
};
define(['阴性', '阴性(-)', '阴性（-）', '-', '(-)', '（-）', 'negative', 'neg', 'non-reactive', 'nonreactive', '无反应性'], '260385009', 'Negative');
define(['阳性', '阳性(+)', '阳性（+）', '+', '(+)', '（+）', '++', '+++', '++++', 'positive', 'pos', 'reactive', '有反应性'], '10828004', 'Positive');
define(['弱阳性', '±', '+-', '(±)', 'weakly positive', 'weak positive'], '260408008', 'Weakly positive');
define(['未检出', 'not detected', 'undetected'], '260415000', 'Not detected');
define(['检出', 'detected'], '260373001', 'Detected');

/** A qualitative value (阴性, positive, ++, 未检出…) as a CodeableConcept, or undefined. */
export function ordinalValue(text: string): CodeableConcept | undefined {
  const t = text.trim();
  const coding = ORDINALS[t.toLowerCase()] ?? ORDINALS[t.normalize('NFKC').toLowerCase()];
  return coding ? { coding: [{ ...coding }], text: t } : undefined;
}

const RANGE = /^([+-]?\d+\.?\d*)\s*(?:-|~|～|－|—|–|to)\s*([+-]?\d+\.?\d*)$/;
const BOUND = /^(<=?|≤|＜|>=?|≥|＞)\s*([+-]?\d+\.?\d*)$/;

/**
 * A reference range from OBX-7 text (`3.5-9.5`, `3.5~9.5`, `<5.0`, `>1.0`, `≤5`) or from low/high
 * columns. Quantities share the value's unit. The original text is kept in `text`.
 */
export function referenceRange(
  input: { text?: string | null; low?: string | number | null; high?: string | number | null },
  unit: string | undefined,
  preferredUnit?: string,
): ObservationReferenceRange | undefined {
  const q = (v: number) => quantity(v, unit, preferredUnit);
  const num = (v: string | number | null | undefined) => {
    if (v === null || v === undefined || v === '') return undefined;
    const n = typeof v === 'number' ? v : Number(String(v).trim());
    return Number.isFinite(n) ? n : undefined;
  };
  const rr: ObservationReferenceRange = {};
  const text = input.text?.trim();
  const low = num(input.low);
  const high = num(input.high);
  if (low !== undefined) rr.low = q(low);
  if (high !== undefined) rr.high = q(high);
  if (text && low === undefined && high === undefined) {
    const t = text.normalize('NFKC').replace(/\s+/g, ' ');
    const m = RANGE.exec(t);
    const b = BOUND.exec(t);
    if (m) {
      rr.low = q(Number(m[1]));
      rr.high = q(Number(m[2]));
    } else if (b) {
      if (b[1].startsWith('<') || b[1] === '≤' || b[1] === '＜') rr.high = q(Number(b[2]));
      else rr.low = q(Number(b[2]));
    }
  }
  if (text) rr.text = text;
  return rr.low || rr.high || rr.text ? rr : undefined;
}

const INTERPRETATIONS: Record<string, [string, string]> = {
  H: ['H', 'High'],
  L: ['L', 'Low'],
  HH: ['HH', 'Critical high'],
  LL: ['LL', 'Critical low'],
  N: ['N', 'Normal'],
  A: ['A', 'Abnormal'],
  AA: ['AA', 'Critical abnormal'],
  POS: ['POS', 'Positive'],
  NEG: ['NEG', 'Negative'],
  '>': ['H', 'High'],
  '<': ['L', 'Low'],
  '↑': ['H', 'High'],
  '↓': ['L', 'Low'],
  '↑↑': ['HH', 'Critical high'],
  '↓↓': ['LL', 'Critical low'],
  '高': ['H', 'High'],
  '偏高': ['H', 'High'],
  '低': ['L', 'Low'],
  '偏低': ['L', 'Low'],
  '危急高': ['HH', 'Critical high'],
  '危急低': ['LL', 'Critical low'],
  '正常': ['N', 'Normal'],
  '异常': ['A', 'Abnormal'],
};

/**
 * Abnormal flags (HL7 table 0078: H L HH LL N A AA; Chinese ↑ ↓ 高 低) → v3-ObservationInterpretation.
 * `H↑` style doubles are read by their letter. Unknown flags → undefined (no guess).
 */
export function interpretation(flag: string | undefined | null): CodeableConcept[] | undefined {
  const raw = flag?.trim();
  if (!raw) return undefined;
  const f = raw.toUpperCase();
  const hit = INTERPRETATIONS[f] ?? INTERPRETATIONS[f.replace(/[↑↓]+$/, '')] ?? INTERPRETATIONS[f.replace(/^[A-Z]+/, '')];
  if (!hit) return undefined;
  return [{ coding: [{ system: OBSERVATION_INTERPRETATION, code: hit[0], display: hit[1] }], text: raw }];
}
