import { isOperationOutcomeError } from '../../../../gateway/fhir/outcomes';
import { dateRange, matchesDate, parseCount, parseDateParam, parseTokenParam, checkUnknownParams } from '../../../../gateway/fhir/search-params';

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
