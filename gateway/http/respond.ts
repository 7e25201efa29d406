import type { Response } from 'express';
import type { Logger } from 'pino';
import { ERROR_CODE_SYSTEM_PATH, isOperationOutcomeError, OperationOutcomeError, safeOutcome, serverError, serviceUnavailable } from '../fhir/outcomes';
import { isStoreUnavailable } from '../storage/db';
import { safeHeaderValue } from '../fhir/fhir-string';
import { Readable, pipeline } from 'node:stream';
import { isStreamBody, type FhirResponse } from './route';
import { errorForLog } from '../log-safe';
import { jsonBytes, jsonBytesYielding } from './json-bytes';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/**
 * The one place that turns anything thrown into a response (STYLE.md §2): an OperationOutcomeError
 * keeps its status and headers; the database being unreachable (a restart, a cut connection) is a
 * 503 the client may retry, since nothing was answered and the next request gets a fresh
 * connection; anything else is a 500 with no detail, logged without patient data.
 * Whatever built the outcome, its texts leave here as valid FHIR strings (safeOutcome: no control
 * character or lone surrogate a throw site echoed from the request).
 */
export function errorResponse(e: unknown, log: Logger, canonicalBase: string, requestId: string): FhirResponse {
  let known = isOperationOutcomeError(e) ? e : undefined;
  if (!known && isStoreUnavailable(e)) {
    log.warn({ requestId, err: errorForLog(e) }, 'database unavailable');
    const refusal = serviceUnavailable('The gateway cannot reach its database just now; nothing was returned, try again', 'unavailable');
    known = new OperationOutcomeError(503, refusal.outcome, { ...refusal.headers, 'Retry-After': '2' });
  } else if (!known) {
    // Only the error's class and message: our own errors never carry patient data in messages.
    log.error({ requestId, err: errorForLog(e), stack: (e as Error)?.stack?.split('\n').slice(1, 8).join('\n') }, 'unhandled error');
  }
  const err = known ?? serverError();
  const outcome = safeOutcome(structuredClone(err.outcome));
  for (const issue of outcome.issue ?? []) {
    for (const c of issue.details?.coding ?? []) c.system ??= canonicalBase + ERROR_CODE_SYSTEM_PATH;
  }
  return { status: err.status, body: outcome, headers: err.headers };
}

/** An answer ready for the wire: status, headers and the body's bytes (or its stream, passed through). */
export interface PreparedResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string | Readable;
}

/** Serialise a handler's answer (unaudited answers and the OperationOutcomes of failures). */
export function prepare(r: FhirResponse): PreparedResponse {
  if (typeof r.body === 'string' || Buffer.isBuffer(r.body)) return prepared(r, r.body);
  if (isStreamBody(r.body)) return prepared(r, r.body.stream);
  return prepared(r, jsonBytes(r.body as Record<string, unknown>));
}

/**
 * {@link prepare}, giving the event loop turns while it encodes (see jsonBytesYielding). The
 * dispatcher runs it while the answer's audit record is committed, so the encoding overlaps the
 * commit and the answer's object graph is garbage before the wait.
 */
export async function prepareYielding(r: FhirResponse): Promise<PreparedResponse> {
  if (typeof r.body === 'string' || Buffer.isBuffer(r.body)) return prepared(r, r.body);
  if (isStreamBody(r.body)) return prepared(r, r.body.stream);
  return prepared(r, await jsonBytesYielding(r.body as Record<string, unknown>));
}

/** Every answer passes here: header values are made printable ASCII, so never CR, LF or a control. */
function prepared(r: FhirResponse, body: Buffer | string | Readable): PreparedResponse {
  const contentType = r.contentType ?? (typeof body === 'string' ? 'text/plain; charset=utf-8' : body instanceof Readable ? 'application/octet-stream' : FHIR_JSON);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...r.headers, 'Content-Type': contentType })) headers[k] = safeHeaderValue(String(v));
  return { status: r.status ?? 200, headers, body };
}

/** Write a prepared answer. */
export function send(res: Response, r: PreparedResponse, requestId: string): void {
  res.status(r.status);
  res.setHeader('X-Request-Id', requestId);
  for (const [k, v] of Object.entries(r.headers)) res.setHeader(k, v);
  if (r.body instanceof Readable) {
    pipeline(r.body, res, () => undefined); // an error destroys both: the client sees a cut answer, never a wrong one
    return;
  }
  res.end(r.body);
}
