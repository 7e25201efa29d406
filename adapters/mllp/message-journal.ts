import { createHash } from 'node:crypto';
import { type FileHandle, open, readdir, readFile, truncate } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';

/**
 * Where an MLLP listener stores what it acknowledges (docs/adapters.md "MLLP"): journal files in the
 * hl7v2 inbox, `mllp-j<time>-<n>.hl7`, each an ordinary inbox file of several ORU^R01 messages.
 * A message is appended and fdatasync'ed before its ACK — one flush per message, the least a
 * durable ACK costs — and followed by a seal segment `ZXQ|<bytes>|<sha-256>` (an HL7 Z-segment the
 * parser ignores). At start, {@link recover} cuts a journal back to its last sealed message, so a
 * message torn by a crash (never acknowledged: its flush had not returned) is never served and the
 * sender's resend is stored whole. A journal holds at most {@link JOURNAL_MESSAGES} messages or
 * {@link JOURNAL_BYTES}; the next one is started after that, and after every restart.
 */
export const JOURNAL_MESSAGES = 256;
export const JOURNAL_BYTES = 4 * 1024 * 1024;
export const JOURNAL_FILE = /^mllp-j[0-9a-z]+-\d+\.hl7$/;

/** The key duplicates are found by: MSH-3, MSH-4, MSH-10. */
export const messageKey = (h: { sendingApplication: string; sendingFacility: string; controlId: string }) => `${h.sendingApplication}|${h.sendingFacility}|${h.controlId}`;

const seal = (message: Buffer) => `ZXQ|${message.length}|${createHash('sha256').update(message).digest('hex')}\r`;
const SEAL = /ZXQ\|(\d+)\|([0-9a-f]{64})\r/g;

/** The sealed messages of a journal's bytes and the length they end at (what a torn tail is cut back to). */
export function sealedMessages(bytes: Buffer): { messages: Buffer[]; end: number } {
  const text = bytes.toString('latin1'); // offsets are bytes: latin1 maps one byte to one character
  const messages: Buffer[] = [];
  let start = 0;
  let end = 0;
  for (const m of text.matchAll(SEAL)) {
    const at = m.index!;
    const message = bytes.subarray(start, at);
    const ok = message.length === Number(m[1]) && createHash('sha256').update(message).digest('hex') === m[2];
    if (!ok) break;
    messages.push(message);
    start = end = at + m[0].length;
  }
  return { messages, end };
}

export class MessageJournal {
  private current?: { name: string; fh: FileHandle; messages: number; bytes: number };
  private seq = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly stamp = Date.now().toString(36);

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
    /** told the name of a journal before it exists, so no scan of the folder reads it while it grows */
    private readonly claim: (name: string) => void,
  ) {}

  /**
   * Cut every journal back to its last sealed message; the keys of the messages kept (so
   * duplicates are known across restarts). Run before the inbox is first read.
   */
  async recover(keyOf: (message: Buffer) => string | undefined): Promise<Set<string>> {
    const keys = new Set<string>();
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => JOURNAL_FILE.test(n));
    } catch {
      return keys;
    }
    for (const name of names) {
      const file = path.join(this.dir, name);
      const bytes = await readFile(file);
      const { messages, end } = sealedMessages(bytes);
      if (end < bytes.length) {
        await truncate(file, end);
        this.log.warn({ file: name, keptMessages: messages.length, cutBytes: bytes.length - end }, 'mllp journal: a message torn by a crash was cut off');
      }
      for (const m of messages) {
        const k = keyOf(m);
        if (k) keys.add(k);
      }
    }
    return keys;
  }

  /**
   * Append one message, sealed, and flush it to disk; resolves with the journal's name and size
   * and the message's index in it, once durable. Appends are serialised (one journal, one writer).
   */
  append(message: Buffer): Promise<{ name: string; size: number; index: number }> {
    const run = this.chain.then(() => this.write(message));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async write(message: Buffer): Promise<{ name: string; size: number; index: number }> {
    const body = message[message.length - 1] === 0x0d ? message : Buffer.concat([message, Buffer.from('\r')]);
    const entry = Buffer.concat([body, Buffer.from(seal(body), 'latin1')]);
    if (!this.current || this.current.messages >= JOURNAL_MESSAGES || this.current.bytes + entry.length > JOURNAL_BYTES) await this.rotate();
    const j = this.current!;
    try {
      await j.fh.write(entry);
      await j.fh.datasync();
    } catch (e) {
      // a failed append may have left part of the entry: start a new journal (recovery cuts it off)
      await this.closeCurrent();
      throw e;
    }
    j.messages++;
    j.bytes += entry.length;
    return { name: j.name, size: j.bytes, index: j.messages - 1 };
  }

  private async rotate(): Promise<void> {
    await this.closeCurrent();
    const name = `mllp-j${this.stamp}-${++this.seq}.hl7`;
    this.claim(name);
    const fh = await open(path.join(this.dir, name), 'wx', 0o640);
    // the new name must be durable too before a message in it is acknowledged
    const d = await open(this.dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
    this.current = { name, fh, messages: 0, bytes: 0 };
  }

  private async closeCurrent(): Promise<void> {
    const c = this.current;
    this.current = undefined;
    await c?.fh.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.chain;
    await this.closeCurrent();
  }
}
