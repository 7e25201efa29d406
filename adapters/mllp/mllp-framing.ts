/**
 * MLLP framing (HL7 v2 Minimal Lower Layer Protocol, HL7 v2.5.1 Appendix C / IHE ITI TF-2
 * Appendix C.2): a message travels as `<VT> message <FS><CR>` (0x0B … 0x1C 0x0D). Written here
 * rather than taken from a library: @medplum/hl7's connection buffers without a limit, finds a
 * frame's end only at the end of a TCP chunk, and keeps bytes before a start block, so a frame
 * without end, two frames in one chunk or garbage between frames break it (README "Dependencies").
 *
 * The decoder is a byte state machine with a size limit: bytes outside a frame are dropped (and
 * counted), a start block inside a frame drops the frame that never ended, a frame over the limit
 * is not kept (only its first bytes, to read its MSH for the reject ACK). 0x0B and 0x1C never occur
 * inside UTF-8 or GB18030 text, so they cannot be mistaken in a message.
 */
export const VT = 0x0b;
export const FS = 0x1c;
export const CR = 0x0d;

/** How much of an oversized frame is kept: enough for its MSH segment. */
export const OVERSIZED_HEAD_BYTES = 4096;

export type FrameEvent =
  /** a complete frame's content */
  | { kind: 'message'; bytes: Buffer }
  /** a complete frame longer than the limit: only its head is kept */
  | { kind: 'oversized'; head: Buffer; size: number }
  /** a frame dropped because a new start block came before its end */
  | { kind: 'unterminated'; size: number }
  /** bytes outside any frame, dropped */
  | { kind: 'garbage'; size: number };

export class MllpDecoder {
  private inFrame = false;
  private parts: Buffer[] = [];
  private size = 0;
  private oversized = false;
  private head: Buffer[] = [];
  private headSize = 0;
  /** the last byte seen was FS: the frame ends if the next one is CR */
  private pendingFs = false;

  constructor(private readonly maxMessageBytes: number) {}

  /** Bytes of the frame being read (0 outside a frame): what a connection holds in memory is bounded by the limit. */
  get buffered(): number {
    return this.oversized ? this.headSize : this.size;
  }

  get inMessage(): boolean {
    return this.inFrame;
  }

  /** Feed one chunk from the socket; the frames and drops it completes, in order. */
  push(chunk: Buffer): FrameEvent[] {
    const out: FrameEvent[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (!this.inFrame) {
        const start = chunk.indexOf(VT, i);
        if (start < 0) {
          out.push({ kind: 'garbage', size: chunk.length - i });
          break;
        }
        if (start > i) out.push({ kind: 'garbage', size: start - i });
        this.begin();
        i = start + 1;
        continue;
      }
      if (this.pendingFs) {
        this.pendingFs = false;
        if (chunk[i] === CR) {
          out.push(this.finish());
          i++;
          continue;
        }
        this.append(Buffer.of(FS)); // FS not followed by CR is content (it never is in HL7 text)
      }
      const fs = chunk.indexOf(FS, i);
      const vt = chunk.indexOf(VT, i);
      const stop = fs < 0 ? vt : vt < 0 ? fs : Math.min(fs, vt);
      if (stop < 0) {
        this.append(chunk.subarray(i));
        break;
      }
      if (stop > i) this.append(chunk.subarray(i, stop));
      if (chunk[stop] === VT) {
        out.push({ kind: 'unterminated', size: this.size });
        this.begin();
        i = stop + 1;
        continue;
      }
      if (stop + 1 < chunk.length) {
        if (chunk[stop + 1] === CR) {
          out.push(this.finish());
          i = stop + 2;
        } else {
          this.append(Buffer.of(FS));
          i = stop + 1;
        }
      } else {
        this.pendingFs = true;
        i = stop + 1;
      }
    }
    return out;
  }

  private begin(): void {
    this.inFrame = true;
    this.parts = [];
    this.size = 0;
    this.oversized = false;
    this.head = [];
    this.headSize = 0;
    this.pendingFs = false;
  }

  private append(bytes: Buffer): void {
    if (!bytes.length) return;
    this.size += bytes.length;
    if (!this.oversized && this.size > this.maxMessageBytes) {
      // keep only the head (for the MSH), drop the rest as it comes
      this.oversized = true;
      const all = Buffer.concat(this.parts);
      this.parts = [];
      this.head = [all.subarray(0, OVERSIZED_HEAD_BYTES)];
      this.headSize = this.head[0].length;
    }
    if (this.oversized) {
      if (this.headSize < OVERSIZED_HEAD_BYTES) {
        const take = bytes.subarray(0, OVERSIZED_HEAD_BYTES - this.headSize);
        this.head.push(Buffer.from(take));
        this.headSize += take.length;
      }
      return;
    }
    this.parts.push(bytes);
  }

  private finish(): FrameEvent {
    this.inFrame = false;
    const size = this.size;
    if (this.oversized) {
      const head = Buffer.concat(this.head);
      this.head = [];
      return { kind: 'oversized', head, size };
    }
    const bytes = Buffer.concat(this.parts, size);
    this.parts = [];
    this.size = 0;
    return { kind: 'message', bytes };
  }
}

/** One message framed for the wire. */
export function mllpFrame(message: Buffer | string): Buffer {
  const body = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  const out = Buffer.allocUnsafe(body.length + 3);
  out[0] = VT;
  body.copy(out, 1);
  out[body.length + 1] = FS;
  out[body.length + 2] = CR;
  return out;
}
