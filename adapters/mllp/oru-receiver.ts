import type { Logger } from 'pino';
import type { FolderSource } from '../common/folder-source';
import type { Candidate } from '../common/report-index';
import { decodeHl7File, Hl7ParseError, type OruReport, parseOruMessage, splitMessages } from '../hl7v2/oru-parser';
import { buildAck, type ErrorCondition, type ErrorLocation, type MshHeader, readMsh } from './hl7-ack';
import type { FrameEvent } from './mllp-framing';
import { MessageJournal, messageKey } from './message-journal';

/**
 * What an MLLP listener does with each ORU^R01 frame (docs/adapters.md "MLLP"): check the sender
 * and the message, store it durably in the hospital's store folder — the hl7v2 adapter's inbox, so
 * the inbox's mapping and its correction/cancellation rules apply unchanged — and only then answer
 * AA. A duplicate (same MSH-3, MSH-4, MSH-10 as a stored message) is answered AA and not stored
 * again. Nothing is stored half: only a message that parses is appended to the journal
 * (message-journal.ts), sealed and flushed before its ACK; a crash after the ACK loses nothing, and
 * one during an append leaves a torn tail the next start cuts off (it was never acknowledged).
 */
export interface OruReceiverOptions {
  hospitalId: string;
  /** the store folder (the hl7v2 adapter's inbox) */
  dir: string;
  source: FolderSource;
  /** reports stored in a journal → index candidates, mapped as the inbox's files are */
  candidates(file: string, mtimeMs: number, reports: readonly OruReport[]): Candidate[];
  /** MSH-4 namespace ids (or universal ids) allowed to send; empty = any */
  allowedFacilities: readonly string[];
  maxMessageBytes: number;
  log: Logger;
  /** counts by outcome (`AA`, `AE`, `AR`, `duplicate`) */
  onOutcome?(outcome: 'AA' | 'AE' | 'AR' | 'duplicate'): void;
}

export interface ReceiverStats {
  accepted: number;
  duplicates: number;
  errors: number;
  rejected: number;
  lastRejectReason?: string;
}

class Refusal extends Error {
  constructor(
    readonly code: 'AE' | 'AR',
    readonly condition: ErrorCondition,
    readonly text: string,
    readonly location?: ErrorLocation,
  ) {
    super(text);
  }
}

/** The Hl7ParseError rules of the ORU parser → table 0357 and the segment they concern. */
function conditionOf(rule: string): { condition: ErrorCondition; location?: ErrorLocation } {
  if (/before/.test(rule)) return { condition: 'segmentSequence' };
  if (/^PID-3/.test(rule)) return { condition: 'requiredFieldMissing', location: { segment: 'PID', field: 3 } };
  if (/^OBR-(\d+)/.test(rule)) return { condition: 'requiredFieldMissing', location: { segment: 'OBR', field: Number(/^OBR-(\d+)/.exec(rule)![1]) } };
  if (/^OBX-(\d+)/.test(rule)) return { condition: 'requiredFieldMissing', location: { segment: 'OBX', field: Number(/^OBX-(\d+)/.exec(rule)![1]) } };
  if (/no OBR/.test(rule)) return { condition: 'requiredFieldMissing', location: { segment: 'OBR' } };
  if (/MSH/.test(rule)) return { condition: 'requiredFieldMissing', location: { segment: 'MSH' } };
  return { condition: 'dataTypeError' };
}

export class OruReceiver {
  readonly stats: ReceiverStats = { accepted: 0, duplicates: 0, errors: 0, rejected: 0 };
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly journal: MessageJournal;
  /** keys of every stored message (duplicates), rebuilt from the journals at start */
  private keys = new Set<string>();
  private readonly receiver: { application: string; facility: string };

  constructor(private readonly opts: OruReceiverOptions) {
    this.receiver = { application: 'XZQ-HIE', facility: opts.hospitalId };
    this.journal = new MessageJournal(opts.dir, opts.log, (name) => opts.source.claim(name));
  }

  /** Cut torn journal tails and learn the stored messages' keys; before the inbox is first read. */
  async recover(): Promise<void> {
    this.keys = await this.journal.recover((m) => {
      const h = readMsh(decodeHl7File(m));
      return h ? messageKey(h) : undefined;
    });
  }

  /** One frame → its ACK (never throws: every failure is an AE or AR). */
  async handle(frame: Extract<FrameEvent, { kind: 'message' | 'oversized' }>): Promise<string> {
    const bytes = frame.kind === 'message' ? frame.bytes : frame.head;
    const text = decodeHl7File(bytes);
    const header = readMsh(text);
    try {
      if (frame.kind === 'oversized') {
        throw new Refusal('AR', 'internalError', `message of ${frame.size} bytes exceeds the limit of ${this.opts.maxMessageBytes} bytes`);
      }
      const duplicate = await this.accept(text, header, frame.bytes);
      if (duplicate) {
        this.stats.duplicates++;
        this.opts.onOutcome?.('duplicate');
        return buildAck(header, 'AA', { receiver: this.receiver, note: 'Duplicate of a stored message: not stored again' });
      }
      this.stats.accepted++;
      this.opts.onOutcome?.('AA');
      return buildAck(header, 'AA', { receiver: this.receiver });
    } catch (e) {
      const r =
        e instanceof Refusal
          ? e
          : new Refusal('AE', 'internalError', 'the message could not be stored; send it again');
      if (!(e instanceof Refusal)) this.opts.log.error({ reason: (e as NodeJS.ErrnoException)?.code ?? (e as Error)?.name ?? 'error' }, 'mllp message not stored');
      if (r.code === 'AR') this.stats.rejected++;
      else this.stats.errors++;
      this.stats.lastRejectReason = r.text;
      this.opts.onOutcome?.(r.code);
      // the log names the rule and the sender's control id, never the content
      this.opts.log.warn({ ack: r.code, reason: r.text, controlId: header?.controlId }, 'mllp message refused');
      return buildAck(header, r.code, { receiver: this.receiver, error: { condition: r.condition, text: r.text, location: r.location } });
    }
  }

  /** Check, parse and store one message; true when it was a duplicate. Throws {@link Refusal}. */
  private async accept(text: string, header: MshHeader | null, bytes: Buffer): Promise<boolean> {
    if (!header) throw new Refusal('AR', 'segmentSequence', 'not an HL7 v2 message: the frame does not start with an MSH segment', { segment: 'MSH' });
    const allowed = this.opts.allowedFacilities;
    if (allowed.length && !allowed.includes(header.sendingFacility)) {
      throw new Refusal('AR', 'internalError', 'sending facility (MSH-4) is not allowed to send to this listener', { segment: 'MSH', field: 4 });
    }
    if (header.messageType !== 'ORU') throw new Refusal('AR', 'unsupportedMessageType', 'only ORU^R01 messages are accepted (MSH-9)', { segment: 'MSH', field: 9 });
    if (header.triggerEvent && header.triggerEvent !== 'R01') throw new Refusal('AR', 'unsupportedEventCode', 'only ORU^R01 messages are accepted (MSH-9.2)', { segment: 'MSH', field: 9 });
    if (header.version && !/^2\.\d/.test(header.version)) throw new Refusal('AR', 'unsupportedVersion', 'only HL7 v2.x messages are accepted (MSH-12)', { segment: 'MSH', field: 12 });
    if (!header.controlId) throw new Refusal('AE', 'requiredFieldMissing', 'MSH-10 message control id is missing', { segment: 'MSH', field: 10 });

    const key = messageKey(header);
    const pending = this.inFlight.get(key);
    if (pending) await pending.catch(() => undefined);
    if (this.keys.has(key)) return true;

    const reports = this.validate(text);
    const work = (async () => {
      const { name, size, index } = await this.journal.append(bytes);
      this.keys.add(key);
      const mtimeMs = Date.now();
      const added = this.opts.candidates(name, mtimeMs, reports.map((source) => ({ ...source, messageIndex: index })));
      this.opts.source.ingest(name, { mtimeMs, size }, added);
    })();
    this.inFlight.set(key, work);
    try {
      await work;
      return false;
    } finally {
      this.inFlight.delete(key);
    }
  }

  /** The message's reports, or the {@link Refusal} that says why it is not usable. */
  private validate(text: string): OruReport[] {
    let messages: string[];
    try {
      messages = splitMessages(text);
    } catch (e) {
      throw new Refusal('AR', 'segmentSequence', e instanceof Hl7ParseError ? e.message : 'not an HL7 v2 message');
    }
    if (messages.length !== 1) throw new Refusal('AR', 'segmentSequence', 'one message per MLLP frame', { segment: 'MSH', sequence: 2 });
    if (/(^|\r)ZXQ\|/.test(messages[0])) throw new Refusal('AE', 'segmentSequence', 'the ZXQ segment is the gateway\'s own (journal seal) and may not be sent', { segment: 'ZXQ' });
    let reports: OruReport[];
    try {
      reports = parseOruMessage(messages[0]);
    } catch (e) {
      const rule = e instanceof Hl7ParseError ? e.message : 'not a usable ORU^R01 message';
      const { condition, location } = conditionOf(rule);
      throw new Refusal('AE', condition, rule, location);
    }
    // A result the gateway could never show: no national id links the resident to the region.
    for (const r of reports) {
      if (!r.patient.nationalId) {
        throw new Refusal('AE', 'requiredFieldMissing', 'PID-3 has no national id (NI): the resident is unknown to the region', { segment: 'PID', field: 3 });
      }
    }
    return reports;
  }

  /** Flush and close the journal. */
  close(): Promise<void> {
    return this.journal.close();
  }
}
