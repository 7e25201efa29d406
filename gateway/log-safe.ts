import { safeText } from './fhir/fhir-string';

/**
 * What of an error may go to the process log. Driver and knex errors quote the SQL with its
 * bound values, which can hold national ids or results: only the part after knex's " - " (the
 * driver's own text, e.g. `SQLITE_BUSY: database is locked`) and the error code are kept, on one
 * line and without control characters or lone surrogates (the sanitiser of ./fhir/fhir-string.ts).
 */
export function errorForLog(e: unknown): { type?: string; code?: string; message?: string } {
  const err = (e ?? {}) as { name?: string; code?: unknown; message?: unknown };
  const message = typeof err.message === 'string' ? err.message : undefined;
  const driverText = message?.includes(' - ') ? message.slice(message.lastIndexOf(' - ') + 3) : message;
  return {
    type: err.name,
    code: typeof err.code === 'string' ? err.code : undefined,
    message: driverText && /\d{17}[\dXx]/.test(driverText) ? '[redacted]' : driverText === undefined ? undefined : safeText(driverText, { lineBreaks: false, max: 200 }),
  };
}
