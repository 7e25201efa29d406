import { Hl7Message } from '@medplum/core';
import { CHINA_OFFSET_MS } from '../common/datetime';
import { unescapeHl7 } from '../hl7v2/oru-parser';

/**
 * HL7 v2 original-mode acknowledgements (HL7 v2.5.1 ch. 2.9, 2.15.8 MSA, 2.15.5 ERR): one ACK per
 * message, `MSA-1` AA (stored), AE (application error: the content is unusable) or AR (rejected:
 * message type, version or sender not accepted), `MSA-2` the original MSH-10. An error carries an
 * ERR segment with an HL7 table 0357 code, in both the v2.5 form (ERR-3, ERR-4) and the v2.3/2.4
 * form (ERR-1), so older LIS read it too. Texts are the adapter's own words, never the message's.
 */
export type AckCode = 'AA' | 'AE' | 'AR';

/** HL7 table 0357 (message error condition codes) as used here. */
export const ERROR_CONDITIONS = {
  segmentSequence: ['100', 'Segment sequence error'],
  requiredFieldMissing: ['101', 'Required field missing'],
  dataTypeError: ['102', 'Data type error'],
  unsupportedMessageType: ['200', 'Unsupported message type'],
  unsupportedEventCode: ['201', 'Unsupported event code'],
  unsupportedVersion: ['203', 'Unsupported version id'],
  internalError: ['207', 'Application internal error'],
} as const;
export type ErrorCondition = keyof typeof ERROR_CONDITIONS;

/** Where in the message the error is (ERR-2, ERL): segment id, its sequence, the field. */
export interface ErrorLocation {
  segment: string;
  sequence?: number;
  field?: number;
}

/** What the original message's MSH says, read leniently so even a rejected message gets its ACK. */
export interface MshHeader {
  sendingApplication: string;
  sendingFacility: string;
  receivingApplication: string;
  receivingFacility: string;
  messageType: string;
  triggerEvent: string;
  controlId: string;
  processingId: string;
  version: string;
}

/** The MSH of a message text, or null when it has none that parses. */
export function readMsh(text: string): MshHeader | null {
  const first = text.split(/\r\n|\r|\n/, 1)[0] ?? '';
  if (!/^MSH./.test(first) || first.length < 8) return null;
  let msg: Hl7Message;
  try {
    msg = Hl7Message.parse(first);
  } catch {
    return null;
  }
  const msh = msg.getSegment('MSH');
  if (!msh) return null;
  const c = msg.context;
  const delims = { field: c.fieldSeparator, component: c.componentSeparator, repetition: c.repetitionSeparator, subcomponent: c.subcomponentSeparator };
  const get = (field: number, component = 1) => {
    const raw = msh.getField(field)?.getComponent(component) ?? '';
    return unescapeHl7(raw.split(c.subcomponentSeparator)[0] ?? '', c.escapeCharacter, delims).trim();
  };
  return {
    sendingApplication: get(3),
    sendingFacility: get(4),
    receivingApplication: get(5),
    receivingFacility: get(6),
    messageType: get(9, 1).toUpperCase(),
    triggerEvent: get(9, 2).toUpperCase(),
    controlId: get(10),
    processingId: get(11) || 'P',
    version: get(12),
  };
}

/** Escape a value for the ACK's standard delimiters `|^~\&`. */
export function escapeHl7(text: string): string {
  return text.replace(/[\\|^~&\r\n]/g, (ch) => ({ '\\': '\\E\\', '|': '\\F\\', '^': '\\S\\', '~': '\\R\\', '&': '\\T\\', '\r': '\\X0D\\', '\n': '\\X0A\\' })[ch]!);
}

let ackCounter = 0;

/** HL7 TS in China time, to the millisecond. */
function hl7Now(now: Date): string {
  const t = new Date(now.getTime() + CHINA_OFFSET_MS).toISOString();
  return `${t.slice(0, 4)}${t.slice(5, 7)}${t.slice(8, 10)}${t.slice(11, 13)}${t.slice(14, 16)}${t.slice(17, 19)}.${t.slice(20, 23)}+0800`;
}

/**
 * The ACK for a message (its header when it had one). `receiver` names this side (MSH-3/4 of the
 * ACK) when the original's MSH-5/6 are empty.
 */
export function buildAck(
  header: MshHeader | null,
  code: AckCode,
  opts: { error?: { condition: ErrorCondition; text: string; location?: ErrorLocation }; note?: string; receiver: { application: string; facility: string }; now?: Date },
): string {
  const e = escapeHl7;
  const h = header;
  const now = opts.now ?? new Date();
  const ackId = `ACK${now.getTime().toString(36).toUpperCase()}${(++ackCounter % 1_000_000).toString(36).toUpperCase()}`;
  const version = h?.version && /^2\.\d/.test(h.version) ? h.version : '2.5.1';
  const msh = [
    'MSH',
    '^~\\&',
    e(h?.receivingApplication || opts.receiver.application),
    e(h?.receivingFacility || opts.receiver.facility),
    e(h?.sendingApplication ?? ''),
    e(h?.sendingFacility ?? ''),
    hl7Now(now),
    '',
    `ACK^${e(h?.triggerEvent || 'R01')}^ACK`,
    ackId,
    e(h?.processingId || 'P'),
    version,
  ].join('|');
  const text = opts.error?.text ?? opts.note ?? (code === 'AA' ? 'Message stored' : '');
  const msa = ['MSA', code, e(h?.controlId ?? ''), e(text)].join('|');
  const segments = [msh, msa];
  if (opts.error) {
    const [id, name] = ERROR_CONDITIONS[opts.error.condition];
    const loc = opts.error.location;
    const where = loc ? [loc.segment, String(loc.sequence ?? 1), loc.field === undefined ? '' : String(loc.field)] : ['', '', ''];
    // ERR-1 (v2.3/2.4 ELD: segment ^ sequence ^ field ^ code&text&table), ERR-2 location (ERL),
    // ERR-3 code^text^HL70357, ERR-4 severity, ERR-8 user message
    const err1 = `${where.join('^')}^${id}&${e(name)}&HL70357`;
    const err2 = loc ? where.join('^').replace(/\^+$/, '') : '';
    segments.push(['ERR', err1, err2, `${id}^${e(name)}^HL70357`, 'E', '', '', '', e(opts.error.text)].join('|'));
  }
  return segments.join('\r') + '\r';
}
