import fc from 'fast-check';
import { jsonBytes, jsonBytesYielding } from '../../../../gateway/http/json-bytes';

const largeBundle = () => {
  const entry = Array.from({ length: 400 }, (_, i) => ({
    fullUrl: `http://gw/DiagnosticReport/h0.r${i}`,
    resource: { resourceType: 'DiagnosticReport', id: `h0.r${i}`, code: { text: i % 7 ? 'CBC panel' : '血常规 “全血” \\ 检查\n' } },
    search: { mode: 'match' },
  }));
  return { resourceType: 'Bundle', type: 'searchset', total: 400, link: [{ relation: 'self', url: 'http://gw/x?a=1' }], entry };
};

/** Both serialisers must write exactly what JSON.stringify writes, whatever the body. */
describe.each([
  ['jsonBytes', async (body: unknown) => jsonBytes(body)],
  ['jsonBytesYielding', (body: unknown) => jsonBytesYielding(body)],
])('%s', (_name, encode) => {
  const same = async (body: unknown) => expect((await encode(body)).toString('utf8')).toBe(JSON.stringify(body) ?? 'null');

  test.each([
    ['a plain resource', { resourceType: 'Patient', id: 'p1', name: [{ text: '林小明' }] }],
    ['a Bundle without entries', { resourceType: 'Bundle', type: 'searchset', total: 0 }],
    ['a Bundle with an empty entry list', { resourceType: 'Bundle', type: 'searchset', entry: [] }],
    ['a Bundle with only entries', { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'Basic' } }] }],
    ['a Bundle whose entry is not last', { resourceType: 'Bundle', entry: [{ fullUrl: 'x' }], total: 1 }],
    ['entries JSON cannot represent', { resourceType: 'Bundle', entry: [undefined, { a: undefined }, null] }],
    ['a string', 'text'],
    ['null', null],
  ])('%s', (_case, body) => same(body));

  test('a large Bundle with Chinese text, written in several pieces, is byte for byte JSON.stringify', async () => {
    const body = largeBundle();
    const bytes = await encode(body);
    expect(bytes.length).toBeGreaterThan(40_000);
    expect(bytes.equals(Buffer.from(JSON.stringify(body), 'utf8'))).toBe(true);
  });

  test('property: any JSON Bundle is written as JSON.stringify writes it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.string(), fc.jsonValue()), fc.array(fc.jsonValue(), { maxLength: 60 }), async (rest, entry) => {
        const { resourceType: _r, entry: _e, ...others } = rest;
        await same({ resourceType: 'Bundle', ...others, entry });
      }),
      { numRuns: 300 },
    );
  });
});

describe('jsonBytesYielding', () => {
  test('gives the event loop a turn between pieces, so other callbacks run while a large answer is encoded', async () => {
    let turns = 0;
    let stop = false;
    const tick = () => {
      if (stop) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    await jsonBytesYielding(largeBundle()); // ~50 KB: several pieces
    stop = true;
    expect(turns).toBeGreaterThanOrEqual(3);
  });
});
