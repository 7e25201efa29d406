import type { Observation } from '@medplum/fhirtypes';
import { type FSWatcher, watch } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { AdapterStatus, FetchOptions, HospitalResults, LocalPatient, ReadResult, ResultType } from '../adapter';
import { AdapterHealth } from './adapter-health';
import { type Candidate, ReportIndex } from './report-index';

const PARALLEL_READS = 16;

export interface FolderSourceOptions {
  /** the folder the hospital writes its documents into */
  dir: string;
  /** which file names are documents (`*.hl7`, `*.xml`) */
  pattern: RegExp;
  /** how often the folder is scanned, ms; fs.watch only makes changes arrive sooner */
  pollMs: number;
  /** one file's bytes → its reports, mapped; throws when the file is unusable */
  parse(name: string, bytes: Buffer, mtimeMs: number): Candidate[];
  /** the rule a rejected file broke, in the adapter's own words (never the content) */
  reasonOf(e: unknown): string;
  /** called once per rejected file (metrics) */
  onRejected?(name: string, reason: string): void;
  log: Logger;
  /** what health calls the folder (`inbox`, `document folder`) */
  label: string;
  /** the log messages of a rejected file and of an unreadable folder (`hl7v2 file rejected`, …) */
  logMessages: { rejected: string; unreadable: string };
}

/**
 * A folder of report documents served from memory (the hl7v2 inbox and the MLLP store, the CDA
 * document folder): every matching file is read at start; new, changed (mtime/size) and removed
 * files are picked up by polling, sooner when fs.watch reports. A file that does not parse is
 * skipped as a whole, counted and logged by name and rule only; the other files are still served.
 * Versions of one report are elected by {@link ReportIndex}. Requests get copies.
 */
export class FolderSource {
  readonly index = new ReportIndex();
  private readonly files = new Map<string, { mtimeMs: number; size: number; ok: boolean }>();
  /** files the adapter itself writes (MLLP journals): never read or dropped by a scan */
  private readonly claimed = new Set<string>();
  private timer?: NodeJS.Timeout;
  private watcher?: FSWatcher;
  private debounce?: NodeJS.Timeout;
  private scanning?: Promise<void>;
  private rescan = false;
  private closed = false;
  private lastRejected?: string;
  private readonly health = new AdapterHealth();
  private readable = true;

  constructor(private readonly opts: FolderSourceOptions) {}

  async start(): Promise<void> {
    await this.scan();
    this.timer = setInterval(() => void this.scan(), this.opts.pollMs);
    this.timer.unref();
    try {
      this.watcher = watch(this.opts.dir, { persistent: false }, () => this.soon());
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // fs.watch is an accelerator only; polling still finds every change
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
    this.watcher?.close();
    await this.scanning;
  }

  /** Scan the folder now (also used by tests and by the poll timer); concurrent calls share one scan. */
  scan(): Promise<void> {
    if (this.scanning) {
      this.rescan = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      try {
        do {
          this.rescan = false;
          await this.scanOnce();
        } while (this.rescan && !this.closed);
      } finally {
        this.scanning = undefined;
      }
    })();
    return this.scanning;
  }

  /**
   * A file the adapter itself writes (an MLLP journal), claimed before it exists: scans neither
   * read it (it may be half-written) nor drop it; its owner indexes it with {@link ingest}.
   */
  claim(name: string): void {
    this.claimed.add(name);
  }

  /** Reports just appended durably to a claimed file by its owner: indexed at once, beside the file's earlier ones. */
  ingest(name: string, info: { mtimeMs: number; size: number }, added: Candidate[]): void {
    this.files.set(name, { mtimeMs: info.mtimeMs, size: info.size, ok: true });
    this.index.addToFile(name, added);
    this.index.addPatientsOf(added);
  }

  /** Is a file of this name known (read or rejected)? */
  has(name: string): boolean {
    return this.files.has(name);
  }

  private soon(): void {
    if (this.closed || this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.scan();
    }, 50);
    this.debounce.unref();
  }

  private async scanOnce(): Promise<void> {
    let names: string[];
    try {
      const entries = await readdir(this.opts.dir, { withFileTypes: true });
      names = entries.filter((e) => e.isFile() && this.opts.pattern.test(e.name)).map((e) => e.name);
      this.readable = true;
    } catch (e) {
      this.readable = false;
      const message = `${this.opts.label} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`;
      this.health.failed(message);
      this.opts.log.warn({ reason: message }, this.opts.logMessages.unreadable);
      return;
    }
    let changed = false;
    const present = new Set(names);
    for (const name of [...this.files.keys()]) {
      if (!present.has(name) && !this.claimed.has(name)) {
        this.files.delete(name);
        this.index.replaceFile(name, []);
        changed = true;
      }
    }
    for (let i = 0; i < names.length; i += PARALLEL_READS) {
      const results = await Promise.all(names.slice(i, i + PARALLEL_READS).map((n) => this.loadFile(n)));
      if (results.some(Boolean)) changed = true;
    }
    if (changed) this.index.rebuildPatients();
  }

  /** (Re)read one file when it is new or changed; true when the index changed. */
  private async loadFile(name: string): Promise<boolean> {
    if (this.claimed.has(name)) return false;
    const full = path.join(this.opts.dir, name);
    let info: { mtimeMs: number; size: number };
    try {
      info = await stat(full);
    } catch {
      return false; // gone between readdir and stat: the next scan removes it
    }
    const known = this.files.get(name);
    if (known && known.mtimeMs === info.mtimeMs && known.size === info.size) return false;
    let candidates: Candidate[];
    try {
      candidates = this.opts.parse(name, await readFile(full), info.mtimeMs);
    } catch (e) {
      const reason = this.opts.reasonOf(e);
      this.files.set(name, { mtimeMs: info.mtimeMs, size: info.size, ok: false });
      this.index.replaceFile(name, []);
      this.lastRejected = name;
      this.opts.onRejected?.(name, reason);
      this.opts.log.warn({ file: name, reason }, this.opts.logMessages.rejected);
      return true;
    }
    this.files.set(name, { mtimeMs: info.mtimeMs, size: info.size, ok: true });
    this.index.replaceFile(name, candidates);
    return true;
  }

  patient(nationalId: string): LocalPatient | null {
    const p = this.index.patient(nationalId.toUpperCase());
    return p ? { localId: p.localId, mrns: [...p.mrns] } : null;
  }

  /** The patient's results of the types asked (a report's members travel with it), as copies. */
  results(localId: string, types: readonly ResultType[]): Partial<HospitalResults> {
    const wantReports = types.includes('DiagnosticReport');
    const wantObs = types.includes('Observation') || wantReports;
    const wantStudies = types.includes('ImagingStudy');
    const out: Partial<HospitalResults> = {};
    if (wantReports) out.DiagnosticReport = [];
    if (wantObs) out.Observation = [];
    if (wantStudies) out.ImagingStudy = [];
    for (const c of this.index.reportsOf(localId)) {
      const m = c.mapped;
      if (wantReports) out.DiagnosticReport!.push(structuredClone(m.report));
      if (wantObs) for (const o of m.observations) out.Observation!.push(structuredClone(o));
      if (wantStudies && m.study) out.ImagingStudy!.push(structuredClone(m.study));
    }
    return out;
  }

  /** One result by local id (a copy), with its patient's national id; null without one. */
  read(type: ResultType, localId: string): ReadResult | null {
    const hit = this.index.get(type, localId);
    const nationalId = hit?.winner.source.patient.nationalId;
    if (!hit || !nationalId) return null; // without a national id consent cannot be judged
    const out: ReadResult = { resource: structuredClone(hit.stored.resource), nationalId };
    if (type === 'DiagnosticReport') out.contained = hit.winner.mapped.observations.map((o: Observation) => structuredClone(o));
    return out;
  }

  /** files read and rejected, the last rejected file's name, and the reports served */
  details(): Record<string, number | string> {
    let rejected = 0;
    let read = 0;
    for (const f of this.files.values()) f.ok ? read++ : rejected++;
    const details: Record<string, number | string> = { filesRead: read, filesRejected: rejected, reports: this.index.reportCount };
    if (this.lastRejected) details.lastRejected = this.lastRejected;
    return details;
  }

  status(extra?: Record<string, number | string>, up = true): AdapterStatus {
    return this.health.status(this.readable && up, { ...this.details(), ...extra });
  }

  /** A failure of the adapter around the folder (the MLLP listener), for `status()`. */
  failed(message: string): void {
    this.health.failed(message);
  }
}

/**
 * What an adapter served from a {@link FolderSource} (hl7v2, cda) answers straight from it: the
 * patient, their results, one result, a scan and the health. The folder is in memory, so the fetch
 * options (deadline, abort) have nothing to cut short.
 */
export abstract class FolderSourceAdapter {
  protected abstract readonly source: FolderSource;

  /** Scan the folder now (also used by tests and by the poll timer); concurrent calls share one scan. */
  scan(): Promise<void> {
    return this.source.scan();
  }

  async findPatient(nationalId: string, _opts: FetchOptions): Promise<LocalPatient | null> {
    return this.source.patient(nationalId);
  }

  async fetchResults(patient: LocalPatient, types: readonly ResultType[], _opts: FetchOptions): Promise<Partial<HospitalResults>> {
    return this.source.results(patient.localId, types);
  }

  async readResult(type: ResultType, localId: string, _opts: FetchOptions): Promise<ReadResult | null> {
    return this.source.read(type, localId);
  }

  status(): AdapterStatus {
    return this.source.status();
  }
}
