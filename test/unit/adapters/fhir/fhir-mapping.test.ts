import type { DiagnosticReport, Observation } from '@medplum/fhirtypes';
import { AdapterError } from '../../../../adapters/adapter';
import { parseCodeMap } from '../../../../adapters/common/code-map';
import { classifyFhirError } from '../../../../adapters/fhir/fhir-errors';
import { mapDiagnosticReport, mapObservation } from '../../../../adapters/fhir/fhir-mapping';
import { expectValidFhir } from '../../../support/fhir-validation';

const base = 'http://127.0.0.1:9101/fhir';
const codeMap = parseCodeMap({ 'HOSP-ALT': { loinc: '1742-6', display: 'ALT', unit: 'U/L' } });

describe('hospital FHIR resources → gateway form', () => {
  test('local code gets LOINC beside it; unit gets UCUM; meta.source dropped; references relative', () => {
    const obs: Observation = {
      resourceType: 'Observation',
      id: 'o1',
      meta: { source: 'http://his.internal', security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] },
      status: 'final',
      code: { coding: [{ system: 'http://his.example/codes', code: 'HOSP-ALT', display: '谷丙转氨酶' }] },
      subject: { reference: `${base}/Patient/p1` },
      valueQuantity: { value: 56, unit: 'IU/L' },
      referenceRange: [{ high: { value: 50, unit: 'IU/L' } }],
    };
    const out = mapObservation(obs, codeMap, base);
    expectValidFhir(out);
    expect(out.code.coding).toEqual([
      { system: 'http://loinc.org', code: '1742-6', display: 'ALT' },
      { system: 'http://his.example/codes', code: 'HOSP-ALT', display: '谷丙转氨酶' },
    ]);
    expect(out.valueQuantity).toEqual({ value: 56, unit: 'IU/L', system: 'http://unitsofmeasure.org', code: 'U/L' });
    expect(out.referenceRange?.[0].high?.code).toBe('U/L');
    expect(out.meta).toEqual({ security: [expect.objectContaining({ code: 'R' })] });
    expect(out.subject?.reference).toBe('Patient/p1');
  });

  test('a LOINC-coded observation in UCUM is left alone', () => {
    const obs: Observation = {
      resourceType: 'Observation', id: 'o2', status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] },
      valueQuantity: { value: 130, unit: 'g/L', system: 'http://unitsofmeasure.org', code: 'g/L' },
    };
    expect(mapObservation(structuredClone(obs), codeMap, base)).toEqual(obs);
  });

  test.each([
    ['HM section gets LAB', [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'HM' }] }], undefined, ['HM', 'LAB']],
    ['CT section gets RAD', [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'CT' }] }], undefined, ['CT', 'RAD']],
    ['no category → LAB', undefined, undefined, ['LAB']],
    ['imagingStudy → RAD', undefined, [{ reference: 'ImagingStudy/s1' }], ['RAD']],
    ['LAB already there stays once', [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB' }] }], undefined, ['LAB']],
  ])('categories: %s', (_n, category, imagingStudy, codes) => {
    const dr: DiagnosticReport = { resourceType: 'DiagnosticReport', id: 'd1', status: 'final', code: { text: 'x' }, ...(category ? { category } : {}), ...(imagingStudy ? { imagingStudy } : {}) };
    const out = mapDiagnosticReport(dr, codeMap, base);
    expectValidFhir(out);
    expect(out.category?.map((c) => c.coding?.[0].code)).toEqual(codes);
  });
});

describe('failure classification (API.md §4 outcome codes)', () => {
  const aborted = new AbortController();
  aborted.abort();
  const httpError = (status: number) => Object.assign(new Error(`HTTP ${status}: GET ${base}/Patient?identifier=350203199001010018`), { response: { status, data: 'secret body' } });
  const netError = (code: string) => Object.assign(new TypeError('fetch failed'), { cause: { code } });

  test.each([
    ['aborted signal', new Error('x'), aborted.signal, 'timeout'],
    ['AbortError', Object.assign(new Error('x'), { name: 'AbortError' }), undefined, 'timeout'],
    ['HTTP 500', httpError(500), undefined, 'transient'],
    ['HTTP 503', httpError(503), undefined, 'transient'],
    ['HTTP 429', httpError(429), undefined, 'transient'],
    ['HTTP 400', httpError(400), undefined, 'exception'],
    ['HTTP 404', httpError(404), undefined, 'exception'],
    ['invalid JSON (200)', httpError(200), undefined, 'exception'],
    ['ECONNREFUSED', netError('ECONNREFUSED'), undefined, 'transient'],
    ['ECONNRESET', netError('ECONNRESET'), undefined, 'transient'],
    ['UND_ERR_SOCKET', netError('UND_ERR_SOCKET'), undefined, 'transient'],
    ['something else', new RangeError('boom'), undefined, 'exception'],
    ['AdapterError passes through', new AdapterError('not a Bundle', 'exception'), undefined, 'exception'],
  ])('%s → %s', (_n, e, signal, kind) => {
    const err = classifyFhirError(e, signal);
    expect(err).toBeInstanceOf(AdapterError);
    expect(err.kind).toBe(kind);
    expect(err.message).not.toContain('350203199001010018');
    expect(err.message).not.toContain('secret');
  });
});
