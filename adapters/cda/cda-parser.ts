import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { hl7ToFhirDateTime } from '../common/datetime';
import type { SourceCode } from '../common/fhir-builders';

/**
 * WS/T 500-2016 shared documents (CDA R2, HL7 v3 XML) → a neutral model: the lab report (检验报告,
 * WS/T 500.7, document type C0007, template 2.16.156.10011.2.1.1.27) and the exam report (检查报告,
 * WS/T 500.6, C0006, template 2.16.156.10011.2.1.1.26). Which elements are read, and where each
 * template id, section code and data element code comes from: docs/adapters.md "cda".
 *
 * XML is parsed with fast-xml-parser, which never fetches anything (no external entity, DTD or
 * schema is resolved). A document with a DOCTYPE is refused before parsing: CDA needs none, and
 * refusing it rules out external entities and entity expansion (billion laughs) whatever the
 * parser's defaults. Errors are {@link CdaParseError}s naming the rule broken, never the content.
 */
export class CdaParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CdaParseError';
  }
}

/** OIDs of WS/T 500 (identifier roots, code systems) and HL7 v3 used here. */
export const OID = {
  nationalId: '2.16.156.10011.1.3',
  documentId: '2.16.156.10011.1.1',
  outpatientNo: '2.16.156.10011.1.11',
  inpatientNo: '2.16.156.10011.1.12',
  examReportNo: '2.16.156.10011.1.32',
  labReportNo: '2.16.156.10011.1.33',
  documentTypes: '2.16.156.10011.2.4',
  dataElements: '2.16.156.10011.2.2.1',
  loinc: '2.16.840.1.113883.6.1',
  dicomDcm: '1.2.840.10008.2.16.4',
} as const;

export const LAB_TEMPLATE = '2.16.156.10011.2.1.1.27';
export const EXAM_TEMPLATE = '2.16.156.10011.2.1.1.26';

/** WS 363 data element codes (卫生信息数据元目录) this parser reads. */
export const DE = {
  itemCode: 'DE04.30.019.00', // 检验/检查项目代码
  category: 'DE04.30.018.00', // 检验/检查类别
  method: 'DE02.10.027.00', // 检验/检查方法名称
  quantitative: 'DE04.30.015.00', // 检验/检查定量结果
  unit: 'DE04.30.016.00', // 检查定量结果计量单位
  resultCode: 'DE04.30.017.00', // 检验/检查结果代码
  specimen: 'DE04.50.134.00', // 标本类别
  labConclusion: 'DE04.50.130.00', // 检验报告结果
  examResult: 'DE04.50.131.00', // 检查报告结果-客观所见 / -主观提示
  remark: 'DE06.00.179.00', // 检验/检查报告备注
} as const;

/** LOINC section codes of WS/T 500 this parser reads. */
export const SECTION = { studiesSummary: '30954-2', physicalExamination: '29545-1' } as const;

export interface CdaSignature {
  /** legalAuthenticator/time */
  time?: string;
  /** legalAuthenticator/signatureCode/@code (`S` signed) */
  code?: string;
  /** the role the document gives the signer (审核医师) */
  role?: string;
}

export interface CdaLabItem {
  code: SourceCode & { loinc?: string };
  valueType: 'NM' | 'ST' | 'CE';
  value?: string;
  codedValue?: SourceCode;
  unit?: string;
  rangeText?: string;
  low?: string;
  high?: string;
  flag?: string;
  status?: string;
  effective?: string;
  specimen?: string;
  collectedAt?: string;
}

interface CdaCommon {
  /** the report number (lab .1.33, exam .1.32): the report's key, shared by its versions */
  fillerOrderNumber: string;
  documentId: string;
  setId?: string;
  version?: number;
  /** `relatedDocument typeCode=RPLC`: this document replaces an earlier version */
  replaces?: string;
  status?: string;
  reportedAt?: string;
  createdAt?: string;
  patient: { nationalId?: string; mrns: string[] };
  signature?: CdaSignature;
  messageIndex: number;
}

export interface CdaLabReport extends CdaCommon {
  kind: 'lab';
  category?: string;
  items: CdaLabItem[];
  conclusion?: string;
}

export interface CdaExamReport extends CdaCommon {
  kind: 'exam';
  exam: SourceCode & { loinc?: string };
  modality?: string;
  bodySite?: string;
  studyUid?: string;
  performedAt?: string;
  findings?: string;
  impression?: string;
}

export type CdaReport = CdaLabReport | CdaExamReport;

// ---------------------------------------------------------------------------------------------
// A small reader over fast-xml-parser's tree (every element an array, attributes as `@name`).

type Node = Record<string, unknown>;
/** an element's children of one name; a text-only element comes as a string and is given as `{#text}` */
const kids = (n: Node | undefined, name: string): Node[] =>
  ((n?.[name] as unknown[] | undefined) ?? []).flatMap((x) => (typeof x === 'string' ? [{ '#text': x }] : x && typeof x === 'object' ? [x as Node] : []));
const kid = (n: Node | undefined, name: string): Node | undefined => kids(n, name)[0];
const attr = (n: Node | undefined, name: string): string | undefined => {
  const v = n?.[`@${name}`];
  return typeof v === 'string' && v.trim() ? v.trim() : undefined;
};
const textOf = (n: Node | undefined): string | undefined => {
  if (!n) return undefined;
  const t = n['#text'];
  const s = typeof t === 'string' ? t : Array.isArray(t) ? t.join('') : undefined;
  return s?.trim() || undefined;
};
/** `path` of element names below `n`, the first at each step */
const at = (n: Node | undefined, ...path: string[]): Node | undefined => path.reduce<Node | undefined>((acc, p) => kid(acc, p), n);
const time = (n: Node | undefined): string | undefined => hl7ToFhirDateTime(attr(n, 'value'));

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  isArray: (_name, _path, _leaf, isAttribute) => !isAttribute,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  htmlEntities: true,
});

/** Decode a document: the encoding its XML declaration names (GB2312/GBK/GB18030 or UTF-8), UTF-8 by default. */
export function decodeCda(bytes: Uint8Array): string {
  const head = Buffer.from(bytes.subarray(0, 200)).toString('latin1');
  const declared = /encoding\s*=\s*["']([A-Za-z0-9_-]+)["']/.exec(head)?.[1]?.toLowerCase();
  if (declared && /^(gb2312|gbk|gb18030|cp936)$/.test(declared)) return new TextDecoder('gb18030').decode(bytes);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    throw new CdaParseError('not valid UTF-8 and no Chinese encoding declared');
  }
}

/** Parse one WS/T 500 document. Throws {@link CdaParseError}. */
export function parseCdaDocument(xml: string, messageIndex = 0): CdaReport {
  if (/<!DOCTYPE/i.test(xml)) throw new CdaParseError('a DOCTYPE is not allowed (no DTD, no entities)');
  if (/<!ENTITY/i.test(xml)) throw new CdaParseError('entity declarations are not allowed');
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new CdaParseError('not well-formed XML');
  let tree: Node;
  try {
    tree = parser.parse(xml) as Node;
  } catch {
    throw new CdaParseError('not well-formed XML');
  }
  const doc = kid(tree, 'ClinicalDocument');
  if (!doc) throw new CdaParseError('not a CDA document (no ClinicalDocument)');
  const templates = kids(doc, 'templateId').map((t) => attr(t, 'root'));
  const typeCode = attr(kid(doc, 'code'), 'code');
  const kind = templates.includes(LAB_TEMPLATE) || typeCode === 'C0007' ? 'lab' : templates.includes(EXAM_TEMPLATE) || typeCode === 'C0006' ? 'exam' : undefined;
  if (!kind) throw new CdaParseError('not a WS/T 500 lab (C0007) or exam (C0006) report template');
  if (typeCode && typeCode !== (kind === 'lab' ? 'C0007' : 'C0006')) throw new CdaParseError('document type code does not match its template');

  const docId = kids(doc, 'id').find((i) => attr(i, 'root') === OID.documentId) ?? kid(doc, 'id');
  const documentId = attr(docId, 'extension') ?? attr(docId, 'root');
  if (!documentId) throw new CdaParseError('ClinicalDocument/id is missing');

  const role = at(doc, 'recordTarget', 'patientRole');
  if (!role) throw new CdaParseError('recordTarget/patientRole is missing');
  const roleIds = kids(role, 'id');
  const idOf = (root: string) => attr(roleIds.find((i) => attr(i, 'root') === root), 'extension');
  const nationalId = attr(kids(kid(role, 'patient'), 'id').find((i) => attr(i, 'root') === OID.nationalId), 'extension')?.toUpperCase();
  if (!nationalId) throw new CdaParseError('recordTarget has no resident id under OID 2.16.156.10011.1.3');
  const mrns = [idOf(OID.outpatientNo), idOf(OID.inpatientNo)].filter((x): x is string => Boolean(x));
  const reportNo = idOf(kind === 'lab' ? OID.labReportNo : OID.examReportNo);
  if (!reportNo) throw new CdaParseError(`recordTarget has no ${kind === 'lab' ? 'lab report number (2.16.156.10011.1.33)' : 'exam report number (2.16.156.10011.1.32)'}`);

  const version = Number(attr(kid(doc, 'versionNumber'), 'value'));
  const replaced = kids(doc, 'relatedDocument').find((r) => attr(r, 'typeCode') === 'RPLC');
  const replacedId = attr(at(replaced, 'parentDocument', 'id'), 'extension');
  const legal = kid(doc, 'legalAuthenticator');
  const signature: CdaSignature | undefined = legal
    ? clean({ time: time(kid(legal, 'time')), code: attr(kid(legal, 'signatureCode'), 'code'), role: attr(at(legal, 'assignedEntity', 'code'), 'displayName') })
    : undefined;

  const sections = kids(at(doc, 'component', 'structuredBody'), 'component').map((c) => kid(c, 'section')).filter((s): s is Node => Boolean(s));
  if (!sections.length) throw new CdaParseError('no structuredBody sections');

  const common: CdaCommon = {
    fillerOrderNumber: reportNo,
    documentId,
    patient: { nationalId, mrns },
    messageIndex,
    ...clean({
      setId: attr(kid(doc, 'setId'), 'extension'),
      version: Number.isInteger(version) && version > 0 ? version : undefined,
      replaces: replacedId,
      reportedAt: time(at(doc, 'author', 'time')) ?? time(kid(doc, 'effectiveTime')),
      createdAt: time(kid(doc, 'effectiveTime')),
      signature: signature && Object.keys(signature).length ? signature : undefined,
    }),
  };
  return kind === 'lab' ? labReport(common, sections) : examReport(common, sections);
}

/** Observations of a section, whether an entry holds one directly or in an organizer's components. */
function observationsOf(section: Node): Node[] {
  const out: Node[] = [];
  for (const e of kids(section, 'entry')) {
    out.push(...kids(e, 'observation'));
    for (const org of kids(e, 'organizer')) for (const c of kids(org, 'component')) out.push(...kids(c, 'observation'));
  }
  return out;
}

const deCode = (o: Node) => attr(kid(o, 'code'), 'code');
const sectionCode = (s: Node) => attr(kid(s, 'code'), 'code');
const sectionName = (s: Node) => attr(kid(s, 'code'), 'displayName');
const related = (o: Node): Node[] => kids(o, 'entryRelationship').flatMap((r) => kids(r, 'observation'));

/** An observation's value as text: ST text, PQ/REAL value, CD display or code. */
function valueText(v: Node | undefined): string | undefined {
  if (!v) return undefined;
  return textOf(v) ?? attr(v, 'value') ?? attr(v, 'displayName') ?? attr(v, 'code');
}

function coded(v: Node | undefined): (SourceCode & { loinc?: string }) | undefined {
  if (!v) return undefined;
  const code = attr(v, 'code');
  const display = attr(v, 'displayName') ?? textOf(kid(v, 'originalText')) ?? textOf(v);
  const system = attr(v, 'codeSystem');
  if (!code && !display) return undefined;
  const out: SourceCode & { loinc?: string } = { ...clean({ code, display }) };
  if (system === OID.loinc) out.system = 'LN';
  else if (system) out.system = system;
  return out;
}

/** CDA statusCode (ActStatus) → the status words of adapters/common/status.ts. */
function actStatus(o: Node | undefined): string | undefined {
  const s = attr(kid(o, 'statusCode'), 'code')?.toLowerCase();
  switch (s) {
    case 'completed':
      return 'final';
    case 'active':
    case 'new':
      return 'preliminary';
    case 'aborted':
    case 'cancelled':
      return 'cancelled';
    case 'nullified':
      return 'entered-in-error';
    default:
      return undefined;
  }
}

function labReport(common: CdaCommon, sections: Node[]): CdaLabReport {
  const lab = sections.find((s) => sectionCode(s) === SECTION.studiesSummary);
  if (!lab) throw new CdaParseError('no laboratory section (LOINC 30954-2)');
  const obs = observationsOf(lab);
  const category = valueText(kid(obs.find((o) => deCode(o) === DE.category), 'value'));
  const items: CdaLabItem[] = [];
  for (const o of obs.filter((x) => deCode(x) === DE.itemCode)) {
    const code = coded(kid(o, 'value'));
    if (!code) throw new CdaParseError(`${DE.itemCode} item without a code`);
    const item: CdaLabItem = { code, valueType: 'ST' };
    const eff = time(kid(o, 'effectiveTime'));
    if (eff) item.effective = eff;
    const status = actStatus(o);
    if (status) item.status = status;
    for (const r of related(o)) {
      const v = kid(r, 'value');
      switch (deCode(r)) {
        case DE.quantitative: {
          const type = attr(v, 'type');
          item.valueType = type === 'ST' ? 'ST' : 'NM';
          item.value = valueText(v);
          const unit = attr(v, 'unit') ?? valueText(kid(related(r).find((u) => deCode(u) === DE.unit), 'value'));
          if (unit && unit !== '1') item.unit = unit;
          readRange(r, item);
          const flag = attr(kid(r, 'interpretationCode'), 'code');
          if (flag) item.flag = flag;
          break;
        }
        case DE.resultCode: {
          // a qualitative result (阴性/阳性 …): CD with its text, or ST
          const cd = coded(v);
          if (attr(v, 'type') === 'CD' && cd) {
            if (!item.value) {
              item.valueType = 'CE';
              item.codedValue = cd;
              item.value = cd.display ?? cd.code;
            }
          } else if (!item.value) item.value = valueText(v);
          readRange(r, item);
          const flag = attr(kid(r, 'interpretationCode'), 'code');
          if (flag && !item.flag) item.flag = flag;
          break;
        }
        case DE.unit: {
          const unit = valueText(v);
          if (unit) item.unit = unit;
          break;
        }
        case DE.specimen: {
          const sp = valueText(v);
          if (sp) item.specimen = sp;
          const taken = time(at(r, 'effectiveTime', 'low')) ?? time(kid(r, 'effectiveTime'));
          if (taken) item.collectedAt = taken;
          break;
        }
      }
    }
    if (item.value === undefined && !item.codedValue) throw new CdaParseError(`${DE.itemCode} item without a result (${DE.quantitative} or ${DE.resultCode})`);
    items.push(item);
  }
  if (!items.length) throw new CdaParseError(`laboratory section has no ${DE.itemCode} items`);
  const conclusionObs = sections.flatMap(observationsOf).find((o) => deCode(o) === DE.labConclusion);
  const out: CdaLabReport = { ...common, kind: 'lab', items, status: finalStatus(common, lab) };
  if (category) out.category = category;
  const conclusion = valueText(kid(conclusionObs, 'value'));
  if (conclusion) out.conclusion = conclusion;
  return out;
}

/** referenceRange/observationRange: IVL_PQ low/high, or text. */
function readRange(o: Node, item: CdaLabItem): void {
  const range = at(o, 'referenceRange', 'observationRange');
  if (!range) return;
  const v = kid(range, 'value');
  const low = attr(kid(v, 'low'), 'value');
  const high = attr(kid(v, 'high'), 'value');
  if (low) item.low = low;
  if (high) item.high = high;
  const text = textOf(kid(range, 'text')) ?? (v && attr(v, 'type') === 'ST' ? textOf(v) : undefined);
  if (text) item.rangeText = text;
}

/** The report status: the section's statusCode, the document's replacing an earlier one → corrected. */
function finalStatus(common: CdaCommon, section: Node): string {
  const organizer = kids(section, 'entry').flatMap((e) => kids(e, 'organizer'))[0];
  const status = actStatus(organizer) ?? 'final';
  if (status === 'final' && (common.replaces || (common.version ?? 1) > 1)) return 'corrected';
  return status;
}

function examReport(common: CdaCommon, sections: Node[]): CdaExamReport {
  const exam = sections.find((s) => sectionCode(s) === SECTION.physicalExamination);
  if (!exam) throw new CdaParseError('no examination section (LOINC 29545-1)');
  const obs = observationsOf(exam);
  const itemObs = obs.find((o) => deCode(o) === DE.itemCode);
  const code = coded(kid(itemObs, 'value'));
  if (!itemObs || !code) throw new CdaParseError(`examination section has no ${DE.itemCode} exam code`);
  const out: CdaExamReport = { ...common, kind: 'exam', exam: code, status: finalStatus(common, exam) };
  const modality = valueText(kid(obs.find((o) => deCode(o) === DE.category), 'value'));
  if (modality) out.modality = modality;
  const performed = time(kid(itemObs, 'effectiveTime'));
  if (performed) out.performedAt = performed;
  const site = attr(kid(itemObs, 'targetSiteCode'), 'displayName');
  if (site) out.bodySite = site;
  // The Study Instance UID: an act coded DICOM 113014 "Study" whose id root is the UID (CDA DIR, DICOM PS3.20)
  for (const s of sections) {
    for (const e of kids(s, 'entry')) {
      for (const act of kids(e, 'act')) {
        const c = kid(act, 'code');
        if (attr(c, 'code') === '113014' && attr(c, 'codeSystem') === OID.dicomDcm) out.studyUid = attr(kid(act, 'id'), 'root');
      }
    }
  }
  const report = sections.find((s) => sectionName(s) === '检查报告' || observationsOf(s).some((o) => deCode(o) === DE.examResult));
  const results = report ? observationsOf(report).filter((o) => deCode(o) === DE.examResult) : [];
  for (const [i, o] of results.entries()) {
    const name = attr(kid(o, 'code'), 'displayName') ?? '';
    const text = valueText(kid(o, 'value'));
    if (!text) continue;
    // the template codes both with DE04.50.131.00 and tells them apart by name (客观所见 / 主观提示)
    if (/主观|提示|诊断|印象/.test(name) || (!/客观|所见/.test(name) && i > 0)) out.impression = out.impression ? `${out.impression}\n${text}` : text;
    else out.findings = out.findings ? `${out.findings}\n${text}` : text;
  }
  if (!out.findings && !out.impression) throw new CdaParseError(`exam report has no ${DE.examResult} result`);
  return out;
}

function clean<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}
