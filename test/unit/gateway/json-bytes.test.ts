import fc from 'fast-check';
import { jsonBytes } from '../../../gateway/http/json-bytes';

/** jsonBytes must write exactly what JSON.stringify writes, whatever the body. */
describe('jsonBytes', () => {
  const same = (body: unknown) => expect(jsonBytes(body).toString('utf8')).toBe(JSON.stringify(body) ?? 'null');

  test.each([
    ['a plain resource', { resourceType: 'Patient', id: 'p1', name: [{ text: '林小明' }] }],
    ['a Bundle without entries', { resourceType: 'Bundle', type: 'searchset', total: 0 }],
    ['a Bundle with an empty entry list', { resourceType: 'Bundle', type: 'searchset', entry: [] }],
    ['a Bundle with only entries', { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'Basic' } }] }],
    ['a Bundle whose entry is not last', { resourceType: 'Bundle', entry: [{ fullUrl: 'x' }], total: 1 }],
    ['entries JSON cannot represent', { resourceType: 'Bundle', entry: [undefined, { a: undefined }, null] }],
    ['a string', 'text'],
    ['null', null],
  ])('%s', (_name, body) => same(body));

  test('a large Bundle with Chinese text, written in several pieces, is byte for byte JSON.stringify', () => {
    const entry = Array.from({ length: 400 }, (_, i) => ({
      fullUrl: `http://gw/DiagnosticReport/h0.r${i}`,
      resource: { resourceType: 'DiagnosticReport', id: `h0.r${i}`, code: { text: i % 7 ? 'CBC panel' : '血常规 “全血” \\ 检查\n' } },
      search: { mode: 'match' },
    }));
    const body = { resourceType: 'Bundle', type: 'searchset', total: 400, link: [{ relation: 'self', url: 'http://gw/x?a=1' }], entry };
    const bytes = jsonBytes(body);
    expect(bytes.length).toBeGreaterThan(40_000);
    expect(bytes.equals(Buffer.from(JSON.stringify(body), 'utf8'))).toBe(true);
  });

  test('property: any JSON Bundle is written as JSON.stringify writes it', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.array(fc.jsonValue(), { maxLength: 60 }), (rest, entry) => {
        const { resourceType: _r, entry: _e, ...others } = rest;
        same({ resourceType: 'Bundle', ...others, entry });
      }),
      { numRuns: 300 },
    );
  });
});
