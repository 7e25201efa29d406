import { Hl7Message, type Hl7Segment } from '@medplum/core';
import { hl7ToFhirDateTime } from '../common/datetime';
import type { SourceCode } from '../common/fhir-builders';

/**
 * ORU^R01 (HL7 v2.3–2.5.1) → a neutral model (API.md §2 `hl7v2`). Parsing uses @medplum/core's
 * `Hl7Message`, which splits segments at CR, LF or CRLF; messages of one file are split here at
 * each `MSH`. Anything that is not a usable ORU^R01 is an {@link Hl7ParseError} whose message names
 * the rule broken and never quotes the content (it may hold patient data).
 */
export class Hl7ParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Hl7ParseError';
  }
}

export interface OruPatient {
  /** PID-3 repetition with CX-5 `NI` */
  nationalId?: string;
  /** PID-3 repetitions with CX-5 `MR` */
  mrns: string[];
}

export interface OruObservation {
  setId: string;
  valueType: string;
  code: SourceCode & { loinc?: string };
  /** OBX-5, repetitions joined by newlines, escapes resolved */
  value: string;
  codedValue?: SourceCode;
  units?: string;
  range?: string;
  flags?: string;
  status?: string;
  observedAt?: string;
}

export interface OruReport {
  patient: OruPatient;
  /** OBR-3 filler order number (OBR-2 placer number when the filler left it empty) */
  fillerOrderNumber: string;
  placerOrderNumber?: string;
  service: SourceCode & { loinc?: string };
  observedAt?: string;
  reportedAt?: string;
  section?: string;
  status?: string;
  /** OBR-18 placer field 1: the accession number in IHE radiology workflows */
  accession?: string;
  /** OBR-15 specimen source (component 4 is the body site for imaging) */
  specimen?: string;
  bodySite?: string;
  /** ZDS-1 Study Instance UID (IHE RAD), when present */
  studyUid?: string;
  observations: OruObservation[];
  /** index of the message within its file (for ordering among equals) */
  messageIndex: number;
}

/** Decode a file: UTF-8 unless it is not valid UTF-8, then GB18030 (common in Chinese LIS). */
export function decodeHl7File(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    return new TextDecoder('gb18030').decode(bytes);
  }
}

/** Split a file into message texts at each `MSH` segment; CR, LF and CRLF all end a segment. */
export function splitMessages(text: string): string[] {
  const messages: string[][] = [];
  for (const raw of text.split(/\r\n|\r|\n/)) {
    const line = raw.replace(/^[\u000b\u001c\s]+|[\u001c\s]+$/g, ''); // MLLP framing bytes and stray whitespace
    if (!line) continue;
    if (/^(FHS|BHS|BTS|FTS)\|/.test(line)) continue; // batch envelopes carry no results
    if (line.startsWith('MSH')) messages.push([line]);
    else if (!messages.length) throw new Hl7ParseError('content before the first MSH segment');
    else messages[messages.length - 1].push(line);
  }
  if (!messages.length) throw new Hl7ParseError('no MSH segment');
  return messages.map((m) => m.join('\r'));
}

/** Resolve HL7 escape sequences (\F\ \S\ \T\ \R\ \E\ \.br\ \Xhh\) with the message's delimiters. */
export function unescapeHl7(text: string, esc = '\\', delims = { field: '|', component: '^', repetition: '~', subcomponent: '&' }): string {
  if (!text.includes(esc)) return text;
  const e = esc.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.replace(new RegExp(`${e}([^${e}]*)${e}`, 'g'), (whole, seq: string) => {
    switch (seq) {
      case 'F': return delims.field;
      case 'S': return delims.component;
      case 'T': return delims.subcomponent;
      case 'R': return delims.repetition;
      case 'E': return esc;
      case '.br': return '\n';
      default:
        if (/^X([0-9A-Fa-f]{2})+$/.test(seq)) return Buffer.from(seq.slice(1), 'hex').toString('utf8');
        if (/^(H|N|\.sp\d*|\.in[+-]?\d*|\.ti[+-]?\d*|\.ce|\.fi|\.nf|\.sk\d*)$/.test(seq)) return seq === '.sp' ? '\n' : '';
        return whole;
    }
  });
}

class Reader {
  constructor(private readonly msg: Hl7Message) {}
  private get delims() {
    const c = this.msg.context;
    return { field: c.fieldSeparator, component: c.componentSeparator, repetition: c.repetitionSeparator, subcomponent: c.subcomponentSeparator };
  }
  /** one component, escapes resolved; '' when absent */
  get(seg: Hl7Segment, field: number, component = 1, repetition = 0): string {
    // MSH-1 is the field separator itself, so MSH field n sits at index n - 1
    const f = seg.fields[seg.name === 'MSH' ? field - 1 : field];
    if (!f) return '';
    const rep = f.components[repetition];
    const raw = rep?.[component - 1];
    if (!raw) return '';
    const sub = raw.split(this.msg.context.subcomponentSeparator)[0];
    return unescapeHl7(sub, this.msg.context.escapeCharacter, this.delims).trim();
  }
  repetitions(seg: Hl7Segment, field: number): number {
    return seg.fields[field]?.components.length ?? 0;
  }
  code(seg: Hl7Segment, field: number, repetition = 0): SourceCode & { loinc?: string } {
    const code = this.get(seg, field, 1, repetition);
    const display = this.get(seg, field, 2, repetition);
    const system = this.get(seg, field, 3, repetition);
    // CWE alternate triplet (components 4–6): use it when it is LOINC and the primary is local.
    const alt = this.get(seg, field, 4, repetition);
    const altSystem = this.get(seg, field, 6, repetition);
    if (alt && altSystem === 'LN' && system !== 'LN') {
      return { code: code || undefined, display: display || this.get(seg, field, 5, repetition) || undefined, system: system || undefined, loinc: alt };
    }
    return { code: code || undefined, display: display || undefined, system: system || undefined };
  }
  /** OBX-5: repetitions joined by newlines (TX/FT paragraphs), components joined for SN */
  value(seg: Hl7Segment, type: string): string {
    const n = this.repetitions(seg, 5);
    const parts: string[] = [];
    for (let r = 0; r < n; r++) {
      if (type === 'SN') {
        // structured numeric: comparator ^ num1 ^ separator ^ num2
        const cmp = this.get(seg, 5, 1, r);
        const n1 = this.get(seg, 5, 2, r);
        const sep = this.get(seg, 5, 3, r);
        const n2 = this.get(seg, 5, 4, r);
        parts.push(sep ? `${n1}${sep}${n2}` : `${cmp}${n1}`);
      } else {
        // CE/CWE: the text of the coded value; other types: the whole repetition
        const f = seg.fields[5]?.components[r] ?? [];
        const coded = type === 'CE' || type === 'CWE' || type === 'CNE';
        const text = coded ? this.get(seg, 5, 2, r) || this.get(seg, 5, 1, r) : f.map((c) => unescapeHl7(c, this.msg.context.escapeCharacter, this.delims)).join('^').replace(/\^+$/, '');
        parts.push(text);
      }
    }
    return parts.join('\n').trim();
  }
}

const SUPPORTED_TYPES = /^ORU(\^R01)?$/;
/** OBX-3 codes that carry the Study Instance UID rather than a result (DICOM 110180/113014; `STUDYUID`). */
const STUDY_UID_CODES = new Set(['110180', '113014', 'STUDYUID']);

/** Parse one ORU^R01 message text into its reports. Throws {@link Hl7ParseError}. */
export function parseOruMessage(text: string, messageIndex = 0): OruReport[] {
  let msg: Hl7Message;
  try {
    msg = Hl7Message.parse(text);
  } catch {
    throw new Hl7ParseError('not an HL7 v2 message');
  }
  const msh = msg.getSegment('MSH');
  if (!msh || msh.fields.length < 9) throw new Hl7ParseError('MSH segment incomplete');
  const r = new Reader(msg);
  const type = `${r.get(msh, 9, 1)}^${r.get(msh, 9, 2)}`.replace(/\^$/, '');
  if (!SUPPORTED_TYPES.test(type)) throw new Hl7ParseError('not an ORU^R01 message');
  const version = r.get(msh, 12, 1);
  if (version && !/^2\.\d/.test(version)) throw new Hl7ParseError('unsupported HL7 version');

  const reports: OruReport[] = [];
  let patient: OruPatient | undefined;
  let current: OruReport | undefined;
  for (const seg of msg.segments) {
    switch (seg.name) {
      case 'PID':
        patient = readPatient(r, seg);
        current = undefined;
        break;
      case 'OBR': {
        if (!patient) throw new Hl7ParseError('OBR before PID');
        current = readReport(r, seg, patient, messageIndex);
        reports.push(current);
        break;
      }
      case 'OBX': {
        if (!current) throw new Hl7ParseError('OBX before OBR');
        const obx = readObservation(r, seg, current.observations.length);
        if (STUDY_UID_CODES.has(obx.code.code ?? '')) current.studyUid = obx.value;
        else current.observations.push(obx);
        break;
      }
      case 'ZDS':
        if (current) current.studyUid = r.get(seg, 1, 1) || current.studyUid;
        break;
      case 'MSH':
      case '':
        break;
      default:
        if (!/^[A-Z][A-Z0-9]{2}$/.test(seg.name)) throw new Hl7ParseError('malformed segment');
    }
  }
  if (!reports.length) throw new Hl7ParseError('no OBR segment');
  return reports;
}

function readPatient(r: Reader, pid: Hl7Segment): OruPatient {
  const out: OruPatient = { mrns: [] };
  const n = r.repetitions(pid, 3);
  for (let i = 0; i < n; i++) {
    const id = r.get(pid, 3, 1, i);
    const kind = r.get(pid, 3, 5, i).toUpperCase();
    if (!id) continue;
    if (kind === 'NI' && !out.nationalId) out.nationalId = id.toUpperCase();
    else if (kind === 'MR' && !out.mrns.includes(id)) out.mrns.push(id);
  }
  // v2.3 senders often put the national id in PID-19 (SSN) or PID-2; only NI/MR in PID-3 are read (API.md §2).
  if (!out.nationalId && !out.mrns.length) throw new Hl7ParseError('PID-3 has no NI or MR identifier');
  return out;
}

function readReport(r: Reader, obr: Hl7Segment, patient: OruPatient, messageIndex: number): OruReport {
  const filler = r.get(obr, 3, 1);
  const placer = r.get(obr, 2, 1);
  const fillerOrderNumber = filler || placer;
  if (!fillerOrderNumber) throw new Hl7ParseError('OBR-3 filler order number missing');
  const service = r.code(obr, 4);
  if (!service.code && !service.display) throw new Hl7ParseError('OBR-4 universal service identifier missing');
  const report: OruReport = {
    patient,
    fillerOrderNumber,
    service,
    observations: [],
    messageIndex,
  };
  if (placer) report.placerOrderNumber = placer;
  const observedAt = hl7ToFhirDateTime(r.get(obr, 7, 1));
  if (observedAt) report.observedAt = observedAt;
  const reportedAt = hl7ToFhirDateTime(r.get(obr, 22, 1));
  if (reportedAt) report.reportedAt = reportedAt;
  const section = r.get(obr, 24, 1);
  if (section) report.section = section;
  const status = r.get(obr, 25, 1);
  if (status) report.status = status;
  const accession = r.get(obr, 18, 1);
  if (accession) report.accession = accession;
  const specimen = r.get(obr, 15, 1) || r.get(obr, 15, 2);
  if (specimen) report.specimen = specimen;
  const bodySite = r.get(obr, 15, 4);
  if (bodySite) report.bodySite = bodySite;
  return report;
}

function readObservation(r: Reader, obx: Hl7Segment, index: number): OruObservation {
  const valueType = r.get(obx, 2, 1).toUpperCase();
  const code = r.code(obx, 3);
  if (!code.code && !code.display) throw new Hl7ParseError('OBX-3 observation identifier missing');
  const sub = r.get(obx, 4, 1);
  const out: OruObservation = {
    setId: (r.get(obx, 1, 1) || String(index + 1)) + (sub ? `.${sub}` : ''),
    valueType,
    code,
    value: r.value(obx, valueType),
  };
  if (valueType === 'CE' || valueType === 'CWE' || valueType === 'CNE') {
    const cv = r.code(obx, 5);
    if (cv.code || cv.display) out.codedValue = cv;
  }
  const units = readUnits(r, obx);
  if (units) out.units = units;
  // `3.5~9.5` sent without escaping `~` arrives as two repetitions: put the range back together
  const range = Array.from({ length: r.repetitions(obx, 7) }, (_x, i) => r.get(obx, 7, 1, i)).filter(Boolean).join('~');
  if (range) out.range = range;
  const flags = r.get(obx, 8, 1);
  if (flags) out.flags = flags;
  const status = r.get(obx, 11, 1);
  if (status) out.status = status;
  const observedAt = hl7ToFhirDateTime(r.get(obx, 14, 1));
  if (observedAt) out.observedAt = observedAt;
  return out;
}

/**
 * OBX-6 units (CE: identifier^text^system). `10^9/L` sent without escaping `^` arrives as
 * identifier `10` and text `9/L` with no system: read it as the unit it was meant to be.
 */
function readUnits(r: Reader, obx: Hl7Segment): string {
  const id = r.get(obx, 6, 1);
  const text = r.get(obx, 6, 2);
  const system = r.get(obx, 6, 3);
  if (/10$/.test(id) && /^\d+\/?/.test(text) && !system) return `${id}^${text}`;
  return id || text;
}

/** Every report of a file's text; throws {@link Hl7ParseError} when any message is unusable. */
export function parseOruFile(text: string): OruReport[] {
  const out: OruReport[] = [];
  splitMessages(text).forEach((m, i) => out.push(...parseOruMessage(m, i)));
  return out;
}
