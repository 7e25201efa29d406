import type { DiagnosticReport, ImagingStudy, Observation } from '@medplum/fhirtypes';
import { timeValue } from './datetime';
import { reportStatus, statusPrecedence } from './status';

/**
 * The results of a folder of report documents (HL7 v2 files, messages stored from MLLP, WS/T 500
 * CDA documents), kept in memory (the folder is the hospital's data; the gateway keeps no copy).
 * Several versions of a report (same report / filler order number) may sit in different files;
 * the one that wins is chosen by content, never by file order (API.md §2: a corrected report
 * replaces the earlier one): higher {@link statusPrecedence} first, then the newer report time,
 * then the newer file.
 */

/** What the index needs of a parsed report, whatever its source format. */
export interface ReportSource {
  /** the report's key within the hospital: HL7 OBR-3 filler order number, CDA report number */
  fillerOrderNumber: string;
  status?: string;
  /** report time (FHIR dateTime) */
  reportedAt?: string;
  patient: { nationalId?: string; mrns: string[] };
  /** index of the report's message/document within its file (ordering among equals) */
  messageIndex: number;
}

/** One report as mapped to FHIR (lab: report + Observations; imaging: + the ImagingStudy). */
export interface MappedReport {
  report: DiagnosticReport;
  observations: Observation[];
  study?: ImagingStudy;
}

export interface Candidate<S extends ReportSource = ReportSource> {
  file: string;
  fileMtimeMs: number;
  source: S;
  mapped: MappedReport;
  patientId: string;
}

export interface StoredResult {
  resource: DiagnosticReport | Observation | ImagingStudy;
  filler: string;
}

/** Is `a` a better version of the report than `b`? */
export function supersedes(a: Candidate, b: Candidate): boolean {
  const pa = statusPrecedence(reportStatus(a.source.status));
  const pb = statusPrecedence(reportStatus(b.source.status));
  if (pa !== pb) return pa > pb;
  const ta = timeValue(a.source.reportedAt);
  const tb = timeValue(b.source.reportedAt);
  if (ta !== tb) return ta > tb;
  if (a.fileMtimeMs !== b.fileMtimeMs) return a.fileMtimeMs > b.fileMtimeMs;
  if (a.file !== b.file) return a.file > b.file;
  return a.source.messageIndex > b.source.messageIndex;
}

export class ReportIndex {
  private readonly candidates = new Map<string, Candidate[]>();
  private readonly winners = new Map<string, Candidate>();
  private readonly fillersByFile = new Map<string, Set<string>>();
  private readonly byPatient = new Map<string, Set<string>>();
  private readonly byId = new Map<string, StoredResult>();
  private patients: PatientTable = new Map();

  /** Replace everything a file contributed (an empty list removes the file). */
  replaceFile(file: string, entries: Candidate[]): void {
    const affected = new Set<string>(this.fillersByFile.get(file) ?? []);
    for (const filler of affected) {
      const list = this.candidates.get(filler)?.filter((c) => c.file !== file) ?? [];
      if (list.length) this.candidates.set(filler, list);
      else this.candidates.delete(filler);
    }
    const mine = this.add(entries, new Set<string>(), affected);
    if (mine.size) this.fillersByFile.set(file, mine);
    else this.fillersByFile.delete(file);
    for (const filler of affected) this.elect(filler);
  }

  /** Add reports to what a file contributed (a message appended to an MLLP journal): only their reports are elected again. */
  addToFile(file: string, entries: readonly Candidate[]): void {
    const affected = new Set<string>();
    const mine = this.add(entries, this.fillersByFile.get(file) ?? new Set<string>(), affected);
    if (mine.size) this.fillersByFile.set(file, mine);
    for (const filler of affected) this.elect(filler);
  }

  /** Add candidates to their reports' lists, noting their reports in `mine` and `affected`; answers `mine`. */
  private add(entries: readonly Candidate[], mine: Set<string>, affected: Set<string>): Set<string> {
    for (const c of entries) {
      const filler = c.source.fillerOrderNumber;
      mine.add(filler);
      affected.add(filler);
      const list = this.candidates.get(filler);
      if (list) list.push(c);
      else this.candidates.set(filler, [c]);
    }
    return mine;
  }

  private elect(filler: string): void {
    const old = this.winners.get(filler);
    if (old) this.unindex(old);
    const list = this.candidates.get(filler);
    if (!list?.length) {
      this.winners.delete(filler);
      return;
    }
    let best = list[0];
    for (const c of list) if (supersedes(c, best)) best = c;
    this.winners.set(filler, best);
    this.index(best);
  }

  private index(c: Candidate): void {
    const filler = c.source.fillerOrderNumber;
    let set = this.byPatient.get(c.patientId);
    if (!set) this.byPatient.set(c.patientId, (set = new Set()));
    set.add(filler);
    for (const r of resourcesOf(c.mapped)) this.byId.set(`${r.resourceType}/${r.id}`, { resource: r, filler });
  }

  private unindex(c: Candidate): void {
    const filler = c.source.fillerOrderNumber;
    const set = this.byPatient.get(c.patientId);
    set?.delete(filler);
    if (set && !set.size) this.byPatient.delete(c.patientId);
    for (const r of resourcesOf(c.mapped)) {
      const key = `${r.resourceType}/${r.id}`;
      if (this.byId.get(key)?.filler === filler) this.byId.delete(key);
    }
  }

  /**
   * Add one file's reports' patients to the national id → patient table without a full rebuild
   * (a message just stored from MLLP): a superset of the rebuilt table, so a lookup never misses.
   */
  addPatientsOf(entries: readonly Candidate[]): void {
    addPatients(this.patients, entries);
  }

  /** Rebuild the national id → patient table (after a batch of file changes). */
  rebuildPatients(): void {
    const patients: PatientTable = new Map();
    addPatients(patients, this.winners.values());
    this.patients = patients;
  }

  patient(nationalId: string): { localId: string; mrns: string[] } | undefined {
    return this.patients.get(nationalId);
  }

  reportsOf(patientId: string): Candidate[] {
    const out: Candidate[] = [];
    for (const filler of this.byPatient.get(patientId) ?? []) {
      const w = this.winners.get(filler);
      if (w) out.push(w);
    }
    return out;
  }

  get(type: string, id: string): { stored: StoredResult; winner: Candidate } | undefined {
    const stored = this.byId.get(`${type}/${id}`);
    const winner = stored && this.winners.get(stored.filler);
    return stored && winner ? { stored, winner } : undefined;
  }

  get reportCount(): number {
    return this.winners.size;
  }
}

/** national id → the patient's local id and MRNs */
type PatientTable = Map<string, { localId: string; mrns: string[] }>;

/** Add the patients of reports to a national id → patient table (MRNs merged). */
function addPatients(table: PatientTable, entries: Iterable<Candidate>): void {
  for (const c of entries) {
    const nid = c.source.patient.nationalId;
    if (!nid) continue;
    let p = table.get(nid);
    if (!p) table.set(nid, (p = { localId: nid, mrns: [] }));
    for (const mrn of c.source.patient.mrns) if (!p.mrns.includes(mrn)) p.mrns.push(mrn);
  }
}

function resourcesOf(m: MappedReport): Array<DiagnosticReport | Observation | ImagingStudy> {
  return m.study ? [m.report, ...m.observations, m.study] : [m.report, ...m.observations];
}
