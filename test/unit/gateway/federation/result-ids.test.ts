import type { DiagnosticReport, Observation } from '@medplum/fhirtypes';
import { CONFIDENTIALITY_SYSTEM, parseGatewayId, toGatewayForm } from '../../../../gateway/federation/result-ids';

/** The gateway form every result takes (API.md §4): ids, references, subject, source, labels. */
const opts = { publicBaseUrl: 'https://gw.example', patientId: 'rp-1', sensitive: false };

describe('gateway ids', () => {
  test.each([
    ['xm-dyyy.L123', { hospitalId: 'xm-dyyy', localId: 'L123' }],
    ['h0.a.b', { hospitalId: 'h0', localId: 'a.b' }], // split at the first dot: local ids may hold dots
    ['h.x', null], // hospital ids have at least two characters
    ['xm-dyyy.', null],
    ['nodot', null],
  ])('%s', (id, parsed) => expect(parseGatewayId(id)).toEqual(parsed));
});

describe('references to results in gateway form', () => {
  const report = (reference: string): DiagnosticReport => ({ resourceType: 'DiagnosticReport', id: 'r1', status: 'final', code: {}, result: [{ reference, display: 'kept' }] });
  test.each([
    ['Observation/5', 'Observation/h0.5'],
    ['http://lis.example/fhir/Observation/5', 'Observation/h0.5'],
    ['ImagingStudy/s-1.2', 'ImagingStudy/h0.s-1.2'],
    ['DiagnosticReport/9', 'DiagnosticReport/h0.9'],
    ['Patient/5', 'Patient/5'], // not a result: left alone
    ['Observation/5/_history/2', 'Observation/5/_history/2'],
    ['Observation/', 'Observation/'],
    ['/5', '/5'],
    ['#o1', '#o1'],
  ])('%s → %s', (reference, expected) => {
    const out = toGatewayForm(report(reference), 'h0', opts);
    expect(out.result).toEqual([{ reference: expected, display: 'kept' }]);
  });

  test('a rewritten reference is a new object: one an adapter shares between resources is not changed', () => {
    const shared = { reference: 'Observation/5' };
    const o: Observation = { resourceType: 'Observation', id: 'o9', status: 'final', code: {}, hasMember: [shared], derivedFrom: [shared] };
    toGatewayForm(o, 'h0', opts);
    expect(o.hasMember).toEqual([{ reference: 'Observation/h0.5' }]);
    expect(o.derivedFrom).toEqual([{ reference: 'Observation/h0.5' }]);
    expect(shared).toEqual({ reference: 'Observation/5' });
  });
});

describe('the resource in gateway form', () => {
  test('id, subject, meta.source; the version and hospital-only references dropped', () => {
    const r: DiagnosticReport = {
      resourceType: 'DiagnosticReport',
      id: 'r1',
      meta: { versionId: '3', lastUpdated: '2026-11-01T00:00:00Z' },
      status: 'final',
      code: {},
      subject: { reference: 'Patient/local-7' },
      encounter: { reference: 'Encounter/e1' },
      performer: [{ reference: 'Practitioner/p1' }],
      specimen: [{ reference: 'Specimen/s1' }],
    };
    const out = toGatewayForm(r, 'qz-fey', opts);
    expect(out).toBe(r); // in place: adapters hand over objects the caller owns
    expect(out).toEqual({
      resourceType: 'DiagnosticReport',
      id: 'qz-fey.r1',
      meta: { lastUpdated: '2026-11-01T00:00:00Z', source: 'https://gw.example/Organization/qz-fey' },
      status: 'final',
      code: {},
      subject: { reference: 'Patient/rp-1' },
    });
  });

  test.each([
    ['not sensitive, no labels', false, undefined, undefined],
    ['sensitive: R added', true, undefined, ['R']],
    ['sensitive, R already there: not repeated', true, [{ system: CONFIDENTIALITY_SYSTEM, code: 'R' }], ['R']],
    ['sensitive, other labels kept', true, [{ system: CONFIDENTIALITY_SYSTEM, code: 'N' }], ['N', 'R']],
    ['not sensitive, the hospital\'s labels kept', false, [{ system: CONFIDENTIALITY_SYSTEM, code: 'V' }], ['V']],
  ])('%s', (_name, sensitive, security, codes) => {
    const o: Observation = { resourceType: 'Observation', id: 'o1', status: 'final', code: {}, ...(security ? { meta: { security } } : {}) };
    const out = toGatewayForm(o, 'h0', { ...opts, sensitive });
    expect(out.meta?.security?.map((s) => s.code)).toEqual(codes);
  });
});
