import { resultTime } from '../../../../gateway/fhir/result-time';
import { obs, report, study } from '../../../support/recognition-fixtures';

/** The clinically relevant time of a result (gateway/fhir/result-time.ts). */
describe('resultTime', () => {
  test('observation: effective time', () => expect(resultTime(obs('o', '718-7', '2025-06-01T08:00:00Z'))).toBe('2025-06-01T08:00:00Z'));
  test('observation: effective period start, then issued', () => {
    expect(resultTime({ ...obs('o', '718-7', 'x'), effectiveDateTime: undefined, effectivePeriod: { start: '2025-06-01', end: '2025-06-02' } })).toBe('2025-06-01');
    expect(resultTime({ ...obs('o', '718-7', 'x'), effectiveDateTime: undefined, issued: '2025-06-03T00:00:00Z' })).toBe('2025-06-03T00:00:00Z');
  });
  test('report: effective before issued', () => {
    expect(resultTime({ ...report('r', { at: '2025-06-01T08:00:00Z' }), issued: '2025-06-02T00:00:00Z' })).toBe('2025-06-01T08:00:00Z');
    expect(resultTime({ ...report('r', { at: 'x' }), effectiveDateTime: undefined, issued: '2025-06-02T00:00:00Z' })).toBe('2025-06-02T00:00:00Z');
  });
  test('imaging study: started', () => expect(resultTime(study('s', { at: '2025-06-01T09:00:00Z' }))).toBe('2025-06-01T09:00:00Z'));
});
