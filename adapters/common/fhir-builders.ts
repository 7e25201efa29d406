import type { CodeableConcept, Coding, DiagnosticReport, Identifier, ImagingStudy, Observation, Patient, Reference } from '@medplum/fhirtypes';
import { createHash } from 'node:crypto';
import { encodeLocalId } from '../adapter';
import type { CodeMap } from './code-map';
import { toInstant } from './datetime';
import { interpretation, ordinalValue, parseNumeric, referenceRange } from './observation-values';
import { modalityForSection, reportCategories, type Section, sectionForModality } from './sections';
import { imagingStudyStatus, observationStatus, reportStatus } from './status';
import {
  accessionNumberSystem,
  DICOM_DCM,
  DICOM_UID_SYSTEM,
  LOINC,
  localCodeSystem,
  OBSERVATION_CATEGORY,
  reportNumberSystem,
  SNOMED,
  V2_0203,
} from './systems';
import { quantity } from './ucum';

/**
 * One neutral model of a lab or imaging report, filled by the hl7v2 and sql adapters, and the
 * builders that turn it into FHIR R4 (API.md §4 "Every result the gateway returns"): LOINC where
 * the code maps with the local coding beside it, UCUM quantities, v2-0074 categories with the
 * `LAB`/`RAD` umbrella, relative references, ids from {@link encodeLocalId}. No `meta.source`: the
 * gateway sets it.
 */
export interface BuildContext {
  hospitalId: string;
  codeMap: CodeMap;
}

/** A code as the hospital sent it: `system` `LN` (HL7 v2) or `http://loinc.org` marks LOINC. */
export interface SourceCode {
  code?: string;
  display?: string;
  system?: string;
}

export interface LabItem {
  /** local key of the analyte, unique within the hospital (becomes the Observation id) */
  key: string;
  code: SourceCode;
  /** an explicit LOINC code (SQL `loinc` column): wins over the code map */
  loinc?: string;
  /** HL7 OBX-2 value type when known (NM, ST, TX, FT, CE, CWE, SN…) */
  valueType?: string;
  value?: string | null;
  /** a coded value (HL7 CE/CWE) */
  codedValue?: SourceCode;
  unit?: string | null;
  rangeText?: string | null;
  low?: string | number | null;
  high?: string | number | null;
  flag?: string | null;
  /** source status of the analyte; the report's when absent */
  status?: string | null;
  effective?: string;
  issued?: string;
  specimen?: string | null;
}

export interface LabReport {
  /** local key of the report (filler order / report number) */
  key: string;
  /** the local patient id (national id or MRN) */
  patientId: string;
  code?: SourceCode;
  /** an explicit LOINC code for the report (HL7 CWE alternate triplet) */
  codeLoinc?: string;
  section?: Section;
  status: string | null | undefined;
  effective?: string;
  issued?: string;
  items: LabItem[];
}

export interface ImagingReport {
  /** local key of the DiagnosticReport */
  reportKey: string;
  /** local key of the ImagingStudy */
  studyKey: string;
  patientId: string;
  accession?: string;
  /** the report (filler) number when it differs from the accession number */
  reportNumber?: string;
  studyUid?: string | null;
  modality?: string | null;
  section?: Section;
  bodySite?: string | null;
  exam?: SourceCode;
  examLoinc?: string;
  findings?: string | null;
  conclusion?: string | null;
  status: string | null | undefined;
  started?: string;
  issued?: string;
}

export const patientReference = (patientId: string): Reference<Patient> => ({ reference: `Patient/${encodeLocalId(patientId)}` });

const isLoincSystem = (s: string | undefined) => !!s && (s === 'LN' || s === LOINC || s.toUpperCase() === 'LOINC');

/**
 * The coded concept for a local code: LOINC first (explicit, the hospital's own, or through the
 * code map), then the hospital's coding. `text` is the hospital's display.
 */
export function codedConcept(src: SourceCode | undefined, ctx: BuildContext, explicitLoinc?: string | null): CodeableConcept {
  const codings: Coding[] = [];
  const code = src?.code?.trim();
  const display = src?.display?.trim() || undefined;
  const mapped = code ? ctx.codeMap.get(code) : undefined;
  if (explicitLoinc?.trim()) {
    const loinc = explicitLoinc.trim();
    codings.push({ system: LOINC, code: loinc, ...(mapped?.loinc === loinc ? { display: mapped.display } : display ? { display } : {}) });
  } else if (code && isLoincSystem(src?.system)) {
    codings.push({ system: LOINC, code, ...(mapped ? { display: mapped.display } : display ? { display } : {}) });
  } else if (mapped) {
    codings.push({ system: LOINC, code: mapped.loinc, display: mapped.display });
  }
  if (code && !isLoincSystem(src?.system)) {
    codings.push({ system: localCodeSystem(ctx.hospitalId), code, ...(display ? { display } : {}) });
  }
  const cc: CodeableConcept = {};
  if (codings.length) cc.coding = codings;
  const text = display ?? mapped?.display;
  if (text) cc.text = text;
  if (!cc.coding && !cc.text) cc.text = 'unknown';
  return cc;
}

const SOURCE_VALUE_SYSTEMS: Record<string, string> = { SCT: SNOMED, SNM: SNOMED, SNOMED, LN: LOINC };

/** Observation.value[x] for one lab value: quantity, qualitative concept, coded value or text. */
export function observationValue(item: LabItem, preferredUnit: string | undefined, localSystem?: string): Partial<Observation> {
  const type = item.valueType?.toUpperCase();
  if (item.codedValue && (item.codedValue.code || item.codedValue.display)) {
    const cv = item.codedValue;
    const system = cv.system ? (SOURCE_VALUE_SYSTEMS[cv.system.toUpperCase()] ?? localSystem) : undefined;
    const ordinal = ordinalValue(cv.display ?? cv.code ?? '');
    if ((!system || system === localSystem) && ordinal) return { valueCodeableConcept: ordinal };
    const cc: CodeableConcept = {};
    if (cv.code) cc.coding = [{ ...(system ? { system } : {}), code: cv.code, ...(cv.display ? { display: cv.display } : {}) }];
    if (cv.display) cc.text = cv.display;
    return { valueCodeableConcept: cc };
  }
  const text = item.value?.trim();
  if (!text) return {};
  const ordinal = ordinalValue(text);
  if (ordinal) return { valueCodeableConcept: ordinal };
  if (type !== 'TX' && type !== 'FT') {
    const n = parseNumeric(text);
    if (n) return { valueQuantity: quantity(n.value, item.unit ?? undefined, preferredUnit, n.comparator) };
  }
  return { valueString: text };
}

const LABORATORY: CodeableConcept[] = [
  { coding: [{ system: OBSERVATION_CATEGORY, code: 'laboratory', display: 'Laboratory' }] },
];
const IMAGING: CodeableConcept[] = [{ coding: [{ system: OBSERVATION_CATEGORY, code: 'imaging', display: 'Imaging' }] }];

/** One lab Observation (API.md §4). */
export function buildObservation(item: LabItem, report: Pick<LabReport, 'patientId' | 'status' | 'effective' | 'issued'>, ctx: BuildContext): Observation {
  const mapped = item.code.code ? ctx.codeMap.get(item.code.code.trim()) : undefined;
  const obs: Observation = {
    resourceType: 'Observation',
    id: encodeLocalId(item.key),
    status: observationStatus(item.status || report.status),
    category: structuredClone(LABORATORY),
    code: codedConcept(item.code, ctx, item.loinc),
    subject: patientReference(report.patientId),
  };
  const effective = item.effective ?? report.effective;
  if (effective) obs.effectiveDateTime = effective;
  const issued = toInstant(item.issued ?? report.issued);
  if (issued) obs.issued = issued;
  Object.assign(obs, observationValue(item, mapped?.unit, localCodeSystem(ctx.hospitalId)));
  const interp = interpretation(item.flag);
  if (interp) obs.interpretation = interp;
  if (item.specimen?.trim()) obs.specimen = { display: item.specimen.trim() };
  const rr = referenceRange({ text: item.rangeText, low: item.low, high: item.high }, item.unit ?? undefined, mapped?.unit);
  if (rr) obs.referenceRange = [rr];
  return obs;
}

const fillerIdentifier = (ctx: BuildContext, value: string): Identifier => ({
  type: { coding: [{ system: V2_0203, code: 'FILL', display: 'Filler Identifier' }] },
  system: reportNumberSystem(ctx.hospitalId),
  value,
});

/** A lab DiagnosticReport and its Observations (API.md §4). */
export function buildLabReport(report: LabReport, ctx: BuildContext): { report: DiagnosticReport; observations: Observation[] } {
  const observations = report.items.map((i) => buildObservation(i, report, ctx));
  const dr: DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    id: encodeLocalId(report.key),
    identifier: [fillerIdentifier(ctx, report.key)],
    status: reportStatus(report.status),
    category: reportCategories(report.section, 'lab'),
    code: report.code?.code || report.code?.display ? codedConcept(report.code, ctx, report.codeLoinc) : labReportCode(report.items),
    subject: patientReference(report.patientId),
  };
  if (report.effective) dr.effectiveDateTime = report.effective;
  const issued = toInstant(report.issued);
  if (issued) dr.issued = issued;
  if (observations.length) dr.result = observations.map((o) => ({ reference: `Observation/${o.id}` }));
  return { report: dr, observations };
}

/** A report without its own code (SQL views): LOINC 11502-2 with the item names as text. */
export function labReportCode(items: readonly LabItem[]): CodeableConcept {
  const names = [...new Set(items.map((i) => i.code.display?.trim()).filter((n): n is string => !!n))];
  return { coding: [{ system: LOINC, code: '11502-2', display: 'Laboratory report' }], text: names.join('、') || 'Laboratory report' };
}

/**
 * Imaging DiagnosticReport ids carry `.rad` after the encoded key: {@link encodeLocalId} never
 * writes `.`, so a RIS accession number can never collide with a LIS report number.
 */
export const IMAGING_REPORT_SUFFIX = '.rad';
export const FINDINGS_SUFFIX = '.findings';
export const imagingReportId = (reportKey: string) => encodeLocalId(reportKey) + IMAGING_REPORT_SUFFIX;

const DICOM_UID = /^[0-2](\.(0|[1-9]\d*))+$/;
const DICOM_MODALITIES = new Set(['CT', 'MR', 'US', 'DX', 'CR', 'MG', 'NM', 'PT', 'XA', 'RF', 'OT', 'ES', 'IO', 'PX', 'OP', 'SR', 'DOC', 'BMD']);

/** A DICOM UID usable as a FHIR id and an OID, or undefined. */
export function validStudyUid(uid: string | null | undefined): string | undefined {
  const u = uid?.trim().replace(/^urn:oid:/, '');
  return u && u.length <= 64 && DICOM_UID.test(u) ? u : undefined;
}

/**
 * The adapters see studies, not series; series[0] summarises the study (modality, body site) under
 * a UID derived from the study's (UUID-derived root 2.25, stable across requests).
 */
export function derivedSeriesUid(seed: string): string {
  const hex = createHash('sha256').update(`series:${seed}`).digest('hex').slice(0, 32);
  return `2.25.${BigInt('0x' + hex).toString()}`;
}

/** DICOM modality from the hospital's modality word or its section, `OT` when unknown. */
export function dicomModality(modality: string | null | undefined, section: Section | undefined): string {
  const m = modality?.trim().toUpperCase();
  if (m === 'MRI') return 'MR';
  if (m === 'DR' || m === 'XR' || m === 'X-RAY') return 'DX';
  if (m === 'PET') return 'PT';
  if (m && DICOM_MODALITIES.has(m)) return m;
  return modalityForSection(section) ?? 'OT';
}

/**
 * An imaging report: the ImagingStudy, the DiagnosticReport (category `RAD` + the modality's
 * section) that references it, and a findings Observation (LOINC 18782-3) when findings are given.
 */
export function buildImaging(src: ImagingReport, ctx: BuildContext): { study: ImagingStudy; report: DiagnosticReport; observations: Observation[] } {
  const modality = dicomModality(src.modality, src.section);
  const modalityCoding: Coding = { system: DICOM_DCM, code: modality };
  const uid = validStudyUid(src.studyUid);
  const subject = patientReference(src.patientId);
  const procedure = src.exam?.code || src.exam?.display ? codedConcept(src.exam, ctx, src.examLoinc) : undefined;

  const identifiers: Identifier[] = [];
  if (src.accession) {
    identifiers.push({
      type: { coding: [{ system: V2_0203, code: 'ACSN', display: 'Accession ID' }] },
      system: accessionNumberSystem(ctx.hospitalId),
      value: src.accession,
    });
  }
  if (uid) identifiers.push({ system: DICOM_UID_SYSTEM, value: `urn:oid:${uid}` });

  const study: ImagingStudy = {
    resourceType: 'ImagingStudy',
    id: encodeLocalId(src.studyKey),
    status: imagingStudyStatus(src.status),
    modality: [modalityCoding],
    subject,
  };
  if (identifiers.length) study.identifier = identifiers;
  if (src.started) study.started = src.started;
  if (procedure) study.procedureCode = [procedure];
  const description = src.exam?.display?.trim();
  if (description) study.description = description;
  const series: NonNullable<ImagingStudy['series']>[number] = {
    uid: derivedSeriesUid(uid ?? `${ctx.hospitalId}|${src.studyKey}`),
    modality: { ...modalityCoding },
  };
  if (src.bodySite?.trim()) series.bodySite = { display: src.bodySite.trim() };
  if (description) series.description = description;
  study.series = [series];

  const observations: Observation[] = [];
  const findings = src.findings?.trim();
  const reportId = imagingReportId(src.reportKey);
  if (findings) {
    const obs: Observation = {
      resourceType: 'Observation',
      id: reportId + FINDINGS_SUFFIX,
      status: observationStatus(src.status),
      category: structuredClone(IMAGING),
      code: { coding: [{ system: LOINC, code: '18782-3', display: 'Radiology Study observation (narrative)' }], text: '检查所见' },
      subject: { ...subject },
      valueString: findings,
    };
    if (src.started) obs.effectiveDateTime = src.started;
    const issued = toInstant(src.issued);
    if (issued) obs.issued = issued;
    observations.push(obs);
  }

  const reportIdentifiers: Identifier[] = [];
  if (src.reportNumber) reportIdentifiers.push(fillerIdentifier(ctx, src.reportNumber));
  if (src.accession) reportIdentifiers.push({ ...identifiers[0] });
  const report: DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    id: reportId,
    status: reportStatus(src.status),
    category: reportCategories(src.section?.kind === 'imaging' && src.section.code !== 'RAD' ? src.section : sectionForModality(modality), 'imaging'),
    code: procedure ? structuredClone(procedure) : { text: description ?? 'Imaging report' },
    subject: { ...subject },
    imagingStudy: [{ reference: `ImagingStudy/${study.id}` }],
  };
  if (reportIdentifiers.length) report.identifier = reportIdentifiers;
  if (src.started) report.effectiveDateTime = src.started;
  const issued = toInstant(src.issued);
  if (issued) report.issued = issued;
  if (observations.length) report.result = observations.map((o) => ({ reference: `Observation/${o.id}` }));
  if (src.conclusion?.trim()) report.conclusion = src.conclusion.trim();
  return { study, report, observations };
}
