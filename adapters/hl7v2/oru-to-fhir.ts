import { type BuildContext, buildImaging, buildLabReport, type LabItem } from '../common/fhir-builders';
import { readSection } from '../common/sections';
import type { MappedReport } from '../common/report-index';
import type { OruObservation, OruReport } from './oru-parser';

/**
 * One parsed ORU report → FHIR (API.md §2 `hl7v2`, §4). Lab sections give a DiagnosticReport with
 * its Observations; imaging sections (RAD, CT, MR, US…) an ImagingStudy and a DiagnosticReport
 * whose `conclusion` is the impression and whose findings are a narrative Observation.
 */
export type { MappedReport };

/** The local patient id of an ORU patient: the national id, else the first MR number. */
export const oruPatientId = (r: OruReport): string => r.patient.nationalId ?? r.patient.mrns[0];

export function oruReportToFhir(r: OruReport, ctx: BuildContext): MappedReport {
  const section = readSection(r.section);
  if (section?.kind === 'imaging') return imagingToFhir(r, ctx);
  const seen = new Set<string>();
  const items: LabItem[] = r.observations.map((o, i) => {
    let key = `${r.fillerOrderNumber}|${o.setId}`;
    if (seen.has(key)) key = `${key}|${i + 1}`; // set ids repeated by a careless sender
    seen.add(key);
    return labItem(o, key, r);
  });
  const { report, observations } = buildLabReport(
    {
      key: r.fillerOrderNumber,
      patientId: oruPatientId(r),
      code: r.service,
      codeLoinc: r.service.loinc,
      section,
      status: r.status,
      effective: r.observedAt,
      issued: r.reportedAt,
      items,
    },
    ctx,
  );
  return { report, observations };
}

function labItem(o: OruObservation, key: string, r: OruReport): LabItem {
  return {
    key,
    code: o.code,
    loinc: o.code.loinc,
    valueType: o.valueType,
    value: o.value,
    codedValue: o.codedValue,
    unit: o.units,
    rangeText: o.range,
    flag: o.flags,
    status: o.status,
    effective: o.observedAt ?? r.observedAt,
    issued: r.reportedAt,
    specimen: r.specimen,
  };
}

const IMPRESSION = /(^|&)IMP$|^19005-8$|^IMPRESSION$|^CONCLUSION$|^(诊断|结论|印象)$/i;

function imagingToFhir(r: OruReport, ctx: BuildContext): MappedReport {
  const findings: string[] = [];
  const impressions: string[] = [];
  let modality: string | undefined;
  for (const o of r.observations) {
    const code = o.code.code ?? '';
    if (code === '121139' || code.toUpperCase() === 'MODALITY') modality = o.value;
    else if (IMPRESSION.test(code) || IMPRESSION.test(o.code.display ?? '')) impressions.push(o.value);
    else if (o.value) findings.push(o.value);
  }
  const section = readSection(r.section);
  const accession = r.accession ?? r.fillerOrderNumber;
  const { study, report, observations } = buildImaging(
    {
      reportKey: r.fillerOrderNumber,
      studyKey: accession,
      patientId: oruPatientId(r),
      accession,
      reportNumber: r.fillerOrderNumber,
      studyUid: r.studyUid,
      modality: modality ?? section?.text ?? modalityFromService(r),
      section,
      bodySite: r.bodySite,
      exam: r.service,
      examLoinc: r.service.loinc,
      findings: findings.join('\n'),
      conclusion: impressions.join('\n'),
      status: r.status,
      started: r.observedAt,
      issued: r.reportedAt,
    },
    ctx,
  );
  return { report, observations, study };
}

/** `CT-CHEST`, `MR头颅平扫`: the modality word a service code or name starts with. */
function modalityFromService(r: OruReport): string | undefined {
  for (const s of [r.service.code, r.service.display]) {
    const m = s && /^(CT|MRI|MR|US|DX|CR|DR|MG|NM|PET|PT|XA)(?![A-Za-z])/i.exec(s);
    if (m) return m[1].toUpperCase();
  }
  return undefined;
}
