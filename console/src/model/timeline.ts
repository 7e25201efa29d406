import type { CodeableConcept, DiagnosticReport, ImagingStudy, Observation, Resource } from '@medplum/fhirtypes';
import { chinaDate, timeMs } from './format';
import { sourceHospital } from './hospitals';
import { recognitionOf, type Recognition } from './recognition';

/**
 * One timeline of a patient's results from every hospital (pure): a row per DiagnosticReport,
 * with its included Observations and the ImagingStudies it points to, and a row per ImagingStudy
 * no report points to; newest first by the time the sample was taken or the study done.
 */

export type Category = 'lab' | 'imaging';

export interface TimelineRow {
  key: string;
  resource: DiagnosticReport | ImagingStudy;
  category: Category;
  itemCode?: string;
  /** what a clinician reads: the catalogue's Chinese display, else the report's own text */
  itemName: string;
  hospitalId?: string;
  /** effectiveDateTime (a period's start), else issued; a study's started */
  time?: string;
  /** YYYY-MM-DD in China time */
  day?: string;
  status?: string;
  recognition: Recognition;
  observations: Observation[];
  studies: ImagingStudy[];
  /** observations flagged outside their range */
  abnormal: number;
}

/** v2-0074 diagnostic service sections that are imaging */
const IMAGING_SECTIONS = new Set(['RAD', 'CT', 'MR', 'NMR', 'US', 'RUS', 'VUS', 'OUS', 'CUS', 'RX', 'XRC', 'NMS', 'CTH', 'DX', 'PT']);
const ABNORMAL_FLAGS = new Set(['H', 'L', 'HH', 'LL', 'HU', 'LU', 'A', 'AA', '>', '<', 'POS']);

export function buildTimeline(reports: readonly DiagnosticReport[], includes: readonly Resource[], studies: readonly ImagingStudy[]): TimelineRow[] {
  const observations = new Map<string, Observation>();
  for (const r of includes) if (r.resourceType === 'Observation' && r.id) observations.set(`Observation/${r.id}`, r);
  const studyById = new Map<string, ImagingStudy>();
  for (const s of studies) if (s.id) studyById.set(`ImagingStudy/${s.id}`, s);
  const referenced = new Set<string>();

  const rows: TimelineRow[] = reports.map((report) => {
    const members = (report.result ?? []).map((ref) => (ref.reference ? observations.get(ref.reference) : undefined)).filter((o): o is Observation => Boolean(o));
    const linked = (report.imagingStudy ?? []).map((ref) => ref.reference).filter((r): r is string => Boolean(r));
    for (const l of linked) referenced.add(l);
    const recognition = recognitionOf(report);
    const imaging = linked.length > 0 || (report.category ?? []).some((c) => c.coding?.some((k) => IMAGING_SECTIONS.has(k.code ?? '')));
    const time = report.effectiveDateTime ?? report.effectivePeriod?.start ?? report.issued;
    return {
      key: `DiagnosticReport/${report.id}`,
      resource: report,
      category: imaging ? 'imaging' : 'lab',
      ...(recognition.itemCode ? { itemCode: recognition.itemCode } : {}),
      itemName: recognition.itemDisplay ?? conceptText(report.code),
      hospitalId: sourceHospital(report),
      time,
      day: chinaDate(time),
      status: report.status,
      recognition,
      observations: members,
      studies: linked.map((l) => studyById.get(l)).filter((s): s is ImagingStudy => Boolean(s)),
      abnormal: members.filter(isAbnormal).length,
    };
  });

  for (const study of studies) {
    if (referenced.has(`ImagingStudy/${study.id}`)) continue;
    const recognition = recognitionOf(study);
    rows.push({
      key: `ImagingStudy/${study.id}`,
      resource: study,
      category: 'imaging',
      ...(recognition.itemCode ? { itemCode: recognition.itemCode } : {}),
      itemName: recognition.itemDisplay ?? study.description ?? conceptText(study.procedureCode?.[0]),
      hospitalId: sourceHospital(study),
      time: study.started,
      day: chinaDate(study.started),
      status: study.status,
      recognition,
      observations: [],
      studies: [study],
      abnormal: 0,
    });
  }
  return rows.sort((a, b) => timeMs(b.time) - timeMs(a.time) || (a.key < b.key ? -1 : 1));
}

export function conceptText(c: CodeableConcept | undefined): string {
  return c?.text ?? c?.coding?.find((k) => k.display)?.display ?? c?.coding?.[0]?.code ?? '';
}

export function flagOf(o: Observation): string | undefined {
  return o.interpretation?.flatMap((i) => i.coding ?? []).find((c) => c.code)?.code;
}

export const isAbnormal = (o: Observation) => ABNORMAL_FLAGS.has(flagOf(o) ?? '');

export interface TimelineFilter {
  category?: Category;
  item?: string;
  hospital?: string;
  /** YYYY-MM-DD, inclusive, China time */
  from?: string;
  to?: string;
}

/** the item key of a row in the item filter: the catalogue code, else its name */
export const itemKey = (r: TimelineRow) => r.itemCode ?? `name:${r.itemName}`;

export function filterTimeline(rows: readonly TimelineRow[], f: TimelineFilter): TimelineRow[] {
  return rows.filter(
    (r) =>
      (!f.category || r.category === f.category) &&
      (!f.item || itemKey(r) === f.item) &&
      (!f.hospital || r.hospitalId === f.hospital) &&
      (!f.from || (r.day !== undefined && r.day >= f.from)) &&
      (!f.to || (r.day !== undefined && r.day <= f.to)),
  );
}

/** the distinct items of the rows, for the item filter, in the order a clinician finds them: by name */
export function itemsOf(rows: readonly TimelineRow[]): Array<{ key: string; name: string }> {
  const m = new Map<string, string>();
  for (const r of rows) if (!m.has(itemKey(r))) m.set(itemKey(r), r.itemName);
  return [...m].map(([key, name]) => ({ key, name })).sort((a, b) => a.name.localeCompare(b.name, 'zh-CN'));
}
