import { Transform, type TransformCallback } from 'node:stream';
import type { WadoRequest } from './contract';

/**
 * Pure rules of the DICOMweb proxy: what a UID is, the WADO-RS path a request maps to, which media
 * types each kind of retrieval may ask the PACS for, and a stream that rewrites the PACS's URLs in
 * JSON answers. The PACS's URL is only ever built from validated UIDs, never from the request's path.
 */

/** A DICOM UID (PS3.5 §9.1): components of digits without leading zeros, joined by dots, at most 64 characters. */
export function isDicomUid(s: string | undefined): s is string {
  return typeof s === 'string' && s.length <= 64 && /^(0|[1-9]\d*)(\.(0|[1-9]\d*))+$/.test(s);
}

/** `1`, `1,3,5`: frame numbers from 1, at most 1000 of them. */
export function parseFrames(s: string | undefined): number[] | undefined {
  if (s === undefined || !/^[1-9]\d{0,6}(,[1-9]\d{0,6}){0,999}$/.test(s)) return undefined;
  return s.split(',').map(Number);
}

/** The path of a retrieval below a DICOMweb base: `/studies/{study}[/series/{series}[/instances/{instance}[/frames/{f}]]][/metadata|/rendered]`. */
export function wadoPath(req: WadoRequest): string {
  let p = `/studies/${req.study}`;
  if (req.series) p += `/series/${req.series}`;
  if (req.series && req.instance) p += `/instances/${req.instance}`;
  if (req.series && req.instance && req.frames?.length) p += `/frames/${req.frames.join(',')}`;
  if (req.kind !== 'instances') p += `/${req.kind}`;
  return p;
}

const RENDERED = ['image/jpeg', 'image/png', 'image/gif'];

/**
 * The Accept to send the PACS: the client's choice when the kind allows it, else the kind's default
 * (PS3.18 §8.7): JPEG for `rendered`, DICOM JSON for `metadata`, DICOM objects (or raw frames) in
 * multipart/related for `instances`.
 */
export function acceptFor(req: WadoRequest): string {
  const asked = (req.accept ?? '').toLowerCase();
  if (req.kind === 'rendered') return RENDERED.find((t) => asked.includes(t)) ?? 'image/jpeg';
  if (req.kind === 'metadata') return 'application/dicom+json';
  if (req.frames?.length) return 'multipart/related; type="application/octet-stream"';
  return asked.includes('transfer-syntax=*') ? 'multipart/related; type="application/dicom"; transfer-syntax=*' : 'multipart/related; type="application/dicom"';
}

/**
 * Replaces every occurrence of `from` with `to` in a byte stream, holding back only the last
 * `from.length - 1` bytes of each chunk (an occurrence may straddle two chunks): for JSON answers
 * whose URLs name the PACS (RetrieveURL, BulkDataURI), so none of its addresses leave the gateway.
 */
export class ReplaceStream extends Transform {
  private tail = Buffer.alloc(0);
  private readonly from: Buffer;
  private readonly to: Buffer;

  constructor(from: string, to: string) {
    super();
    this.from = Buffer.from(from, 'utf8');
    this.to = Buffer.from(to, 'utf8');
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const data = this.tail.length ? Buffer.concat([this.tail, chunk]) : chunk;
    const keep = this.from.length - 1;
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const hit = data.indexOf(this.from, at);
      if (hit < 0) break;
      parts.push(data.subarray(at, hit), this.to);
      at = hit + this.from.length;
    }
    const safeEnd = Math.max(at, data.length - keep);
    parts.push(data.subarray(at, safeEnd));
    this.tail = Buffer.from(data.subarray(safeEnd));
    const out = Buffer.concat(parts);
    if (out.length) this.push(out);
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.tail.length) this.push(this.tail);
    done();
  }
}
