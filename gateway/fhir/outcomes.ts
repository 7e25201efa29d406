import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { HospitalFailureKind } from '../../adapters/adapter';
import { errorEntry, type CodeWithStatus, type ErrorCode, type HospitalFailureCode } from './error-catalogue';
import { safeText } from './fhir-string';

export { ERRORS, ERROR_CODES, errorEntry, isErrorCode, statusesOf } from './error-catalogue';
export type { CodeWithStatus, ErrorCode, ErrorEntry, HospitalFailureCode } from './error-catalogue';

/**
 * Outcomes are data: every refusal the gateway makes is built here, and every error that reaches
 * the HTTP layer is an {@link OperationOutcomeError}. The HTTP status is carried beside the outcome
 * so one function (gateway/http/respond.ts) can write every response.
 *
 * `issue.details.coding[0].code` is a stable error code a HIS can branch on; its system is the
 * gateway's error code system under the canonical base (filled in when the response is written).
 * See API.md §4. Every code is catalogued in ./error-catalogue.ts (listed in docs/errors.md) with its
 * status, severity and FHIR issue type: the builders below take severity and issue type from there,
 * and each accepts only the codes catalogued with its status (`CodeWithStatus<403>` for
 * {@link forbidden}), so a misspelt code, or one used with the wrong status, does not compile.
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
  opts: { errorCode?: ErrorCode; expression?: string[]; diagnostics?: string } = {},
): OperationOutcome {
  const issue: OperationOutcomeIssue = { severity, code, details: { text } };
  if (opts.errorCode) issue.details = { coding: [{ code: opts.errorCode }], text };
  if (opts.expression?.length) issue.expression = opts.expression;
  if (opts.diagnostics) issue.diagnostics = opts.diagnostics;
  return safeOutcome({ resourceType: 'OperationOutcome', issue: [issue] });
}

/**
 * Makes every echoed text of `o` a valid FHIR string, in place: `details.text`, `diagnostics`,
 * `expression` and `location` often quote what the request sent (an id, a parameter name or value),
 * so control characters and lone surrogates are escaped (./fhir-string.ts), and a value left with
 * no visible content is dropped rather than sent as an invalid empty string. Run by {@link outcome}
 * and, for every error whatever built it, by gateway/http/respond.ts; running it twice changes nothing.
 */
export function safeOutcome<T extends OperationOutcome>(o: T): T {
  const clean = (s: unknown): string | undefined => {
    if (typeof s !== 'string') return undefined;
    const t = safeText(s);
    return t.trim() ? t : undefined;
  };
  const cleanList = (l: unknown): string[] | undefined => {
    const out = Array.isArray(l) ? l.map(clean).filter((s): s is string => s !== undefined) : [];
    return out.length ? out : undefined;
  };
  for (const issue of o.issue ?? []) {
    if (issue.details) {
      const text = clean(issue.details.text);
      if (text === undefined) delete issue.details.text;
      else issue.details.text = text;
      if (!issue.details.coding?.length && issue.details.text === undefined) delete issue.details;
    }
    if ('diagnostics' in issue) {
      const diagnostics = clean(issue.diagnostics);
      if (diagnostics === undefined) delete issue.diagnostics;
      else issue.diagnostics = diagnostics;
    }
    for (const key of ['expression', 'location'] as const) {
      if (key in issue) {
        const v = cleanList(issue[key]);
        if (v === undefined) delete issue[key];
        else issue[key] = v;
      }
    }
  }
  return o;
}

/** A refusal with `status`, its severity and issue type those of the catalogued `errorCode`. */
function err<S extends number>(
  status: S,
  errorCode: CodeWithStatus<S>,
  text: string,
  expression?: string | string[],
  headers?: Record<string, string>,
): OperationOutcomeError {
  const code: ErrorCode = errorCode;
  const { severity, issue } = errorEntry(code);
  const expr = expression === undefined ? undefined : Array.isArray(expression) ? expression : [expression];
  return new OperationOutcomeError(status, outcome(severity, issue, text, { errorCode: code, expression: expr }), headers);
}

/** 400: a parameter or body the gateway cannot use. `expression` names the parameter or field. */
export const badRequest = (text: string, expression?: string | string[], errorCode: CodeWithStatus<400> = 'bad-request') =>
  err(400, errorCode, text, expression);
/** 401: no usable token. Always with `WWW-Authenticate: Bearer` (RFC 6750). */
export const unauthorized = (text = 'A valid bearer token is required', description?: string) =>
  err(401, 'unauthorized', text, undefined, {
    'WWW-Authenticate': description
      ? `Bearer realm="xzq-gateway", error="invalid_token", error_description="${description.replace(/"/g, "'")}"`
      : 'Bearer realm="xzq-gateway"',
  });
export const forbidden = (text = 'Access denied', errorCode: CodeWithStatus<403> = 'forbidden') => err(403, errorCode, text);
export const notFound = (text = 'Resource not found', errorCode: CodeWithStatus<404> = 'not-found') =>
  err(404, errorCode, text);
export const methodNotAllowed = (text: string) => err(405, 'method-not-allowed', text);
export const conflict = (text: string, errorCode: CodeWithStatus<409>) => err(409, errorCode, text);
export const notAcceptable = (text: string) => err(406, 'not-acceptable', text);
export const payloadTooLarge = (limit: string) =>
  err(413, 'payload-too-large', `Request body exceeds ${limit}`);
export const unsupportedMediaType = (text: string) => err(415, 'unsupported-media-type', text);
export const unprocessable = (text: string, expression?: string | string[], errorCode: CodeWithStatus<422> = 'invalid-resource') =>
  err(422, errorCode, text, expression);
export const tooManyRequests = (retryAfterSeconds: number) =>
  err(429, 'too-many-requests', 'Too many requests', undefined, {
    'Retry-After': String(retryAfterSeconds),
  });
export const serviceUnavailable = (text: string, errorCode: CodeWithStatus<503> = 'unavailable') =>
  err(503, errorCode, text);
/** 503 at once: this process has as many requests waiting as it lets wait (gateway/http/admission.ts). */
export const gatewayBusy = () =>
  err(503, 'gateway-busy', 'The gateway has too many requests waiting; retry after Retry-After', undefined, { 'Retry-After': '1' });
/** 502: an upstream the gateway proxies (a hospital's PACS) did not answer usably. */
export const badGateway = (text: string, errorCode: CodeWithStatus<502> = 'pacs-unavailable') => err(502, errorCode, text);
/** 500 with no detail: the cause is logged (without patient data), never returned. */
export const serverError = () => err(500, 'internal-error', 'Internal error');

export type { HospitalFailureKind };

/**
 * A warning for a Bundle outcome entry: one hospital did not contribute to the answer. Its issue
 * type is the failure kind (`timeout`, `transient`, `exception`; API.md §4), as catalogued for
 * `hospital-<kind>`.
 */
export function hospitalFailureOutcome(hospitalId: string, kind: HospitalFailureKind, reason: string): OperationOutcome {
  const errorCode: HospitalFailureCode = `hospital-${kind}`;
  const entry = errorEntry(errorCode);
  return outcome(entry.partial ?? 'warning', entry.issue, `Hospital ${hospitalId} did not answer: ${reason}`, {
    errorCode,
    diagnostics: hospitalId,
  });
}

/** One entry, no count and no detail, when consent withheld some results (API.md §5). */
export function suppressedOutcome(): OperationOutcome {
  const { severity, issue } = errorEntry('consent-suppressed');
  return outcome(severity, issue, 'Some results were withheld under the patient\'s consent', {
    errorCode: 'consent-suppressed',
  });
}

/** The outcome entry of a name search that could not ask every hospital (names stay in systems that hold them). */
export function nameSearchPartialOutcome(hospitalNames: readonly string[]): OperationOutcome {
  const { severity, issue } = errorEntry('name-search-partial');
  return outcome(severity, issue, `Not searchable by name (no names in their systems): ${hospitalNames.join(', ')}`, { errorCode: 'name-search-partial' });
}

export function isOperationOutcomeError(e: unknown): e is OperationOutcomeError {
  return e instanceof OperationOutcomeError;
}
