import { AdapterError } from '../adapter';

/** Network error codes (Node, undici) that mean the hospital may answer later. */
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

/**
 * A failure of a hospital FHIR server → AdapterError kind (API.md §4 partial results): aborted →
 * `timeout`; refused/reset connections, HTTP 5xx, 429, 408 → `transient`; invalid JSON, HTTP 4xx,
 * anything else → `exception`. Messages name the kind of failure only: never the URL (it holds the
 * national id), never the body.
 */
export function classifyFhirError(e: unknown, signal?: AbortSignal): AdapterError {
  if (e instanceof AdapterError) return e;
  const err = e as { name?: string; response?: { status?: unknown }; cause?: { code?: unknown; name?: string }; code?: unknown };
  if (signal?.aborted || err?.name === 'AbortError' || err?.name === 'TimeoutError') {
    return new AdapterError('no answer from the hospital in time', 'timeout');
  }
  const status = err?.response?.status;
  if (typeof status === 'number') {
    if (status >= 200 && status < 300) return new AdapterError('the hospital answered with invalid JSON', 'exception');
    if (status >= 500 || status === 429 || status === 408) return new AdapterError(`the hospital answered HTTP ${status}`, 'transient');
    return new AdapterError(`the hospital answered HTTP ${status}`, 'exception');
  }
  const code = typeof err?.cause?.code === 'string' ? err.cause.code : typeof err?.code === 'string' ? err.code : undefined;
  if (code && TRANSIENT_CODES.has(code)) return new AdapterError(`cannot reach the hospital (${code})`, 'transient');
  if (err?.name === 'TypeError' && (e as Error).message === 'fetch failed') return new AdapterError('cannot reach the hospital', 'transient');
  return new AdapterError('unexpected failure talking to the hospital', 'exception');
}
