import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/**
 * Outcomes are data: every refusal the gateway makes is built here, and every error that reaches
 * the HTTP layer is an {@link OperationOutcomeError}. The HTTP status is carried beside the outcome
 * so one function (gateway/http/respond.ts) can write every response.
 *
 * `issue.details.coding[0].code` is a stable error code a HIS can branch on; its system is the
 * gateway's error code system under the canonical base (filled in when the response is written).
 * See API.md §4.
 */
export const ERROR_CODE_SYSTEM_PATH = '/CodeSystem/gateway-error';

export type IssueCode = OperationOutcomeIssue['code'];
export type IssueSeverity = OperationOutcomeIssue['severity'];

export class OperationOutcomeError extends Error {
  constructor(
    readonly status: number,
    readonly outcome: OperationOutcome,
    readonly headers: Record<string, string> = {},
  ) {
    super(outcome.issue?.[0]?.diagnostics ?? outcome.issue?.[0]?.details?.text ?? 'error');
    this.name = 'OperationOutcomeError';
  }
}

export function outcome(
  severity: IssueSeverity,
  code: IssueCode,
  text: string,
  opts: { errorCode?: string; expression?: string[]; diagnostics?: string } = {},
): OperationOutcome {
  const issue: OperationOutcomeIssue = { severity, code, details: { text } };
  if (opts.errorCode) issue.details = { coding: [{ code: opts.errorCode }], text };
  if (opts.expression?.length) issue.expression = opts.expression;
  if (opts.diagnostics) issue.diagnostics = opts.diagnostics;
  return { resourceType: 'OperationOutcome', issue: [issue] };
}

function err(
  status: number,
  code: IssueCode,
  errorCode: string,
  text: string,
  expression?: string | string[],
  headers?: Record<string, string>,
): OperationOutcomeError {
  const expr = expression === undefined ? undefined : Array.isArray(expression) ? expression : [expression];
  return new OperationOutcomeError(status, outcome('error', code, text, { errorCode, expression: expr }), headers);
}

/** 400: a parameter or body the gateway cannot use. `expression` names the parameter or field. */
export const badRequest = (text: string, expression?: string | string[], errorCode = 'bad-request') =>
  err(400, 'invalid', errorCode, text, expression);
/** 401: no usable token. Always with `WWW-Authenticate: Bearer` (RFC 6750). */
export const unauthorized = (text = 'A valid bearer token is required', description?: string) =>
  err(401, 'login', 'unauthorized', text, undefined, {
    'WWW-Authenticate': description
      ? `Bearer realm="xzq-gateway", error="invalid_token", error_description="${description.replace(/"/g, "'")}"`
      : 'Bearer realm="xzq-gateway"',
  });
export const forbidden = (text = 'Access denied', errorCode = 'forbidden') => err(403, 'forbidden', errorCode, text);
export const notFound = (text = 'Resource not found', errorCode = 'not-found') =>
  err(404, 'not-found', errorCode, text);
export const methodNotAllowed = (text: string) => err(405, 'not-supported', 'method-not-allowed', text);
export const notAcceptable = (text: string) => err(406, 'not-supported', 'not-acceptable', text);
export const payloadTooLarge = (limit: string) =>
  err(413, 'too-long', 'payload-too-large', `Request body exceeds ${limit}`);
export const unsupportedMediaType = (text: string) => err(415, 'not-supported', 'unsupported-media-type', text);
export const unprocessable = (text: string, expression?: string | string[], errorCode = 'invalid-resource') =>
  err(422, 'processing', errorCode, text, expression);
export const tooManyRequests = (retryAfterSeconds: number) =>
  err(429, 'throttled', 'too-many-requests', 'Too many requests', undefined, {
    'Retry-After': String(retryAfterSeconds),
  });
export const serviceUnavailable = (text: string, errorCode = 'unavailable') =>
  err(503, 'transient', errorCode, text);
/** 500 with no detail: the cause is logged (without patient data), never returned. */
export const serverError = () => err(500, 'exception', 'internal-error', 'Internal error');

/** The kinds of hospital failure a partial-results outcome entry reports (API.md §4). */
export type HospitalFailureKind = 'timeout' | 'transient' | 'exception';

/** A warning for a Bundle outcome entry: one hospital did not contribute to the answer. */
export function hospitalFailureOutcome(hospitalId: string, kind: HospitalFailureKind, reason: string): OperationOutcome {
  return outcome('warning', kind, `Hospital ${hospitalId} did not answer: ${reason}`, {
    errorCode: `hospital-${kind}`,
    diagnostics: hospitalId,
  });
}

/** One entry, no count and no detail, when consent withheld some results (API.md §5). */
export function suppressedOutcome(): OperationOutcome {
  return outcome('information', 'suppressed', 'Some results were withheld under the patient\'s consent', {
    errorCode: 'consent-suppressed',
  });
}

export function isOperationOutcomeError(e: unknown): e is OperationOutcomeError {
  return e instanceof OperationOutcomeError;
}
