import type { Response } from 'express';
import type { Logger } from 'pino';
import { ERROR_CODE_SYSTEM_PATH, isOperationOutcomeError, serverError } from '../fhir/outcomes';
import type { FhirResponse } from './route';
import { errorForLog } from '../log-safe';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/**
 * The one place that turns anything thrown into a response (STYLE.md §2): an OperationOutcomeError
 * keeps its status and headers; anything else is a 500 with no detail, logged without patient data.
 */
export function errorResponse(e: unknown, log: Logger, canonicalBase: string, requestId: string): FhirResponse {
  const known = isOperationOutcomeError(e) ? e : undefined;
  if (!known) {
    // Only the error's class and message: our own errors never carry patient data in messages.
    log.error({ requestId, err: errorForLog(e), stack: (e as Error)?.stack?.split('\n').slice(1, 8).join('\n') }, 'unhandled error');
  }
  const err = known ?? serverError();
  const outcome = structuredClone(err.outcome);
  for (const issue of outcome.issue ?? []) {
    for (const c of issue.details?.coding ?? []) c.system ??= canonicalBase + ERROR_CODE_SYSTEM_PATH;
  }
  return { status: err.status, body: outcome, headers: err.headers };
}

/** Write a handler's answer: status, content type, headers, body. */
export function send(res: Response, r: FhirResponse, requestId: string): void {
  res.status(r.status ?? 200);
  res.setHeader('X-Request-Id', requestId);
  for (const [k, v] of Object.entries(r.headers ?? {})) res.setHeader(k, v);
  if (typeof r.body === 'string') {
    res.setHeader('Content-Type', r.contentType ?? 'text/plain; charset=utf-8');
    res.end(r.body);
    return;
  }
  res.setHeader('Content-Type', r.contentType ?? FHIR_JSON);
  res.end(JSON.stringify(r.body));
}
