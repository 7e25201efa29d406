import type { OperationOutcome } from '@medplum/fhirtypes';
import fc from 'fast-check';
import { safeHeaderValue, safeText } from '../../../../gateway/fhir/fhir-string';
import {
  badRequest,
  hospitalFailureOutcome,
  notFound,
  OperationOutcomeError,
  outcome,
  safeOutcome,
  unauthorized,
  unprocessable,
} from '../../../../gateway/fhir/outcomes';
import { invalidResource } from '../../../../gateway/fhir/validator';
import { errorResponse, prepare } from '../../../../gateway/http/respond';
import { cleanString } from '../../../../gateway/audit/audit-event';
import { errorForLog } from '../../../../gateway/log-safe';
import { silentLogger } from '../../../../gateway/logger';
import { controlChar, hostileText, loneSurrogate, unsafeCharIn, unsafeStringsIn } from '../../../support/echo-safety';
import { expectValidFhir } from '../../../support/fhir-validation';

const BASE = 'http://gw';
const log = silentLogger();
const answer = (e: unknown) => errorResponse(e, log, BASE, 'req-1');
const NOT_PRINTABLE_ASCII = /[^\x20-\x7e]/;

/** The body of the error's answer, as a client parses it: valid R4, no unsafe string. */
function expectSafeAnswer(e: unknown): OperationOutcome {
  const r = answer(e);
  const wire = prepare(r);
  const parsed = JSON.parse(wire.body.toString()) as OperationOutcome;
  expect(unsafeStringsIn(parsed)).toEqual([]);
  expectValidFhir(parsed);
  for (const v of Object.values(wire.headers)) expect(v).not.toMatch(NOT_PRINTABLE_ASCII);
  return parsed;
}

describe('safeText, the one sanitiser of echoed text', () => {
  test.each([
    ['NUL', 'Organization/\u0000', 'Organization/\\u0000'],
    ['BEL and ESC', 'a\u0007b\u001bc', 'a\\u0007b\\u001bc'],
    ['DEL and the C1 range', '\u007f\u0085\u009f', '\\u007f\\u0085\\u009f'],
    ['noncharacters', '\ufffe\uffff', '\\ufffe\\uffff'],
    ['a lone high surrogate', 'x\ud800y', 'x\ufffdy'],
    ['a lone low surrogate', '\udc00', '\ufffd'],
    ['a reversed pair', '\ude00\ud83d', '\ufffd\ufffd'],
    ['tab, CR and LF (FHIR strings allow them)', 'a\tb\r\nc', 'a\tb\r\nc'],
    ['a pair, CJK and a backslash', '血常规 😀 \\u0000', '血常规 😀 \\u0000'],
  ])('%s', (_case, input, expected) => {
    expect(safeText(input)).toBe(expected);
  });

  test('on one line (logs) tab, CR and LF are escaped too; headers are printable ASCII', () => {
    expect(safeText('a\tb\r\nc', { lineBreaks: false })).toBe('a\\u0009b\\u000d\\u000ac');
    expect(safeHeaderValue('Bearer x\r\nSet-Cookie: a=1')).toBe('Bearer x\\u000d\\u000aSet-Cookie: a=1');
    expect(safeHeaderValue('血\ud800')).toBe('\\u8840\\ufffd');
  });

  test('a cut never leaves half a surrogate pair', () => {
    expect(safeText(`${'a'.repeat(63)}😀`, { max: 64 })).toBe('a'.repeat(63));
    expect(safeText(`${'a'.repeat(62)}😀`, { max: 64 })).toBe(`${'a'.repeat(62)}😀`);
  });

  test('property: the result is safe, idempotent, and safe text passes unchanged', () => {
    fc.assert(
      fc.property(hostileText(40), fc.boolean(), fc.boolean(), (s, lineBreaks, ascii) => {
        const opts = { lineBreaks, ascii };
        const out = safeText(s, opts);
        expect(unsafeCharIn(out)).toBeUndefined();
        if (!lineBreaks) expect(out).not.toMatch(/[\t\r\n]/);
        if (ascii) expect(out).not.toMatch(NOT_PRINTABLE_ASCII);
        expect(safeText(out, opts)).toBe(out);
        if (unsafeCharIn(s) === undefined && !/[\ufffe\uffff]/.test(s) && (lineBreaks || !/[\t\r\n]/.test(s)) && !(ascii && NOT_PRINTABLE_ASCII.test(s))) {
          expect(out).toBe(s);
        }
      }),
      { numRuns: 500 },
    );
  });

  test('property: what was safe around the replaced characters is kept, in order', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string({ unit: 'grapheme', maxLength: 5 }), fc.oneof(controlChar(), loneSurrogate()))), (parts) => {
        const out = safeText(parts.map(([a, b]) => a + b).join(''), { lineBreaks: false });
        let at = 0;
        for (const [kept] of parts) {
          const found = out.indexOf(kept, at);
          expect(found).toBeGreaterThanOrEqual(at);
          at = found + kept.length;
        }
      }),
      { numRuns: 200 },
    );
  });

  test('the audit trail and the process log use the same sanitiser', () => {
    expect(cleanString('evil\u0000\u0085\ud800', 64)).toBe('evil\ufffd\ufffd\ufffd');
    expect(cleanString(`${'c'.repeat(63)}😀`, 64)).toBe('c'.repeat(63));
    expect(errorForLog(new Error('bad\u0000line\nnext\ud800')).message).toBe('bad\\u0000line\\u000anext\ufffd');
  });
});

describe('every error answer is a valid FHIR resource with safe texts', () => {
  test('the bug of issue #14: Organization/%00 echoed U+0000 in details.text', () => {
    const body = expectSafeAnswer(notFound('Organization/\u0000 is not a member hospital'));
    expect(body.issue[0].details?.text).toBe('Organization/\\u0000 is not a member hospital');
    expect(body.issue[0].details?.coding?.[0]).toEqual({ system: `${BASE}/CodeSystem/gateway-error`, code: 'not-found' });
  });

  test('an id cut at 64 units inside a surrogate pair does not leave half of it', () => {
    const id = `${'a'.repeat(63)}😀`;
    const body = expectSafeAnswer(notFound(`Patient/${id.slice(0, 64)} is not known`));
    expect(body.issue[0].details?.text).toBe(`Patient/${'a'.repeat(63)}\ufffd is not known`);
  });

  test('an outcome built by hand, past every builder, is cleaned where the answer is written', () => {
    const raw = new OperationOutcomeError(400, {
      resourceType: 'OperationOutcome',
      issue: [
        { severity: 'error', code: 'invalid', details: { coding: [{ code: 'bad-request' }], text: 'x\u0000' }, diagnostics: '\u0001', expression: ['\u0002', ' ', '', 'ok\ud800'], location: ['\u0003'] },
        { severity: 'error', code: 'invalid', details: { text: ' \u00a0' } },
      ],
    });
    const body = expectSafeAnswer(raw);
    expect(body.issue[0]).toEqual({
      severity: 'error',
      code: 'invalid',
      details: { coding: [{ system: `${BASE}/CodeSystem/gateway-error`, code: 'bad-request' }], text: 'x\\u0000' },
      diagnostics: '\\u0001',
      expression: ['\\u0002', 'ok\ufffd'],
      location: ['\\u0003'],
    });
    expect(body.issue[1]).toEqual({ severity: 'error', code: 'invalid' });
    // the thrown error itself is not changed
    expect(raw.outcome.issue[0].details?.text).toBe('x\u0000');
  });

  test('a WWW-Authenticate description with CR/LF cannot split the header', () => {
    const r = answer(unauthorized('The bearer token is not valid', 'bad\r\nSet-Cookie: x=1 "q" \u0000'));
    const wire = prepare(r);
    expect(wire.headers['WWW-Authenticate']).toBe(`Bearer realm="xzq-gateway", error="invalid_token", error_description="bad\\u000d\\u000aSet-Cookie: x=1 'q' \\u0000"`);
  });

  test('headers of any answer are printable ASCII', () => {
    const wire = prepare({ body: { resourceType: 'Basic' } as never, headers: { ETag: 'W/"1\r\n"', Location: 'http://gw/血\u0085' } });
    expect(wire.headers.ETag).toBe('W/"1\\u000d\\u000a"');
    expect(wire.headers.Location).toBe('http://gw/\\u8840\\u0085');
  });

  test('property: any echoed value, through any builder, gives a safe, valid answer', () => {
    const builders: Array<(v: string) => unknown> = [
      (v) => badRequest(`${v}: not a FHIR date or dateTime`, v, 'invalid-date'),
      (v) => badRequest(`Unknown search parameter(s): ${v}`, [v, v.slice(0, 3)], 'unknown-parameter'),
      (v) => notFound(`Organization/${v.slice(0, 64)} is not a member hospital`),
      (v) => notFound(`DiagnosticReport/${v} is not known`),
      (v) => unprocessable(`${v} is not among this patient's results`, v, 'result-not-found'),
      (v) => unauthorized(v, v),
      (v) => invalidResource([{ text: `Consent.status: "${v.slice(0, 40)}" is not one of draft, active`, expression: v, code: 'code-invalid' }]),
      (v) => new OperationOutcomeError(412, outcome('error', 'conflict', v, { errorCode: 'version-conflict', expression: [v], diagnostics: v })),
      (v) => new OperationOutcomeError(400, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', details: { text: v }, diagnostics: v, expression: [v] }] }),
      (v) => new Error(v),
    ];
    fc.assert(
      fc.property(hostileText(), fc.integer({ min: 0, max: builders.length - 1 }), (v, i) => {
        expectSafeAnswer(builders[i](v));
      }),
      { numRuns: 300 },
    );
  });

  test('property: outcomes inside answers (a hospital that failed) are safe as built', () => {
    fc.assert(
      fc.property(hostileText(), hostileText(), (hospital, reason) => {
        const o = hospitalFailureOutcome(hospital, 'exception', reason);
        expect(unsafeStringsIn(o)).toEqual([]);
        expectValidFhir(o);
        expect(safeOutcome(structuredClone(o))).toEqual(o);
      }),
      { numRuns: 200 },
    );
  });
});
