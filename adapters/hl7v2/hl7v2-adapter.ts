import type { Observation } from '@medplum/fhirtypes';
import { AdapterHealth } from '../common/adapter-health';
import { type FSWatcher, watch } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type {
  AdapterMetrics,
  AdapterStatus,
  FetchOptions,
  HospitalAdapter,
  HospitalResults,
  LocalPatient,
  ResultResource,
  ResultType,
} from '../adapter';
import { type CodeMap, EMPTY_CODE_MAP, loadCodeMap } from '../common/code-map';
import { type Candidate, InboxIndex } from './inbox-index';
import { decodeHl7File, Hl7ParseError, parseOruFile } from './oru-parser';
import { oruPatientId, oruReportToFhir } from './oru-to-fhir';

export interface Hl7v2AdapterOptions {
  hospitalId: string;
  /** the folder the LIS/RIS drops `*.hl7` files into */
  inbox: string;
  codeMap?: string;
  /** how often the inbox is scanned, ms (default 1000); fs.watch only makes changes arrive sooner */
  pollMs?: number;
  log: Logger;
  metrics?: AdapterMetrics;
}

const PARALLEL_READS = 16;

/**
 * The `hl7v2` adapter (API.md §2): serves the ORU^R01 files of an inbox folder. Every `*.hl7`
 * file is read at start; new, changed and removed files are picked up by polling (and sooner when
 * fs.watch reports). A file that does not parse is skipped, counted (status().details,
 * `xzq_hl7v2_files_rejected_total`) and logged by name only.
 */
export class Hl7v2Adapter implements HospitalAdapter {
  readonly kind = 'hl7v2' as const;
  readonly hospitalId: string;
  private codeMap: CodeMap = EMPTY_CODE_MAP;
  private readonly index = new InboxIndex();
  private readonly files = new Map<string, { mtimeMs: number; size: number; ok: boolean }>();
  private timer?: NodeJS.Timeout;
  private watcher?: FSWatcher;
  private debounce?: NodeJS.Timeout;
  private scanning?: Promise<void>;
  private rescan = false;
  private closed = false;
  private lastRejected?: string;
  private readonly health = new AdapterHealth();
  private inboxReadable = true;

  constructor(private readonly opts: Hl7v2AdapterOptions) {
    this.hospitalId = opts.hospitalId;
  }

  async start(): Promise<void> {
    this.codeMap = await loadCodeMap(this.opts.codeMap);
    await this.scan();
    const pollMs = this.opts.pollMs ?? 1000;
    this.timer = setInterval(() => void this.scan(), pollMs);
    this.timer.unref();
    try {
      this.watcher = watch(this.opts.inbox, { persistent: false }, () => this.soon());
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

  /** Scan the inbox now (also used by tests and by the poll timer); concurrent calls share one scan. */
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
      const entries = await readdir(this.opts.inbox, { withFileTypes: true });
      names = entries.filter((e) => e.isFile() && /\.hl7$/i.test(e.name)).map((e) => e.name);
      this.inboxReadable = true;
    } catch (e) {
      this.inboxReadable = false;
      this.fail(`inbox cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      return;
    }
    let changed = false;
    const present = new Set(names);
    for (const name of [...this.files.keys()]) {
      if (!present.has(name)) {
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
    const full = path.join(this.opts.inbox, name);
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
      const text = decodeHl7File(await readFile(full));
      const ctx = { hospitalId: this.hospitalId, codeMap: this.codeMap };
      candidates = parseOruFile(text).map((source) => ({
        file: name,
        fileMtimeMs: info.mtimeMs,
        source,
        mapped: oruReportToFhir(source, ctx),
        patientId: oruPatientId(source),
      }));
    } catch (e) {
      const reason = e instanceof Hl7ParseError ? e.message : 'unreadable';
      this.files.set(name, { ...pick(info), ok: false });
      this.index.replaceFile(name, []);
      this.lastRejected = name;
      this.opts.metrics?.hl7FilesRejected.inc({ hospital: this.hospitalId });
      this.opts.log.warn({ file: name, reason }, 'hl7v2 file rejected');
      return true;
    }
    this.files.set(name, { ...pick(info), ok: true });
    this.index.replaceFile(name, candidates);
    return true;
  }

  private fail(message: string): void {
    this.health.failed(message);
    this.opts.log.warn({ reason: message }, 'hl7v2 inbox problem');
  }

  async findPatient(nationalId: string, _opts: FetchOptions): Promise<LocalPatient | null> {
    const p = this.index.patient(nationalId.toUpperCase());
    return p ? { localId: p.localId, mrns: [...p.mrns] } : null;
  }

  async fetchResults(patient: LocalPatient, types: readonly ResultType[], _opts: FetchOptions): Promise<Partial<HospitalResults>> {
    const wantReports = types.includes('DiagnosticReport');
    const wantObs = types.includes('Observation') || wantReports; // a report's members travel with it
    const wantStudies = types.includes('ImagingStudy');
    const out: Partial<HospitalResults> = {};
    if (wantReports) out.DiagnosticReport = [];
    if (wantObs) out.Observation = [];
    if (wantStudies) out.ImagingStudy = [];
    for (const c of this.index.reportsOf(patient.localId)) {
      const m = c.mapped;
      if (wantReports) out.DiagnosticReport!.push(structuredClone(m.report));
      if (wantObs) for (const o of m.observations) out.Observation!.push(structuredClone(o));
      if (wantStudies && m.study) out.ImagingStudy!.push(structuredClone(m.study));
    }
    return out;
  }

  async readResult(
    type: ResultType,
    localId: string,
    _opts: FetchOptions,
  ): Promise<{ resource: ResultResource; nationalId: string; contained?: Observation[] } | null> {
    const hit = this.index.get(type, localId);
    const nationalId = hit?.winner.source.patient.nationalId;
    if (!hit || !nationalId) return null; // without a national id consent cannot be judged
    const out: { resource: ResultResource; nationalId: string; contained?: Observation[] } = {
      resource: structuredClone(hit.stored.resource),
      nationalId,
    };
    if (type === 'DiagnosticReport') out.contained = hit.winner.mapped.observations.map((o) => structuredClone(o));
    return out;
  }

  status(): AdapterStatus {
    let rejected = 0;
    let read = 0;
    for (const f of this.files.values()) f.ok ? read++ : rejected++;
    const details: Record<string, number | string> = { filesRead: read, filesRejected: rejected, reports: this.index.reportCount };
    if (this.lastRejected) details.lastRejected = this.lastRejected;
    return this.health.status(this.inboxReadable, details);
  }
}

const pick = (i: { mtimeMs: number; size: number }) => ({ mtimeMs: i.mtimeMs, size: i.size });
