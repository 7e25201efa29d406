import type { Logger } from 'pino';
import type { AdapterMetrics, AdapterStatus, HospitalAdapter } from '../adapter';
import { type CodeMap, EMPTY_CODE_MAP, loadCodeMap } from '../common/code-map';
import { FolderSource, FolderSourceAdapter } from '../common/folder-source';
import type { Candidate } from '../common/report-index';
import { MllpListener, type MllpTlsFiles } from '../mllp/mllp-listener';
import { OruReceiver } from '../mllp/oru-receiver';
import { decodeHl7File, Hl7ParseError, type OruReport, parseOruFile } from './oru-parser';
import { oruPatientId, oruReportToFhir } from './oru-to-fhir';

export interface MllpOptions {
  host: string;
  port: number;
  tls?: MllpTlsFiles;
  allowedFacilities: readonly string[];
  maxMessageBytes: number;
  idleTimeoutMs: number;
  maxConnections: number;
}

export interface Hl7v2AdapterOptions {
  hospitalId: string;
  /** the folder the LIS/RIS drops `*.hl7` files into (with MLLP: where received messages are stored) */
  inbox: string;
  codeMap?: string;
  /** how often the inbox is scanned, ms (default 1000); fs.watch only makes changes arrive sooner */
  pollMs?: number;
  /** an MLLP listener beside the inbox (docs/adapters.md "MLLP") */
  mllp?: MllpOptions;
  log: Logger;
  metrics?: AdapterMetrics;
}

/**
 * The `hl7v2` adapter (API.md §2): serves the ORU^R01 files of an inbox folder, and, when
 * configured, the ORU^R01 messages an MLLP listener receives and stores in that folder before it
 * acknowledges them. Both go through one parser, one ORU → FHIR mapping and one report index, so
 * corrections and cancellations follow the same rules whichever way a message came. A file that
 * does not parse is skipped, counted (status().details, `xzq_hl7v2_files_rejected_total`) and
 * logged by name only.
 */
export class Hl7v2Adapter extends FolderSourceAdapter implements HospitalAdapter {
  readonly kind = 'hl7v2' as const;
  readonly hospitalId: string;
  private codeMap: CodeMap = EMPTY_CODE_MAP;
  protected readonly source: FolderSource;
  private listener?: MllpListener;
  private receiver?: OruReceiver;

  constructor(private readonly opts: Hl7v2AdapterOptions) {
    super();
    this.hospitalId = opts.hospitalId;
    this.source = new FolderSource({
      dir: opts.inbox,
      pattern: /\.hl7$/i,
      pollMs: opts.pollMs ?? 1000,
      parse: (name, bytes, mtimeMs) => this.parseFile(name, bytes, mtimeMs),
      reasonOf: (e) => (e instanceof Hl7ParseError ? e.message : 'unreadable'),
      onRejected: () => opts.metrics?.hl7FilesRejected.inc({ hospital: this.hospitalId }),
      log: opts.log,
      label: 'inbox',
      logMessages: { rejected: 'hl7v2 file rejected', unreadable: 'hl7v2 inbox problem' },
    });
  }

  private parseFile(name: string, bytes: Buffer, mtimeMs: number): Candidate[] {
    return this.candidatesOf(name, mtimeMs, parseOruFile(decodeHl7File(bytes)));
  }

  /** Reports of an inbox file or of a message the MLLP listener stored → index candidates. */
  private candidatesOf(file: string, mtimeMs: number, reports: readonly OruReport[]): Candidate[] {
    const ctx = { hospitalId: this.hospitalId, codeMap: this.codeMap };
    return reports.map((source) => ({ file, fileMtimeMs: mtimeMs, source, mapped: oruReportToFhir(source, ctx), patientId: oruPatientId(source) }));
  }

  async start(): Promise<void> {
    this.codeMap = await loadCodeMap(this.opts.codeMap);
    const m = this.opts.mllp;
    const log = this.opts.log.child({ mllp: true });
    if (m) {
      this.receiver = new OruReceiver({
        hospitalId: this.hospitalId,
        dir: this.opts.inbox,
        source: this.source,
        candidates: (file, mtimeMs, reports) => this.candidatesOf(file, mtimeMs, reports),
        allowedFacilities: m.allowedFacilities,
        maxMessageBytes: m.maxMessageBytes,
        log,
        onOutcome: (outcome) => this.opts.metrics?.mllpMessages?.inc({ hospital: this.hospitalId, outcome }),
      });
      // before the inbox is read: a message torn by a crash is cut off, the stored ones' keys known
      await this.receiver.recover();
    }
    await this.source.start();
    if (m && this.receiver) {
      const receiver = this.receiver;
      this.listener = new MllpListener({ ...m, handle: (frame) => receiver.handle(frame), log });
      try {
        await this.listener.start();
      } catch (e) {
        const reason = `MLLP listener cannot listen on ${m.host}:${m.port} (${(e as NodeJS.ErrnoException).code ?? 'error'})`;
        this.source.failed(reason);
        log.error({ reason }, 'mllp listener not started');
        this.listener = undefined;
      }
    }
  }

  async close(): Promise<void> {
    await this.listener?.close();
    await this.receiver?.close();
    await this.source.close();
  }

  /** The port the MLLP listener listens on (the one configured, or the one the system gave for 0). */
  get mllpPort(): number | undefined {
    return this.listener?.port;
  }

  override status(): AdapterStatus {
    if (!this.opts.mllp) return this.source.status();
    const l = this.listener?.stats;
    const r = this.receiver?.stats;
    const extra: Record<string, number | string> = {
      mllpPort: this.listener?.port ?? 'not listening',
      mllpConnections: l?.connections ?? 0,
      mllpAccepted: r?.accepted ?? 0,
      mllpDuplicates: r?.duplicates ?? 0,
      mllpErrors: r?.errors ?? 0,
      mllpRejected: r?.rejected ?? 0,
      mllpFramesDropped: l?.framesDropped ?? 0,
      mllpIdleClosed: l?.idleClosed ?? 0,
    };
    if (r?.lastRejectReason) extra.mllpLastRefusal = r.lastRejectReason;
    return this.source.status(extra, Boolean(this.listener));
  }
}
