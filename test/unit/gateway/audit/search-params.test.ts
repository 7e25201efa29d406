import { isOperationOutcomeError } from '../../../../gateway/fhir/outcomes';
import { parseAuditSearch, parseDateParam } from '../../../../gateway/audit/search-params';

const q = (s: string) => {
  const out: Record<string, string[]> = {};
  for (const [k, v] of new URLSearchParams(s)) (out[k] ??= []).push(v);
  return out;
};
function status400(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (isOperationOutcomeError(e) && e.status === 400) return e.outcome.issue[0].expression?.[0] ?? 'yes';
    throw e;
  }
  return undefined;
}

describe('date parameter (prefixes eq ne gt lt ge le)', () => {
  test.each([
    ['2025-03-01', { op: 'range', start: '2025-02-28T16:00:00.000Z', end: '2025-03-01T16:00:00.000Z' }],
    ['eq2025-03', { op: 'range', start: '2025-02-28T16:00:00.000Z', end: '2025-03-31T16:00:00.000Z' }],
    ['eq2024', { op: 'range', start: '2023-12-31T16:00:00.000Z', end: '2024-12-31T16:00:00.000Z' }],
    ['ne2025-03-01', { op: 'outside', start: '2025-02-28T16:00:00.000Z', end: '2025-03-01T16:00:00.000Z' }],
    ['gt2025-03-01', { op: 'ge', value: '2025-03-01T16:00:00.000Z' }],
    ['ge2025-03-01', { op: 'ge', value: '2025-02-28T16:00:00.000Z' }],
    ['lt2025-03-01', { op: 'lt', value: '2025-02-28T16:00:00.000Z' }],
    ['le2025-03-01', { op: 'lt', value: '2025-03-01T16:00:00.000Z' }],
    ['ge2025-03-01T08:00:00+08:00', { op: 'ge', value: '2025-03-01T00:00:00.000Z' }],
    ['lt2025-03-01T10:30Z', { op: 'lt', value: '2025-03-01T10:30:00.000Z' }],
    ['le2025-03-01T10:30:15.250Z', { op: 'lt', value: '2025-03-01T10:30:15.251Z' }],
    ['2024-02-29', { op: 'range', start: '2024-02-28T16:00:00.000Z', end: '2024-02-29T16:00:00.000Z' }],
    ['le9999', { op: 'lt', value: '9999-12-31T16:00:00.000Z' }],
    ['le9999-12-31T23:59:59.999Z', { op: 'lt', value: '9999-12-31T23:59:59.999Z~' }],
  ])('%s', (raw, clause) => expect(parseDateParam(raw)).toEqual(clause));

  test.each(['sa2025-03-01', 'eb2025', 'ap2025', 'xx2025', '2025-13-01', '2025-02-30', '2023-02-29', '2025-03-01T25:00Z', 'yesterday', '', '20250301', '2025-03-01T10:00+15:00'])(
    '%s → 400',
    (raw) => expect(status400(() => parseDateParam(raw))).toBe('date'),
  );
});

describe('GET /AuditEvent parameters', () => {
  test.each([
    ['', { count: 50 }],
    ['patient=p1', { patients: ['p1'], count: 50 }],
    ['patient=Patient/p1', { patients: ['p1'], count: 50 }],
    ['patient=http://127.0.0.1:8080/Patient/p1', { patients: ['p1'], count: 50 }],
    ['patient=p1,p2', { patients: ['p1', 'p2'], count: 50 }],
    ['agent=D1029', { agents: ['D1029'], count: 50 }],
    ['agent=https://hie.xzq.example/fhir/sid/client-id|xm-zsh-his', { agents: ['xm-zsh-his'], count: 50 }],
    ['outcome=4,8', { outcomes: [4, 8], count: 50 }],
    ['purpose=ETREAT', { purposes: ['ETREAT'], count: 50 }],
    ['purpose=http://terminology.hl7.org/CodeSystem/v3-ActReason|BTG', { purposes: ['BTG'], count: 50 }],
    ['subtype=read', { subtypes: ['read'], count: 50 }],
    ['subtype=$verify', { subtypes: ['$verify'], count: 50 }],
    ['subtype=http://hl7.org/fhir/restful-interaction|search-type', { subtypes: ['search-type'], count: 50 }],
    ['_count=200', { count: 200 }],
    ['_count=1&_cursor=1234', { count: 1, before: 1234 }],
    ['date=ge2025-01-01&date=lt2025-02-01', { dates: [{ op: 'ge', value: '2024-12-31T16:00:00.000Z' }, { op: 'lt', value: '2025-01-31T16:00:00.000Z' }], count: 50 }],
    ['date=ge2025-01-01T00:00:00Z', { dates: [{ op: 'ge', value: '2025-01-01T00:00:00.000Z' }], count: 50 }],
    ['request-id=abc', { requestIds: ['abc'], count: 50 }],
    ['_format=json', { count: 50 }],
  ])('%s', (qs, query) => expect(parseAuditSearch(q(qs))).toEqual({ query, empty: false }));

  test('repeated parameters AND: two different patients match nothing', () => {
    expect(parseAuditSearch(q('patient=p1&patient=p2')).empty).toBe(true);
    expect(parseAuditSearch(q('patient=p1,p2&patient=p2'))).toEqual({ query: { patients: ['p2'], count: 50 }, empty: false });
  });

  test.each([
    ['_count=0', '_count'], ['_count=201', '_count'], ['_count=abc', '_count'], ['_count=-1', '_count'], ['_count=1&_count=2', '_count'],
    ['_cursor=x', '_cursor'], ['outcome=1', 'outcome'], ['outcome=success', 'outcome'], ['date=sa2025', 'date'],
    ['patient=p%201', 'patient'], [`patient=${'p'.repeat(65)}`, 'patient'], ['purpose=a%20b', 'purpose'], ['subtype=<x>', 'subtype'],
    [`agent=${'a'.repeat(129)}`, 'agent'],
  ])('%s → 400', (qs, expression) => expect(status400(() => parseAuditSearch(q(qs)))).toBe(expression));

  test('unknown parameters: ignored and named for the outcome entry, except with Prefer: handling=strict', () => {
    expect(parseAuditSearch(q('foo=1'), { prefer: 'handling=lenient' }).query).toEqual({ count: 50 });
    expect(parseAuditSearch(q('unknown=1&_format=json&_offset=5'))).toEqual({ query: { count: 50 }, empty: false, ignored: ['unknown', '_offset'] });
    expect(status400(() => parseAuditSearch(q('foo=1'), { prefer: 'return=minimal; handling=strict' }))).toBe('foo');
    expect(parseAuditSearch(q('patient=p1&_format=json'), { prefer: 'handling=strict' }).query.patients).toEqual(['p1']);
  });
});
