import type { DiagnosticReport, Extension } from '@medplum/fhirtypes';
import { type BuildContext, buildImaging, buildLabReport, type LabItem } from '../common/fhir-builders';
import type { MappedReport } from '../common/report-index';
import { readSection } from '../common/sections';
import type { CdaExamReport, CdaLabReport, CdaReport } from './cda-parser';
import { OID } from './cda-parser';

/**
 * A parsed WS/T 500 report → FHIR R4, with the builders every adapter uses (API.md §4): a lab
 * report (C0007) gives a DiagnosticReport and one Observation per item (LOINC through the code map,
 * UCUM units, reference ranges, abnormal flags); an exam report (C0006) an ImagingStudy, a
 * DiagnosticReport with the impression as `conclusion` and the findings Observation. The source
 * document — its id, version, what it replaces and its legal authentication (signature time and
 * code) — rides on the DiagnosticReport as the `source-document` extension.
 */
export interface CdaContext extends BuildContext {
  /** base of the gateway's StructureDefinitions (the extension's URL) */
  canonicalBase: string;
}

export const sourceDocumentExtensionUrl = (canonicalBase: string) => `${canonicalBase}/StructureDefinition/source-document`;

export const cdaPatientId = (r: CdaReport): string => r.patient.nationalId!;

export function cdaReportToFhir(r: CdaReport, ctx: CdaContext): MappedReport {
  const mapped = r.kind === 'lab' ? labToFhir(r, ctx) : examToFhir(r, ctx);
  mapped.report.extension = [sourceDocument(r, ctx)];
  return mapped;
}

function labToFhir(r: CdaLabReport, ctx: CdaContext): MappedReport {
  const seen = new Set<string>();
  const items: LabItem[] = r.items.map((i, n) => {
    let key = `${r.fillerOrderNumber}|${i.code.code ?? n + 1}`;
    if (seen.has(key)) key = `${key}|${n + 1}`;
    seen.add(key);
    return {
      key,
      code: i.code,
      loinc: i.code.loinc,
      valueType: i.valueType,
      value: i.value,
      codedValue: i.codedValue,
      unit: i.unit,
      rangeText: i.rangeText,
      low: i.low,
      high: i.high,
      flag: i.flag,
      status: i.status,
      effective: i.collectedAt ?? i.effective,
      issued: r.reportedAt,
      specimen: i.specimen,
    };
  });
  // only a table 0074 section code names the section; Chinese category words are kept out of the coding
  const section = r.category && /^[A-Z]{2,4}$/.test(r.category) ? readSection(r.category) : undefined;
  const effective = items.map((i) => i.effective).filter((t): t is string => Boolean(t)).sort()[0];
  const { report, observations } = buildLabReport(
    { key: r.fillerOrderNumber, patientId: cdaPatientId(r), section: section?.kind === 'lab' ? section : undefined, status: r.status, effective, issued: r.reportedAt, items },
    ctx,
  );
  if (r.conclusion) report.conclusion = r.conclusion;
  return { report, observations };
}

function examToFhir(r: CdaExamReport, ctx: CdaContext): MappedReport {
  const { study, report, observations } = buildImaging(
    {
      reportKey: r.fillerOrderNumber,
      studyKey: r.fillerOrderNumber,
      patientId: cdaPatientId(r),
      accession: r.fillerOrderNumber,
      studyUid: r.studyUid,
      modality: r.modality,
      bodySite: r.bodySite,
      exam: r.exam,
      examLoinc: r.exam.loinc,
      findings: r.findings,
      conclusion: r.impression,
      status: r.status,
      started: r.performedAt,
      issued: r.reportedAt,
    },
    ctx,
  );
  return { report, observations, study };
}

function sourceDocument(r: CdaReport, ctx: CdaContext): Extension {
  const parts: Extension[] = [{ url: 'identifier', valueIdentifier: { system: `urn:oid:${OID.documentId}`, value: r.documentId } }];
  parts.push({ url: 'type', valueCoding: { system: `urn:oid:${OID.documentTypes}`, code: r.kind === 'lab' ? 'C0007' : 'C0006', display: r.kind === 'lab' ? '检验报告' : '检查报告' } });
  if (r.version) parts.push({ url: 'version', valueString: String(r.version) });
  if (r.replaces) parts.push({ url: 'replaces', valueIdentifier: { system: `urn:oid:${OID.documentId}`, value: r.replaces } });
  const s = r.signature;
  if (s?.time) parts.push({ url: 'legalAuthenticationTime', valueDateTime: s.time });
  if (s?.code) parts.push({ url: 'signatureCode', valueCode: s.code });
  if (s?.role) parts.push({ url: 'legalAuthenticatorRole', valueString: s.role });
  return { url: sourceDocumentExtensionUrl(ctx.canonicalBase), extension: parts };
}

/** The source document extension of a mapped report, for tests and callers that read it. */
export function sourceDocumentOf(report: DiagnosticReport, canonicalBase: string): Extension | undefined {
  return report.extension?.find((e) => e.url === sourceDocumentExtensionUrl(canonicalBase));
}
