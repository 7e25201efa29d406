import { FHIR_JSON, prepare, prepareYielding } from '../../../../gateway/http/respond';
import type { FhirResponse } from '../../../../gateway/http/route';

/** prepare and prepareYielding turn a handler's answer into the same wire form. */
describe.each([
  ['prepare', async (r: FhirResponse) => prepare(r)],
  ['prepareYielding', (r: FhirResponse) => prepareYielding(r)],
])('%s', (_name, prep) => {
  test.each<[string, FhirResponse, number, string, string]>([
    ['a resource, status defaulted', { body: { resourceType: 'Patient', id: 'p1' } }, 200, FHIR_JSON, '{"resourceType":"Patient","id":"p1"}'],
    ['a text body', { status: 202, body: 'accepted' }, 202, 'text/plain; charset=utf-8', 'accepted'],
    ['a text body with its own type', { body: '# HELP x', contentType: 'text/plain; version=0.0.4' }, 200, 'text/plain; version=0.0.4', '# HELP x'],
    ['a JSON body with its own type', { status: 201, body: { a: '血常规' }, contentType: 'application/json' }, 201, 'application/json', '{"a":"血常规"}'],
  ])('%s', async (_case, response, status, contentType, text) => {
    const out = await prep(response);
    expect(out.status).toBe(status);
    expect(out.headers['Content-Type']).toBe(contentType);
    expect(Buffer.isBuffer(out.body) ? out.body.toString('utf8') : out.body).toBe(text);
  });

  test("keeps the handler's headers", async () => {
    const out = await prep({ status: 201, headers: { Location: 'http://gw/Consent/1/_history/1' }, body: { resourceType: 'Consent' } });
    expect(out.headers).toEqual({ Location: 'http://gw/Consent/1/_history/1', 'Content-Type': FHIR_JSON });
  });

  test('a body JSON cannot encode fails, for the dispatcher to answer with an OperationOutcome', async () => {
    const body = { resourceType: 'Bundle', entry: [{ n: 1n }] } as unknown as FhirResponse['body'];
    await expect(prep({ body })).rejects.toThrow(TypeError);
  });
});
