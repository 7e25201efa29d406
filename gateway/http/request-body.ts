import type { Request } from 'express';
import { badRequest, payloadTooLarge, unsupportedMediaType } from '../fhir/outcomes';

export const MAX_BODY_BYTES = 1024 * 1024;

/** Read the raw body, refusing more than 1 MiB (API.md §4: 413) without buffering past the limit. */
export async function readRawBody(req: Request, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume(); // drain, so the connection can answer
    throw payloadTooLarge('1 MiB');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      throw payloadTooLarge('1 MiB');
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const mediaType = (req: Request) => (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();

/** A FHIR JSON body: `application/fhir+json` or `application/json`; malformed JSON is a 400. */
export async function readJsonBody(req: Request): Promise<unknown> {
  const raw = await readRawBody(req);
  const type = mediaType(req);
  if (raw.length === 0) throw badRequest('A request body is required');
  if (type !== 'application/fhir+json' && type !== 'application/json') {
    throw unsupportedMediaType('Send FHIR JSON (Content-Type: application/fhir+json)');
  }
  const text = raw.toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw badRequest('The request body is not valid JSON', undefined, 'malformed-json');
  }
  // FHIR strings cannot hold U+0000 (R4 §2.1.0.3), and PostgreSQL text refuses it: never let one reach the store.
  if (/\\u0000/i.test(text)) throw badRequest('The request body contains a NUL character, which no FHIR string may hold', undefined, 'invalid-body');
  return body;
}

/** A query or path value holding U+0000 is never meaningful, and PostgreSQL text refuses it: 400 before anything reads it. */
export function refuseNul(query: Record<string, string[]>, params: Record<string, string>): void {
  const has = (v: string) => v.includes('\0');
  for (const [k, vs] of Object.entries(query)) {
    if (has(k) || vs.some(has)) throw badRequest('A query parameter contains a NUL character', undefined, 'invalid-parameter');
  }
  if (Object.values(params).some(has)) throw badRequest('The path contains a NUL character', undefined, 'invalid-parameter');
}

/** An `application/x-www-form-urlencoded` body as repeated parameters. */
export async function readFormBody(req: Request): Promise<Record<string, string[]>> {
  const raw = await readRawBody(req);
  if (raw.length > 0 && mediaType(req) !== 'application/x-www-form-urlencoded') {
    throw unsupportedMediaType('Send parameters as application/x-www-form-urlencoded');
  }
  return parseParams(raw.toString('utf8'));
}

/** Parse a query or form string, keeping every value of repeated names. */
export function parseParams(qs: string): Record<string, string[]> {
  const out: Record<string, string[]> = Object.create(null);
  for (const [k, v] of new URLSearchParams(qs)) (out[k] ??= []).push(v);
  return out;
}
