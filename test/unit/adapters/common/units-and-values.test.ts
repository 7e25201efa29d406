import { hl7ToFhirDateTime, isoToFhirDateTime, toInstant } from '../../../../adapters/common/datetime';
import { interpretation, ordinalValue, parseNumeric, referenceRange } from '../../../../adapters/common/observation-values';
import { readSection, reportCategories } from '../../../../adapters/common/sections';
import { imagingStudyStatus, observationStatus, reportStatus } from '../../../../adapters/common/status';
import { normaliseUnit } from '../../../../adapters/common/ucum';

describe('unit normalisation to UCUM (hospital text kept in unit, UCUM in code)', () => {
  test.each([
    ['μmol/L', 'umol/L'],
    ['µmol/L', 'umol/L'],
    ['umol/L', 'umol/L'],
    ['IU/L', 'U/L'],
    ['U/L', 'U/L'],
    ['×10^9/L', '10*9/L'],
    ['10^9/L', '10*9/L'],
    ['x10^9/L', '10*9/L'],
    ['×10⁹/L', '10*9/L'],
    ['10*9/L', '10*9/L'],
    ['10^12/L', '10*12/L'],
    ['mIU/L', 'm[IU]/L'],
    ['U/mL', 'U/mL'],
    ['%', '%'],
    ['g/L', 'g/L'],
    ['mmol/L', 'mmol/L'],
    ['ng/ml', 'ng/mL'],
    ['秒', 's'],
    ['/HPF', '/[HPF]'],
    ['ｍｍｏｌ／Ｌ', 'mmol/L'],
  ])('%s → %s', (text, code) => {
    expect(normaliseUnit(text)).toEqual({ unit: text, code });
  });

  test('a unit nobody can read stays text only', () => {
    expect(normaliseUnit('个/高倍视野')).toEqual({ unit: '个/高倍视野' });
  });

  test('no unit gives nothing', () => {
    expect(normaliseUnit(undefined)).toEqual({});
    expect(normaliseUnit('  ')).toEqual({});
  });

  test('the code map unit wins over the hospital text', () => {
    expect(normaliseUnit('IU/L', '[IU]/L')).toEqual({ unit: 'IU/L', code: '[IU]/L' });
    expect(normaliseUnit(undefined, 'g/L')).toEqual({ unit: 'g/L', code: 'g/L' });
  });

  test('an invalid code map unit falls back to the text', () => {
    expect(normaliseUnit('g/L', 'not a unit!')).toEqual({ unit: 'g/L', code: 'g/L' });
  });

  test('results are cached per unit string (same object)', () => {
    expect(normaliseUnit('mmol/L')).toBe(normaliseUnit('mmol/L'));
  });
});

describe('reference ranges (OBX-7 forms and low/high columns)', () => {
  test.each([
    ['3.5-9.5', 3.5, 9.5],
    ['3.5~9.5', 3.5, 9.5],
    ['3.5 - 9.5', 3.5, 9.5],
    ['3.5～9.5', 3.5, 9.5],
    ['-2.0-2.0', -2, 2],
    ['<5.0', undefined, 5],
    ['<=5', undefined, 5],
    ['≤5', undefined, 5],
    ['>1.0', 1, undefined],
    ['≥60', 60, undefined],
  ])('%s → low %s high %s', (text, low, high) => {
    const rr = referenceRange({ text }, 'mmol/L');
    expect(rr?.low?.value).toBe(low);
    expect(rr?.high?.value).toBe(high);
    expect(rr?.text).toBe(text);
    if (low !== undefined) expect(rr?.low).toMatchObject({ unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' });
  });

  test('qualitative ranges are kept as text', () => {
    expect(referenceRange({ text: '阴性' }, undefined)).toEqual({ text: '阴性' });
  });

  test('low/high columns', () => {
    expect(referenceRange({ low: '3.5', high: 9.5 }, 'IU/L')).toEqual({
      low: { value: 3.5, unit: 'IU/L', system: 'http://unitsofmeasure.org', code: 'U/L' },
      high: { value: 9.5, unit: 'IU/L', system: 'http://unitsofmeasure.org', code: 'U/L' },
    });
  });

  test('nothing → no range', () => {
    expect(referenceRange({ text: '', low: null, high: null }, 'g/L')).toBeUndefined();
  });
});

describe('interpretation flags → v3-ObservationInterpretation', () => {
  test.each([
    ['H', 'H'], ['L', 'L'], ['HH', 'HH'], ['LL', 'LL'], ['N', 'N'], ['A', 'A'], ['AA', 'AA'],
    ['↑', 'H'], ['↓', 'L'], ['↑↑', 'HH'], ['↓↓', 'LL'], ['h', 'H'], ['H↑', 'H'], ['偏高', 'H'], ['偏低', 'L'],
  ])('%s → %s', (flag, code) => {
    const i = interpretation(flag);
    expect(i?.[0].coding?.[0]).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code });
    expect(i?.[0].text).toBe(flag);
  });
  test.each([[''], [undefined], ['??']])('%s → none', (flag) => expect(interpretation(flag)).toBeUndefined());
});

describe('values', () => {
  test.each([
    ['12.5', 12.5, undefined],
    ['<0.5', 0.5, '<'],
    ['>=1000', 1000, '>='],
    ['≥1000', 1000, '>='],
    ['-3', -3, undefined],
    ['.5', 0.5, undefined],
  ])('numeric %s', (text, value, comparator) => {
    expect(parseNumeric(text)).toEqual(comparator ? { value, comparator } : { value });
  });
  test.each([['阳性'], ['abc'], [''], ['1.2.3']])('not numeric: %s', (t) => expect(parseNumeric(t)).toBeUndefined());

  test.each([
    ['阴性', '260385009'], ['negative', '260385009'], ['Neg', '260385009'], ['-', '260385009'],
    ['阳性', '10828004'], ['positive', '10828004'], ['++', '10828004'], ['弱阳性', '260408008'], ['±', '260408008'],
    ['未检出', '260415000'], ['检出', '260373001'],
  ])('ordinal %s → SNOMED %s', (text, code) => {
    expect(ordinalValue(text)).toEqual({ coding: [expect.objectContaining({ system: 'http://snomed.info/sct', code })], text });
  });
  test('free text is not ordinal', () => expect(ordinalValue('标本溶血')).toBeUndefined());
});

describe('status mapping', () => {
  test.each([
    ['final', 'final', 'final', 'available'],
    ['F', 'final', 'final', 'available'],
    ['corrected', 'corrected', 'corrected', 'available'],
    ['C', 'corrected', 'corrected', 'available'],
    ['preliminary', 'preliminary', 'preliminary', 'available'],
    ['P', 'preliminary', 'preliminary', 'available'],
    ['cancelled', 'cancelled', 'cancelled', 'cancelled'],
    ['X', 'cancelled', 'cancelled', 'cancelled'],
    ['A', 'partial', 'preliminary', 'available'],
    ['?', 'unknown', 'unknown', 'available'],
    [undefined, 'unknown', 'unknown', 'available'],
  ])('%s → report %s, observation %s, study %s', (src, dr, obs, study) => {
    expect(reportStatus(src)).toBe(dr);
    expect(observationStatus(src)).toBe(obs);
    expect(imagingStudyStatus(src)).toBe(study);
  });
});

describe('times', () => {
  test.each([
    ['20240301083000', '2024-03-01T08:30:00+08:00'],
    ['202403010830', '2024-03-01T08:30:00+08:00'],
    ['2024030108', '2024-03-01T08:00:00+08:00'],
    ['20240301', '2024-03-01'],
    ['202403', '2024-03'],
    ['20240301083000+0000', '2024-03-01T08:30:00+00:00'],
    ['20240301083000.123+0800', '2024-03-01T08:30:00.123+08:00'],
    ['20241301', undefined],
    ['hello', undefined],
    ['', undefined],
  ])('HL7 %s → %s', (ts, out) => expect(hl7ToFhirDateTime(ts)).toBe(out));

  test.each([
    ['2024-03-01 08:30', '2024-03-01T08:30:00+08:00'],
    ['2024-03-01T08:30:00', '2024-03-01T08:30:00+08:00'],
    ['2024-03-01T08:30:00Z', '2024-03-01T08:30:00Z'],
    ['2024-03-01T08:30:00+0800', '2024-03-01T08:30:00+08:00'],
    ['2024-03-01', '2024-03-01'],
    [new Date('2024-03-01T00:30:00Z'), '2024-03-01T00:30:00.000Z'],
    ['yesterday', undefined],
    [null, undefined],
  ])('ISO %s → %s', (v, out) => expect(isoToFhirDateTime(v)).toBe(out));

  test('instant of a date is midnight in China', () => expect(toInstant('2024-03-01')).toBe('2024-03-01T00:00:00+08:00'));
});

describe('sections → categories with the LAB/RAD umbrella', () => {
  const codes = (word: string, kind: 'lab' | 'imaging') => reportCategories(readSection(word), kind).map((c) => [c.coding?.[0].code, c.text]);
  test.each([
    ['HM', 'lab', [['HM', undefined], ['LAB', undefined]]],
    ['CH', 'lab', [['CH', undefined], ['LAB', undefined]]],
    ['LAB', 'lab', [['LAB', undefined]]],
    ['RAD', 'imaging', [['RAD', undefined]]],
    ['CT', 'imaging', [['CT', undefined], ['RAD', undefined]]],
    ['MR', 'imaging', [['NMR', 'MR'], ['RAD', undefined]]],
    ['US', 'imaging', [['RUS', 'US'], ['RAD', undefined]]],
  ] as const)('%s', (word, kind, expected) => expect(codes(word, kind)).toEqual(expected));
});
