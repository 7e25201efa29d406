import type { DiagnosticReport, ImagingStudy, Observation } from '@medplum/fhirtypes';
import { isOperationOutcomeError } from '../../../../gateway/fhir/outcomes';
import { matchesSearch, parseResultSearch, SEARCH_PARAMS } from '../../../../gateway/fhir/result-search';

/**
 * The result searches as data (issue #14, finding 5): every parameter parseResultSearch accepts is
 * applied by matchesSearch or narrows the hospitals asked; what it does not apply is refused
 * (strict) or returned as `ignored` for the searchset's outcome entry.
 */

const HOSPITALS = new Set(['xm-dyyy', 'zz-syy', 'qz-fey']);
const q = (qs: string) => {
  const out: Record<string, string[]> = {};
  for (const [k, v] of new URLSearchParams(qs)) (out[k] ??= []).push(v);
  return out;
};
const parse = (type: 'DiagnosticReport' | 'Observation' | 'ImagingStudy', qs: string, prefer?: string) => parseResultSearch(type, q(qs), prefer, HOSPITALS);
const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (isOperationOutcomeError(e)) return `${e.status} ${e.outcome.issue[0].details?.coding?.[0]?.code}`;
    throw e;
  }
  return 'no error';
};

const obs = (id: string, over: Partial<Observation> = {}): Observation => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '718-7' }, { system: 'urn:local', code: 'HGB' }] },
  effectiveDateTime: '2026-11-26T09:46:00+08:00',
  ...over,
});

describe('parseResultSearch', () => {
  test('_id is a declared parameter of every result type; _offset is accepted but not declared', () => {
    for (const type of ['DiagnosticReport', 'Observation', 'ImagingStudy'] as const) {
      expect(SEARCH_PARAMS[type]).toContain('_id');
      expect(SEARCH_PARAMS[type]).not.toContain('_offset');
      expect(parse(type, 'patient=p&_offset=5', 'handling=strict').offset).toBe(5);
    }
  });

  test('_id names the hospitals to ask, ANDed with hospital', () => {
    expect(parse('Observation', 'patient=p&_id=zz-syy.1,qz-fey.2').hospitals?.sort()).toEqual(['qz-fey', 'zz-syy']);
    expect(parse('Observation', 'patient=p&_id=zz-syy.1,qz-fey.2&hospital=zz-syy').hospitals).toEqual(['zz-syy']);
    expect(parse('Observation', 'patient=p&_id=zz-syy.1&hospital=xm-dyyy').hospitals).toEqual([]);
    expect(parse('Observation', 'patient=p&_id=garbage').hospitals).toEqual([]);
    expect(parse('Observation', 'patient=p&hospital=zz-syy,xm-dyyy&hospital=zz-syy').hospitals).toEqual(['zz-syy']);
    expect(parse('Observation', 'patient=p').hospitals).toBeUndefined();
  });

  test('unknown names and unsupported values: ignored (reported) by default, 400 under strict', () => {
    expect(parse('Observation', 'patient=p&colour=blue&modality=CT').ignored).toEqual(['colour', 'modality']);
    expect(parse('ImagingStudy', 'patient=p&date=2026&code=x').ignored).toEqual(['date', 'code']);
    expect(parse('DiagnosticReport', 'patient=p&_include=DiagnosticReport:subject').ignored).toEqual(['_include']);
    expect(parse('DiagnosticReport', 'patient=p&_include=DiagnosticReport:result')).toMatchObject({ ignored: [], includeResults: true });
    expect(parse('Observation', 'patient=p&_include=Observation:has-member').ignored).toEqual(['_include']);
    expect(codeOf(() => parse('Observation', 'patient=p&colour=blue', 'handling=strict'))).toBe('400 unknown-parameter');
    expect(codeOf(() => parse('DiagnosticReport', 'patient=p&_include=DiagnosticReport:subject', 'handling=strict'))).toBe('400 unknown-parameter');
    // an ignored parameter is not repeated in the paging links
    expect(parse('Observation', 'patient=p&colour=blue').echo).toEqual([['patient', 'p']]);
  });

  test('_sort takes the date parameter of the type only', () => {
    expect(parse('ImagingStudy', 'patient=p&_sort=started').sort).toBe('asc');
    expect(codeOf(() => parse('ImagingStudy', 'patient=p&_sort=date'))).toBe('400 bad-request');
    expect(codeOf(() => parse('Observation', 'patient=p&_sort=started'))).toBe('400 bad-request');
  });
});

describe('matchesSearch applies every criterion, repeated parameters AND', () => {
  const a = obs('zz-syy.1');
  const b = obs('qz-fey.2', { status: 'preliminary', code: { coding: [{ system: 'http://loinc.org', code: '789-8' }] }, effectiveDateTime: '2025-01-01T08:00:00+08:00' });
  const match = (qs: string, ...rs: Observation[]) => rs.filter((r) => matchesSearch(r, parse('Observation', `patient=p&${qs}`))).map((r) => r.id);

  test.each<[string, string[]]>([
    ['_id=zz-syy.1', ['zz-syy.1']],
    ['_id=zz-syy.1,qz-fey.2', ['zz-syy.1', 'qz-fey.2']],
    ['_id=zz-syy.1&_id=qz-fey.2', []],
    ['_id=zz-syy.1&status=preliminary', []],
    ['status=final', ['zz-syy.1']],
    ['status=final,preliminary', ['zz-syy.1', 'qz-fey.2']],
    ['status=final&status=preliminary', []],
    ['code=http://loinc.org|718-7', ['zz-syy.1']],
    ['code=718-7&code=urn:local|HGB', ['zz-syy.1']],
    ['code=718-7&code=789-8', []],
    ['code=718-7,789-8', ['zz-syy.1', 'qz-fey.2']],
    ['category=laboratory', ['zz-syy.1', 'qz-fey.2']],
    ['category=imaging', []],
    ['date=ge2026-01-01', ['zz-syy.1']],
    ['date=ge2024-01-01&date=lt2026-01-01', ['qz-fey.2']],
  ])('%s', (qs, expected) => {
    expect(match(qs, a, b)).toEqual(expected);
  });

  test('modality for ImagingStudy, from the study or its series', () => {
    const s: ImagingStudy = { resourceType: 'ImagingStudy', id: 'xm-dyyy.s', status: 'available', subject: { reference: 'Patient/p' }, series: [{ uid: '1', modality: { code: 'CT' } }] };
    const m = (qs: string) => matchesSearch(s, parseResultSearch('ImagingStudy', q(`patient=p&${qs}`), undefined, HOSPITALS));
    expect(m('modality=CT')).toBe(true);
    expect(m('modality=MR,CT')).toBe(true);
    expect(m('modality=MR')).toBe(false);
    expect(m('modality=CT&modality=MR')).toBe(false);
  });

  test('category and code for DiagnosticReport', () => {
    const r: DiagnosticReport = {
      resourceType: 'DiagnosticReport',
      id: 'xm-dyyy.r',
      status: 'final',
      category: [{ coding: [{ code: 'LAB' }] }, { coding: [{ code: 'HM' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '58410-2' }] },
    };
    const m = (qs: string) => matchesSearch(r, parseResultSearch('DiagnosticReport', q(`patient=p&${qs}`), undefined, HOSPITALS));
    expect(m('category=LAB&category=HM')).toBe(true);
    expect(m('category=LAB&category=RAD')).toBe(false);
    expect(m('code=58410-2')).toBe(true);
    expect(m('code=other')).toBe(false);
  });
});
