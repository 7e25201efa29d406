/**
 * A response body as UTF-8 JSON bytes, built so that no intermediate string is large.
 *
 * Why: one JSON.stringify of a search Bundle makes one string of the whole answer. With a single
 * character outside Latin-1 (every Chinese display name) V8 stores it two bytes per character, so a
 * 100 KB answer becomes a 200+ KB string, past V8's largest regular heap object: it is allocated in
 * the large-object space (its own mapping, paged in and released per request). Measured on the
 * bench's answer, that tripled the CPU of sending it. Bundles are written entry by entry instead,
 * in pieces well under that size; the bytes are identical to JSON.stringify's.
 */
const PIECE_CHARS = 16_384;

export function jsonBytes(body: unknown): Buffer {
  const entries = bundleEntries(body);
  if (!entries) return Buffer.from(JSON.stringify(body) ?? 'null', 'utf8');
  const { entry: _entry, ...rest } = body as { entry: unknown[] };
  const head = JSON.stringify(rest);
  const parts: Buffer[] = [Buffer.from(head === '{}' ? '{"entry":[' : `${head.slice(0, -1)},"entry":[`, 'utf8')];
  let piece = '';
  for (let i = 0; i < entries.length; i++) {
    // inside an array JSON.stringify writes what it cannot represent (undefined, functions) as null
    piece += (i ? ',' : '') + (JSON.stringify(entries[i]) ?? 'null');
    if (piece.length >= PIECE_CHARS) {
      parts.push(Buffer.from(piece, 'utf8'));
      piece = '';
    }
  }
  parts.push(Buffer.from(`${piece}]}`, 'utf8'));
  return Buffer.concat(parts);
}

/** The entries of a Bundle whose `entry` is a plain array written as the last member, else undefined. */
function bundleEntries(body: unknown): unknown[] | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const b = body as { resourceType?: unknown; entry?: unknown; toJSON?: unknown };
  if (b.resourceType !== 'Bundle' || !Array.isArray(b.entry) || b.entry.length === 0 || b.toJSON !== undefined) return undefined;
  const keys = Object.keys(b);
  return keys[keys.length - 1] === 'entry' ? b.entry : undefined;
}
