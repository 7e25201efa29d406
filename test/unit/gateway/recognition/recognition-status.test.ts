import { gradeLevel, isFinalStatus, recognitionStatus, type RecognitionInput } from '../../../../gateway/recognition/recognition-status';
import { obs, report, study } from '../../../support/recognition-fixtures';

/** The rule of API.md §6 as a table: the first status that applies, in order. */

const NOW = new Date('2025-06-10T08:00:00.000Z');
const CBC = { code: 'CBC', validityDays: 7 };
const CT = { code: 'CT-CHEST', validityDays: 90 };

const H = {
  xm3A: { id: 'xm-zsh', grade: '3A', recognizedItems: ['CBC', 'CT-CHEST'] },
  zz3A: { id: 'zz-sy', grade: '3A', recognizedItems: ['CBC'] },
  qz3B: { id: 'qz-dyyy', grade: '3B', recognizedItems: ['CBC'] },
  hc2A: { id: 'xm-hc', grade: '2A', recognizedItems: ['CBC'] },
  lh2B: { id: 'zz-lh', grade: '2B', recognizedItems: [] as string[] },
  sq1A: { id: 'qz-sq', grade: '1A', recognizedItems: ['CBC'] },
  unknown: { id: 'elsewhere' },
};

const base = (over: Partial<RecognitionInput>): RecognitionInput => ({
  source: H.xm3A,
  requester: H.zz3A,
  resultType: 'DiagnosticReport',
  resultStatus: 'final',
  resultTime: '2025-06-05T08:00:00.000Z',
  item: CBC,
  now: NOW,
  ...over,
});

describe('recognitionStatus', () => {
  test.each<[string, Partial<RecognitionInput>, string, string?]>([
    // own: P = R comes first, whatever else is wrong
    ['own hospital', { requester: H.xm3A }, 'own'],
    ['own hospital, not in catalog', { requester: H.xm3A, item: undefined }, 'own'],
    ['own hospital, preliminary', { requester: H.xm3A, resultStatus: 'preliminary' }, 'own'],
    // not-in-catalog
    ['no matched item', { item: undefined }, 'not-in-catalog'],
    ['no item beats not-final', { item: undefined, resultStatus: 'preliminary' }, 'not-in-catalog'],
    // not-final
    ['preliminary', { resultStatus: 'preliminary' }, 'not-final'],
    ['cancelled', { resultStatus: 'cancelled' }, 'not-final'],
    ['registered', { resultStatus: 'registered' }, 'not-final'],
    ['partial', { resultStatus: 'partial' }, 'not-final'],
    ['entered-in-error', { resultStatus: 'entered-in-error' }, 'not-final'],
    ['no status', { resultStatus: undefined }, 'not-final'],
    ['not-final beats not-accredited', { resultStatus: 'preliminary', source: H.lh2B }, 'not-final'],
    ['ImagingStudy available is final', { resultType: 'ImagingStudy', resultStatus: 'available', item: CT }, 'recognizable', '2025-09-03T08:00:00.000Z'],
    ['a DiagnosticReport "available" is not a status it has', { resultStatus: 'available' }, 'not-final'],
    // final, amended, corrected, appended are all final
    ['final', {}, 'recognizable', '2025-06-12T08:00:00.000Z'],
    ['amended', { resultStatus: 'amended' }, 'recognizable', '2025-06-12T08:00:00.000Z'],
    ['corrected', { resultStatus: 'corrected' }, 'recognizable', '2025-06-12T08:00:00.000Z'],
    ['appended', { resultStatus: 'appended' }, 'recognizable', '2025-06-12T08:00:00.000Z'],
    // not-accredited
    ['source lacks the mark for the item', { source: H.lh2B }, 'not-accredited'],
    ['source holds other items only', { item: CT, source: H.zz3A, requester: H.qz3B }, 'not-accredited'],
    ['source unknown to the configuration', { source: H.unknown }, 'not-accredited'],
    ['not-accredited beats grade-below', { source: H.lh2B, requester: H.xm3A }, 'not-accredited'],
    // grade-below: the level digit only
    ['2A result asked by a 3A', { source: H.hc2A, requester: H.zz3A }, 'grade-below'],
    ['1A result asked by a 3A', { source: H.sq1A, requester: H.zz3A }, 'grade-below'],
    ['1A result asked by a 2A', { source: H.sq1A, requester: H.hc2A }, 'grade-below'],
    ['3A result asked by a 2A (above is fine)', { source: H.xm3A, requester: H.hc2A }, 'recognizable', '2025-06-12T08:00:00.000Z'],
    ['3A result asked by a 1A', { source: H.xm3A, requester: H.sq1A }, 'recognizable', '2025-06-12T08:00:00.000Z'],
    ['2A result asked by a 1A', { source: H.hc2A, requester: H.sq1A }, 'recognizable', '2025-06-12T08:00:00.000Z'],
    ['3B result asked by a 3A (same level)', { source: H.qz3B, requester: H.zz3A }, 'recognizable', '2025-06-12T08:00:00.000Z'],
    ['3A result asked by a 3B (same level)', { source: H.zz3A, requester: H.qz3B }, 'recognizable', '2025-06-12T08:00:00.000Z'],
    ['2A result asked by a 2B (same level)', { source: H.hc2A, requester: { id: 'zz-lh', grade: '2B' } }, 'recognizable', '2025-06-12T08:00:00.000Z'],
    ['grade-below beats expired', { source: H.hc2A, resultTime: '2025-01-01T00:00:00Z' }, 'grade-below'],
    ['requester grade unknown: no grade to be below', { requester: { id: 'x' } }, 'recognizable', '2025-06-12T08:00:00.000Z'],
    // no requesting hospital (auditor): never own, no grade rule
    ['auditor, 3A result', { requester: undefined }, 'recognizable', '2025-06-12T08:00:00.000Z'],
    ['auditor, 1A result', { requester: undefined, source: H.sq1A }, 'recognizable', '2025-06-12T08:00:00.000Z'],
    ['auditor, expired', { requester: undefined, resultTime: '2025-05-01T00:00:00Z' }, 'expired'],
    // expired: the window is closed at its end
    ['exactly at the end of the window', { resultTime: '2025-06-03T08:00:00.000Z' }, 'recognizable', '2025-06-10T08:00:00.000Z'],
    ['one millisecond past the end', { resultTime: '2025-06-03T07:59:59.999Z' }, 'expired'],
    ['one millisecond before the end', { resultTime: '2025-06-03T08:00:00.001Z' }, 'recognizable', '2025-06-10T08:00:00.001Z'],
    ['taken just now', { resultTime: '2025-06-10T08:00:00.000Z' }, 'recognizable', '2025-06-17T08:00:00.000Z'],
    ['a time with an offset', { resultTime: '2025-06-03T16:00:00+08:00' }, 'recognizable', '2025-06-10T08:00:00.000Z'],
    ['a date only (midnight UTC)', { resultTime: '2025-06-04' }, 'recognizable', '2025-06-11T00:00:00.000Z'],
    ['imaging: 90 days', { item: CT, resultTime: '2025-03-12T08:00:00.000Z' }, 'recognizable', '2025-06-10T08:00:00.000Z'],
    ['imaging: 91 days', { item: CT, resultTime: '2025-03-11T08:00:00.000Z' }, 'expired'],
    ['no result time', { resultTime: undefined }, 'expired'],
    ['an unreadable result time', { resultTime: 'yesterday' }, 'expired'],
  ])('%s → %s', (_name, over, status, ...[validUntil]) => {
    const v = recognitionStatus(base(over));
    expect(v.status).toBe(status);
    expect(v.validUntil?.toISOString()).toBe(validUntil);
  });
});

describe('gradeLevel', () => {
  test.each([
    ['3A', 3], ['3B', 3], ['3C', 3], ['2A', 2], ['2C', 2], ['1A', 1], ['1C', 1],
  ])('%s → %d', (grade, level) => expect(gradeLevel(grade)).toBe(level));
  test.each(['', '4A', '3D', 'three', undefined])('%s is not a grade', (g) => expect(gradeLevel(g)).toBeNaN());
});

describe('isFinalStatus', () => {
  test.each<[string | undefined, string, boolean]>([
    ['final', 'Observation', true],
    ['amended', 'Observation', true],
    ['corrected', 'DiagnosticReport', true],
    ['appended', 'DiagnosticReport', true],
    ['available', 'ImagingStudy', true],
    ['available', 'DiagnosticReport', false],
    ['registered', 'ImagingStudy', false],
    ['preliminary', 'DiagnosticReport', false],
    ['cancelled', 'DiagnosticReport', false],
    [undefined, 'Observation', false],
  ])('%s %s → %s', (status, type, final) => expect(isFinalStatus(status, type)).toBe(final));
});
