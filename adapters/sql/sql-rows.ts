import type { DiagnosticReport, ImagingStudy, Observation } from '@medplum/fhirtypes';
import { isoToFhirDateTime } from '../common/datetime';
import { type BuildContext, buildImaging, buildLabReport, type LabItem } from '../common/fhir-builders';
import { readSection } from '../common/sections';
import { reportStatus, statusPrecedence } from '../common/status';

/**
 * Rows of the front-end database views (API.md §2 `sql`) → FHIR. Pure functions: the adapter
 * queries, these map. Lab rows are grouped by `report_no` into one DiagnosticReport with one
 * Observation per row; each imaging row is one study and its report.
 */
export const LAB_COLUMNS = [
  'national_id', 'mrn', 'report_no', 'item_code', 'item_name', 'loinc', 'value', 'unit', 'ref_low', 'ref_high',
  'flag', 'status', 'specimen', 'collected_at', 'reported_at',
] as const;
export const IMAGING_COLUMNS = [
  'national_id', 'mrn', 'accession_no', 'study_uid', 'modality', 'body_part', 'exam_code', 'exam_name', 'findings',
  'conclusion', 'status', 'study_at', 'reported_at',
] as const;

type Cell = string | number | Date | null | undefined;
export type LabRow = Partial<Record<(typeof LAB_COLUMNS)[number], Cell>>;
export type ImagingRow = Partial<Record<(typeof IMAGING_COLUMNS)[number], Cell>>;

const text = (v: Cell): string | undefined => {
  if (v === null || v === undefined) return undefined;
  const s = (v instanceof Date ? v.toISOString() : String(v)).trim();
  return s || undefined;
};

const isNumber = (v: Cell) => v !== null && v !== undefined && v !== '' && Number.isFinite(Number(String(v).trim()));

/** The status of a report from its rows' statuses: mixed final/preliminary is `partial`. */
export function groupStatus(statuses: Array<string | undefined>): string {
  const mapped = statuses.map((s) => reportStatus(s));
  if (mapped.every((s) => s === mapped[0])) return mapped[0];
  if (mapped.some((s) => s === 'corrected' || s === 'amended')) return 'corrected';
  if (mapped.some((s) => s === 'preliminary' || s === 'partial' || s === 'registered')) return 'partial';
  // final beside cancelled or entered-in-error items: the report stands for what is final
  return mapped.some((s) => statusPrecedence(s) >= statusPrecedence('final') && s !== 'cancelled' && s !== 'entered-in-error') ? 'final' : 'cancelled';
}

function labItem(row: LabRow, key: string): LabItem {
  const low = row.ref_low;
  const high = row.ref_high;
  const numericRange = (low == null || low === '' || isNumber(low)) && (high == null || high === '' || isNumber(high));
  const item: LabItem = {
    key,
    code: { code: text(row.item_code), display: text(row.item_name) },
    loinc: text(row.loinc),
    value: text(row.value),
    unit: text(row.unit),
    flag: text(row.flag),
    status: text(row.status),
    effective: isoToFhirDateTime(row.collected_at),
    issued: isoToFhirDateTime(row.reported_at),
    specimen: text(row.specimen),
  };
  if (numericRange) {
    item.low = text(low);
    item.high = text(high);
  } else {
    // a qualitative reference (阴性) sits in ref_low/ref_high as text
    item.rangeText = [text(low), text(high)].filter(Boolean).join('-');
  }
  return item;
}

/** Group lab rows into reports (rows of one report need not be adjacent). */
export function labRowsToFhir(rows: readonly LabRow[], ctx: BuildContext): { reports: DiagnosticReport[]; observations: Observation[] } {
  const groups = new Map<string, LabRow[]>();
  for (const row of rows) {
    const no = text(row.report_no);
    if (!no) continue;
    const g = groups.get(no);
    if (g) g.push(row);
    else groups.set(no, [row]);
  }
  const reports: DiagnosticReport[] = [];
  const observations: Observation[] = [];
  for (const [no, group] of groups) {
    const { report, observations: obs } = labGroupToFhir(no, group, ctx);
    reports.push(report);
    observations.push(...obs);
  }
  return { reports, observations };
}

/** One report from its rows. */
export function labGroupToFhir(reportNo: string, rows: readonly LabRow[], ctx: BuildContext) {
  const seen = new Map<string, number>();
  const items = rows.map((row) => {
    const base = `${reportNo}|${text(row.item_code) ?? text(row.item_name) ?? ''}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return labItem(row, n === 1 ? base : `${base}|${n}`);
  });
  const collected = items.map((i) => i.effective).filter((t): t is string => !!t).sort(byTime);
  const reported = items.map((i) => i.issued).filter((t): t is string => !!t).sort(byTime);
  return buildLabReport(
    {
      key: reportNo,
      patientId: text(rows[0].national_id) ?? text(rows[0].mrn) ?? 'unknown',
      status: groupStatus(rows.map((r) => text(r.status))),
      effective: collected[0],
      issued: reported[reported.length - 1],
      items,
    },
    ctx,
  );
}

const byTime = (a: string, b: string) => Date.parse(a) - Date.parse(b);

/** One imaging row → ImagingStudy, DiagnosticReport (RAD) and the findings Observation. */
export function imagingRowToFhir(row: ImagingRow, ctx: BuildContext): { study: ImagingStudy; report: DiagnosticReport; observations: Observation[] } | undefined {
  const accession = text(row.accession_no);
  if (!accession) return undefined;
  const modality = text(row.modality);
  return buildImaging(
    {
      reportKey: accession,
      studyKey: accession,
      patientId: text(row.national_id) ?? text(row.mrn) ?? 'unknown',
      accession,
      studyUid: text(row.study_uid),
      modality,
      section: readSection(modality),
      bodySite: text(row.body_part),
      exam: { code: text(row.exam_code), display: text(row.exam_name) },
      findings: text(row.findings),
      conclusion: text(row.conclusion),
      status: text(row.status),
      started: isoToFhirDateTime(row.study_at),
      issued: isoToFhirDateTime(row.reported_at),
    },
    ctx,
  );
}
