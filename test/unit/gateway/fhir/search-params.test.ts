import { isOperationOutcomeError } from '../../../../gateway/fhir/outcomes';
import {
  checkUnknownParams,
  dateRange,
  ignoredOutcomes,
  ignoredParametersOutcome,
  matchesDate,
  parameterLabel,
  parseCount,
  parseDateParam,
  parseIds,
  parseTokenParam,
  refuseOrIgnore,
  unknownParams,
} from '../../../../gateway/fhir/search-params';

const t = (iso: string) => Date.parse(iso);

describe('date parameters', () => {
  test.each([
    ['2025', '2025-01-01T00:00:00+08:00', '2026-01-01T00:00:00+08:00'],
    ['2025-02', '2025-02-01T00:00:00+08:00', '2025-03-01T00:00:00+08:00'],
    ['2025-12', '2025-12-01T00:00:00+08:00', '2026-01-01T00:00:00+08:00'],
    ['2025-02-28', '2025-02-28T00:00:00+08:00', '2025-03-01T00:00:00+08:00'],
    ['2025-02-28T10:15', '2025-02-28T10:15:00+08:00', '2025-02-28T10:16:00+08:00'],
    ['2025-02-28T10:15:30Z', '2025-02-28T10:15:30Z', '2025-02-28T10:15:31Z'],
    ['2025-02-28T10:15:30+08:00', '2025-02-28T02:15:30Z', '2025-02-28T02:15:31Z'],
  ])('%s covers [%s, %s)', (value, lo, hi) => {
    expect(dateRange(value)).toEqual({ lo: t(lo), hi: t(hi) });
  });

  test.each(['2025-13', '2025-02-30', '25-01-01', '2025-01-01T25:00', 'yesterday', '2025/01/01', ''])('%s is not a date', (v) => {
    expect(dateRange(v)).toBeNull();
  });

  // The day 2025-03-10 in China time, and instants around it.
  const before = t('2025-03-09T23:59:59+08:00');
  const inside = t('2025-03-10T12:00:00+08:00');
  const after = t('2025-03-11T00:00:00+08:00');
  test.each([
    ['eq', [false, true, false]],
    ['ne', [true, false, true]],
    ['gt', [false, false, true]],
    ['ge', [false, true, true]],
    ['lt', [true, false, false]],
    ['le', [true, true, false]],
  ] as const)('prefix %s', (prefix, expected) => {
    const c = parseDateParam('date', `${prefix}2025-03-10`);
    expect([before, inside, after].map((x) => matchesDate(x, c))).toEqual(expected);
  });

  test.each(['sa2025-01-01', 'eb2025-01-01', 'ap2025-01-01', 'xx2025-01-01', 'ge2025-13-01', 'ge'])('%s is a 400', (v) => {
    try {
      parseDateParam('date', v);
      throw new Error('expected a 400');
    } catch (e) {
      expect(isOperationOutcomeError(e) && e.status).toBe(400);
      if (isOperationOutcomeError(e)) expect(e.outcome.issue[0].expression).toEqual(['date']);
    }
  });
});

describe('_count', () => {
  test.each([[undefined, 50], [['1'], 1], [['200'], 200], [['17'], 17]])('%p → %p', (raw, n) => {
    expect(parseCount(raw as string[] | undefined)).toBe(n);
  });
  test.each([['0'], ['201'], ['-1'], ['abc'], ['1.5']])('%p is a 400', (v) => {
    expect(() => parseCount([v])).toThrow(/_count/);
  });
});

describe('tokens', () => {
  test.each([
    ['718-7', [{ code: '718-7' }]],
    ['http://loinc.org|718-7', [{ system: 'http://loinc.org', code: '718-7' }]],
    ['|718-7', [{ code: '718-7' }]],
    ['LAB,RAD', [{ code: 'LAB' }, { code: 'RAD' }]],
    ['a\\,b', [{ code: 'a,b' }]],
  ])('%s', (raw, expected) => {
    expect(parseTokenParam('code', raw)).toEqual(expected);
  });
});

describe('unknown parameters', () => {
  test('ignored without Prefer: handling=strict', () => {
    expect(() => checkUnknownParams({ foo: ['1'] }, new Set(['patient']), undefined)).not.toThrow();
    expect(() => checkUnknownParams({ foo: ['1'] }, new Set(['patient']), 'handling=lenient')).not.toThrow();
  });
  test('a 400 naming them under handling=strict', () => {
    expect(() => checkUnknownParams({ foo: ['1'], patient: ['x'] }, new Set(['patient']), 'handling=strict')).toThrow(/foo/);
    expect(() => checkUnknownParams({ _count: ['1'] }, new Set(['patient']), 'return=minimal, handling=strict')).not.toThrow();
  });
});

describe('parameters a search does not apply: refused (strict) or reported (lenient)', () => {
  const status400 = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      if (isOperationOutcomeError(e)) return { status: e.status, code: e.outcome.issue[0].details?.coding?.[0]?.code, expression: e.outcome.issue[0].expression };
      throw e;
    }
    return undefined;
  };

  test('lenient returns the labels of what was not applied; strict is a 400 unknown-parameter naming them', () => {
    const q = { patient: ['x'], colour: ['blue'], _summary: ['count'], _count: ['5'], _format: ['json'] };
    expect(checkUnknownParams(q, new Set(['patient']), undefined)).toEqual(['colour', '_summary']);
    expect(checkUnknownParams(q, new Set(['patient']), 'handling=lenient')).toEqual(['colour', '_summary']);
    expect(status400(() => checkUnknownParams(q, new Set(['patient']), 'handling=strict'))).toEqual({ status: 400, code: 'unknown-parameter', expression: ['colour', '_summary'] });
    expect(checkUnknownParams({ patient: ['x'] }, new Set(['patient']), 'handling=strict')).toEqual([]);
  });

  test('_format is applied only when it asks for JSON; _offset only where the search pages by offset', () => {
    expect(unknownParams({ _format: ['application/fhir+json'] }, new Set())).toEqual([]);
    expect(unknownParams({ _format: ['xml'] }, new Set())).toEqual(['_format']);
    expect(unknownParams({ _offset: ['10'] }, new Set())).toEqual(['_offset']);
    expect(unknownParams({ _offset: ['10'] }, new Set(['_offset']))).toEqual([]);
  });

  test('labels: percent-encoded outside A-Z a-z 0-9 _ . : -, capped, never empty', () => {
    expect(parameterLabel('patient.identifier')).toBe('patient.identifier');
    expect(parameterLabel('\u0007bell\r\n')).toBe('%07bell%0D%0A');
    expect(parameterLabel('颜色')).toBe('%E9%A2%9C%E8%89%B2');
    expect(parameterLabel('a b<script>')).toBe('a%20b%3Cscript%3E');
    expect(parameterLabel('\ud800x')).toBe('%EF%BF%BDx');
    expect(parameterLabel('')).toBe('(empty)');
    expect(parameterLabel('x'.repeat(100))).toBe(`${'x'.repeat(40)}…`);
    expect(refuseOrIgnore(['a', 'a', 'b'], undefined)).toEqual(['a', 'b']);
  });

  test('the outcome entry: one warning ignored-parameter naming them, at most ten in the expression', () => {
    const o = ignoredParametersOutcome(['colour', '_summary']);
    expect(o.issue).toHaveLength(1);
    expect(o.issue[0]).toMatchObject({ severity: 'warning', code: 'informational', expression: ['colour', '_summary'] });
    expect(o.issue[0].details?.coding?.[0]?.code).toBe('ignored-parameter');
    expect(o.issue[0].details?.text).toMatch(/colour, _summary/);
    const many = ignoredParametersOutcome(Array.from({ length: 12 }, (_, i) => `p${i}`));
    expect(many.issue[0].expression).toHaveLength(10);
    expect(many.issue[0].details?.text).toMatch(/and 2 more/);
    expect(ignoredOutcomes([])).toEqual([]);
  });

  test('_id: comma = OR, repeated = AND, empty refused', () => {
    expect(parseIds({})).toBeUndefined();
    expect(parseIds({ _id: ['a,b'] })).toEqual(new Set(['a', 'b']));
    expect(parseIds({ _id: ['a,b', 'b,c'] })).toEqual(new Set(['b']));
    expect(parseIds({ _id: ['a', 'b'] })).toEqual(new Set());
    expect(status400(() => parseIds({ _id: [''] }))?.status).toBe(400);
  });
});
