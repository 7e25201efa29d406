/**
 * A response body as UTF-8 JSON bytes, built so that no intermediate string is large.
 *
 * Why: one JSON.stringify of a search Bundle makes one string of the whole answer. With a single
 * character outside Latin-1 (every Chinese display name) V8 stores it two bytes per character, so a
 * 100 KB answer becomes a 200+ KB string, past V8's largest regular heap object: it is allocated in
 * the large-object space (its own mapping, paged in and released per request). Measured on the
 * bench's answer, that tripled the CPU of sending it. Bundles are encoded entry by entry instead,
 * and the entries' strings are written into one Buffer (outside the JS heap), never joined to one
 * another: joining them into pieces and flattening those doubled what encoding allocated, and with
 * it how often the young generation is collected under load, which is what moves the in-flight
 * requests' objects into the old generation (measured: half the young collections that encoding
 * caused). The bytes are identical to JSON.stringify's.
 */
const PIECE_CHARS = 16_384;

export function jsonBytes(body: unknown): Buffer {
  const entries = bundleEntries(body);
  if (!entries) return Buffer.from(JSON.stringify(body) ?? 'null', 'utf8');
  const w = new BundleWriter(body as { entry: unknown[] });
  while (w.write(Infinity));
  return w.bytes();
}

/**
 * The same bytes, giving the event loop a turn between pieces of about PIECE_CHARS characters. Why:
 * the dispatcher serialises an answer while its audit INSERT runs, and node-sqlite3 runs a statement
 * in steps on its thread pool, each started or answered on the main thread (a knex query: prepare,
 * run, finalize; the prepared audit INSERT: its start after the pool lends the connection, then
 * its callback). Serialising in one go held those steps back until it was done; with a turn between
 * pieces the INSERT moves on while the answer is encoded (measured at one connection with knex's
 * INSERT: encoding and the commit's wait together went from ~3.4 ms to ~2.5 ms; with the prepared
 * one, the bench's 114 KB answer: 1.7 ms, of which 0.72 encoding and 0.11 the later turns). The
 * dispatcher uses it only when no other request is being answered: under load the turns only keep
 * each answer's objects alive longer.
 */
export async function jsonBytesYielding(body: unknown): Promise<Buffer> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  const entries = bundleEntries(body);
  if (!entries) return Buffer.from(JSON.stringify(body) ?? 'null', 'utf8');
  const w = new BundleWriter(body as { entry: unknown[] });
  while (w.write(PIECE_CHARS)) await new Promise<void>((resolve) => setImmediate(resolve));
  return w.bytes();
}

/**
 * A Bundle whose entries are last, entry by entry: each entry's JSON is kept until the Bundle is
 * complete, then all are written into one Buffer of exactly their UTF-8 length (no growing, no
 * copies, and no answer holding more memory outside the heap than its bytes).
 */
class BundleWriter {
  private readonly parts: string[] = [];
  private byteLength = 0;
  private next = 0;
  private readonly entries: unknown[];

  constructor(body: { entry: unknown[] }) {
    const { entry, ...rest } = body;
    this.entries = entry;
    const head = JSON.stringify(rest);
    this.add(head === '{}' ? '{"entry":[' : `${head.slice(0, -1)},"entry":[`);
  }

  /** Encodes entries until about `chars` characters are done; false once the Bundle is complete. */
  write(chars: number): boolean {
    let done = 0;
    while (this.next < this.entries.length && done < chars) {
      // inside an array JSON.stringify writes what it cannot represent (undefined, functions) as null
      const json = (this.next ? ',' : '') + (JSON.stringify(this.entries[this.next++]) ?? 'null');
      this.add(json);
      done += json.length;
    }
    if (this.next < this.entries.length) return true;
    this.add(']}');
    return false;
  }

  bytes(): Buffer {
    const out = Buffer.allocUnsafe(this.byteLength);
    let at = 0;
    for (const p of this.parts) at += out.write(p, at, 'utf8');
    return out;
  }

  private add(s: string): void {
    this.parts.push(s);
    this.byteLength += Buffer.byteLength(s, 'utf8');
  }
}

/** The entries of a Bundle whose `entry` is a plain array written as the last member, else undefined. */
function bundleEntries(body: unknown): unknown[] | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const b = body as { resourceType?: unknown; entry?: unknown; toJSON?: unknown };
  if (b.resourceType !== 'Bundle' || !Array.isArray(b.entry) || b.entry.length === 0 || b.toJSON !== undefined) return undefined;
  const keys = Object.keys(b);
  return keys[keys.length - 1] === 'entry' ? b.entry : undefined;
}
