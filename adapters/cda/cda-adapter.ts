import type { Logger } from 'pino';
import type { AdapterMetrics, HospitalAdapter } from '../adapter';
import { type CodeMap, EMPTY_CODE_MAP, loadCodeMap } from '../common/code-map';
import { FolderSource, FolderSourceAdapter } from '../common/folder-source';
import type { Candidate } from '../common/report-index';
import { CdaParseError, decodeCda, parseCdaDocument } from './cda-parser';
import { cdaPatientId, cdaReportToFhir } from './cda-to-fhir';

export interface CdaAdapterOptions {
  hospitalId: string;
  /** the folder the hospital publishes its shared documents (`*.xml`) into */
  documents: string;
  codeMap?: string;
  pollMs?: number;
  /** documents larger than this are skipped (default 5 MiB) */
  maxDocumentBytes?: number;
  /** base of the gateway's StructureDefinitions, for the source-document extension */
  canonicalBase: string;
  log: Logger;
  metrics?: AdapterMetrics;
}

export const DEFAULT_MAX_DOCUMENT_BYTES = 5 * 1024 * 1024;

class TooLarge extends Error {}

/**
 * The `cda` adapter (docs/adapters.md "cda"): serves the WS/T 500 lab and exam reports a hospital
 * publishes as CDA documents in a folder. One document is one report; a later version (higher
 * `versionNumber`, `relatedDocument` RPLC) of the same report number replaces the earlier one by the
 * report index's rules. A document that is not usable (not XML, another template, no resident id,
 * a DOCTYPE or entity declaration) is skipped as a whole and reported in `status()` (`/healthz`),
 * `xzq_cda_documents_rejected_total` and a log line with the file name and the rule broken.
 */
export class CdaAdapter extends FolderSourceAdapter implements HospitalAdapter {
  readonly kind = 'cda' as const;
  readonly hospitalId: string;
  private codeMap: CodeMap = EMPTY_CODE_MAP;
  protected readonly source: FolderSource;

  constructor(private readonly opts: CdaAdapterOptions) {
    super();
    this.hospitalId = opts.hospitalId;
    const max = opts.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES;
    this.source = new FolderSource({
      dir: opts.documents,
      pattern: /\.xml$/i,
      pollMs: opts.pollMs ?? 1000,
      parse: (name, bytes, mtimeMs) => {
        if (bytes.length > max) throw new TooLarge();
        return this.parse(name, bytes, mtimeMs);
      },
      reasonOf: (e) => (e instanceof CdaParseError ? e.message : e instanceof TooLarge ? `larger than ${max} bytes` : 'unreadable'),
      onRejected: () => opts.metrics?.cdaDocumentsRejected?.inc({ hospital: this.hospitalId }),
      log: opts.log,
      label: 'document folder',
      logMessages: { rejected: 'cda document rejected', unreadable: 'cda document folder problem' },
    });
  }

  /** One document's bytes → its report (exported for the bench: documents/s parsed and mapped). */
  parse(name: string, bytes: Buffer, mtimeMs: number): Candidate[] {
    const source = parseCdaDocument(decodeCda(bytes));
    const ctx = { hospitalId: this.hospitalId, codeMap: this.codeMap, canonicalBase: this.opts.canonicalBase };
    return [{ file: name, fileMtimeMs: mtimeMs, source, mapped: cdaReportToFhir(source, ctx), patientId: cdaPatientId(source) }];
  }

  async start(): Promise<void> {
    this.codeMap = await loadCodeMap(this.opts.codeMap);
    await this.source.start();
  }

  close(): Promise<void> {
    return this.source.close();
  }
}
