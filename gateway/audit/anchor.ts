import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { GatewayConfig } from '../config';
import { anchorLine, parseAnchorLine, type SignedCheckpoint } from './checkpoint';

/**
 * Where checkpoints are copied outside the database (docs/audit.md §3): a destination the
 * database's administrators cannot rewrite. Today an append-only file of JSON lines; the interface
 * leaves room for an object store with object lock (one object per checkpoint) or syslog (which
 * cannot be read back, so `read` is optional: `$verify` then checks the database copies alone).
 */
export interface CheckpointAnchor {
  /** what kind of destination, for /healthz (never a path: /healthz is open) */
  readonly kind: string;
  /** append these checkpoints, in order, durably; throws when the destination cannot take them */
  append(checkpoints: readonly SignedCheckpoint[]): Promise<void>;
  /** the newest checkpoint anchored, or undefined when none is */
  last(): Promise<{ seq: number; hash: string } | undefined>;
  /** every anchored entry in the order stored, for `$verify` */
  read?(): AsyncIterable<AnchorEntry>;
}

/** One entry of an anchor: a checkpoint, or a line that is not one (edited, or cut short). */
export interface AnchorEntry {
  /** 1-based line number */
  line: number;
  checkpoint?: SignedCheckpoint;
  error?: string;
  /** the file's last line has no line end: the file was cut inside it */
  partial?: boolean;
}

export type AnchorSettings = NonNullable<GatewayConfig['audit']['checkpoints']>['anchor'];

export function createAnchor(settings: AnchorSettings): CheckpointAnchor {
  return createFileAnchor(settings.path);
}

/** How much of the file's end `last()` reads to find the newest line (lines are ~500 bytes). */
const TAIL_BYTES = 64 * 1024;

/**
 * The file anchor: JSON lines, opened O_APPEND (mode 0640) for every append and fsync'd before
 * the append counts, so a line is either wholly there or not, and nothing this process writes can
 * move or overwrite what is there. Making the file write-once is the operator's part: `chattr +a`,
 * a WORM volume, or a file shipped off the host (docs/audit.md §3). The folder must exist: the
 * gateway never creates it, so a mistyped path shows up as a failing anchor, not a stray file.
 */
export function createFileAnchor(file: string): CheckpointAnchor {
  async function endsWithNewline(): Promise<boolean> {
    let fh;
    try {
      fh = await fsp.open(file, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
      throw e;
    }
    try {
      const { size } = await fh.stat();
      if (size === 0) return true;
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, size - 1);
      return b[0] === 0x0a;
    } finally {
      await fh.close();
    }
  }

  return {
    kind: 'file',

    async append(checkpoints) {
      if (!checkpoints.length) return;
      const existed = await fsp.stat(file).then(
        () => true,
        () => false,
      );
      // a line cut short (a crash, or an edit) stays as it is, for $verify to report; ours starts on a line of its own
      const lead = (await endsWithNewline()) ? '' : '\n';
      const fh = await fsp.open(file, 'a', 0o640);
      try {
        await fh.write(lead + checkpoints.map((c) => `${anchorLine(c)}\n`).join(''));
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (!existed && process.platform !== 'win32') {
        const dir = await fsp.open(path.dirname(file), 'r');
        await dir.sync().finally(() => dir.close());
      }
    },

    async last() {
      let fh;
      try {
        fh = await fsp.open(file, 'r');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
      try {
        const { size } = await fh.stat();
        const length = Math.min(size, TAIL_BYTES);
        const buf = Buffer.alloc(length);
        await fh.read(buf, 0, length, size - length);
        const lines = buf.toString('utf8').split('\n');
        lines.pop(); // after the last line end: empty, or a line cut short
        for (let i = lines.length - 1; i >= 0; i--) {
          const cp = parseAnchorLine(lines[i]!);
          if (!('error' in cp)) return { seq: cp.seq, hash: cp.hash };
        }
        return undefined;
      } finally {
        await fh.close();
      }
    },

    async *read() {
      const complete = await endsWithNewline();
      let exists = true;
      await fsp.access(file).catch(() => (exists = false));
      if (!exists) return;
      const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
      let held: { line: number; text: string } | undefined;
      let n = 0;
      const entry = (h: { line: number; text: string }, last: boolean): AnchorEntry | undefined => {
        if (!h.text.trim()) return undefined;
        const cp = parseAnchorLine(h.text);
        if ('error' in cp) return { line: h.line, error: cp.error, ...(last && !complete ? { partial: true } : {}) };
        return { line: h.line, checkpoint: cp };
      };
      for await (const text of rl) {
        n++;
        if (held) {
          const e = entry(held, false);
          if (e) yield e;
        }
        held = { line: n, text };
      }
      if (held) {
        const e = entry(held, true);
        if (e) yield e;
      }
    },
  };
}
