import type { Observation } from '@medplum/fhirtypes';
import { AdapterHealth } from '../common/adapter-health';
import knex, { type Knex } from 'knex';
import type { Logger } from 'pino';
import type { AdapterConfig } from '../adapter-config';
import {
  AdapterError,
  type AdapterStatus,
  decodeLocalId,
  type FetchOptions,
  type HospitalAdapter,
  type HospitalResults,
  type LocalPatient,
  type ResultResource,
  type ResultType,
} from '../adapter';
import { raceAbort } from '../common/abort';
import { type CodeMap, EMPTY_CODE_MAP, loadCodeMap } from '../common/code-map';
import { FINDINGS_SUFFIX, IMAGING_REPORT_SUFFIX } from '../common/fhir-builders';
import { IMAGING_COLUMNS, type ImagingRow, imagingRowToFhir, LAB_COLUMNS, type LabRow, labGroupToFhir, labRowsToFhir } from './sql-rows';

type SqlAdapterConfig = Extract<AdapterConfig, { type: 'sql' }>;

export interface SqlAdapterOptions {
  hospitalId: string;
  config: SqlAdapterConfig;
  log: Logger;
}

/** Database error codes that mean "try again later" rather than "this is broken". */
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN',
  'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_CANTOPEN', 'SQLITE_IOERR',
  '57P01', '57P02', '57P03', '53300', '53400', '40001', '40P01',
]);

/**
 * An AdapterError for a database failure, without the SQL text or its bindings (knex puts both in
 * `message`; the bindings are national ids).
 */
export function classifyDatabaseError(e: unknown): AdapterError {
  if (e instanceof AdapterError) return e;
  const err = e as { code?: string; name?: string };
  const code = typeof err?.code === 'string' ? err.code : undefined;
  if (err?.name === 'KnexTimeoutError') return new AdapterError('front-end database: no connection available in time', 'transient');
  if (code && (TRANSIENT_CODES.has(code) || code.startsWith('08'))) return new AdapterError(`front-end database unavailable (${code})`, 'transient');
  return new AdapterError(`front-end database query failed${code ? ` (${code})` : ''}`, 'exception');
}

/**
 * The `sql` adapter (API.md §2): reads the hospital's front-end database views through knex
 * (sqlite3 or pg), with parameterised queries only. The views' names are configuration; their
 * columns are the contract.
 */
export class SqlAdapter implements HospitalAdapter {
  readonly kind = 'sql' as const;
  readonly hospitalId: string;
  private db?: Knex;
  private codeMap: CodeMap = EMPTY_CODE_MAP;
  private readonly labView: string;
  private readonly imagingView: string;
  private readonly health = new AdapterHealth();
  private healthy = true;

  constructor(private readonly opts: SqlAdapterOptions) {
    this.hospitalId = opts.hospitalId;
    this.labView = opts.config.labView ?? 'lab_results';
    this.imagingView = opts.config.imagingView ?? 'imaging_reports';
  }

  async start(): Promise<void> {
    this.codeMap = await loadCodeMap(this.opts.config.codeMap);
    // the config is frozen; knex keeps and may amend what it is given
    const conn = structuredClone(this.opts.config.connection) as Knex.Config & { client: string };
    // knex logs to the console by default, sometimes with SQL text: keep it in our log, without text
    const quiet = (level: string) => () => this.opts.log.debug(`knex ${level} (details withheld)`);
    this.db = knex({
      ...(conn.client === 'sqlite3' ? { useNullAsDefault: true } : { pool: { min: 0, max: 10 } }),
      ...conn,
      log: { warn: quiet('warning'), error: quiet('error'), deprecate: quiet('deprecation'), debug: quiet('debug') },
    } as Knex.Config);
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    await db?.destroy();
  }

  private get knex(): Knex {
    if (!this.db) throw new AdapterError('adapter not started', 'exception');
    return this.db;
  }

  private get ctx() {
    return { hospitalId: this.hospitalId, codeMap: this.codeMap };
  }

  /** Run one query with the abort signal; failures become classified AdapterErrors. */
  private async run<T>(query: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    try {
      const out = await raceAbort(query(), signal);
      this.healthy = true;
      return out;
    } catch (e) {
      const err = classifyDatabaseError(e);
      if (err.kind !== 'timeout') {
        this.healthy = false;
        this.health.failed(err.message);
        this.opts.log.warn({ kind: err.kind, reason: err.message }, 'sql adapter query failed');
      }
      throw err;
    }
  }

  async findPatient(nationalId: string, opts: FetchOptions): Promise<LocalPatient | null> {
    const db = this.knex;
    const rows = await this.run(
      () =>
        db
          .select('mrn')
          .from(this.labView)
          .where('national_id', nationalId)
          .union((q) => q.select('mrn').from(this.imagingView).where('national_id', nationalId)) as Promise<Array<{ mrn: unknown }>>,
      opts.signal,
    );
    if (!rows.length) return null;
    const mrns = [...new Set(rows.map((r) => (r.mrn === null || r.mrn === undefined ? '' : String(r.mrn).trim())).filter(Boolean))];
    return { localId: nationalId, mrns };
  }

  async fetchResults(patient: LocalPatient, types: readonly ResultType[], opts: FetchOptions): Promise<Partial<HospitalResults>> {
    const db = this.knex;
    const wantReports = types.includes('DiagnosticReport');
    const wantObs = types.includes('Observation') || wantReports;
    const wantStudies = types.includes('ImagingStudy');
    const [labRows, imagingRows] = await Promise.all([
      wantObs
        ? this.run(() => db.select(LAB_COLUMNS).from(this.labView).where('national_id', patient.localId).orderBy('report_no') as Promise<LabRow[]>, opts.signal)
        : Promise.resolve([] as LabRow[]),
      wantReports || wantStudies || wantObs
        ? this.run(() => db.select(IMAGING_COLUMNS).from(this.imagingView).where('national_id', patient.localId) as Promise<ImagingRow[]>, opts.signal)
        : Promise.resolve([] as ImagingRow[]),
    ]);
    const out: Partial<HospitalResults> = {};
    const lab = labRowsToFhir(labRows, this.ctx);
    if (wantReports) out.DiagnosticReport = lab.reports;
    if (wantObs) out.Observation = lab.observations;
    if (wantStudies) out.ImagingStudy = [];
    for (const row of imagingRows) {
      const img = imagingRowToFhir(row, this.ctx);
      if (!img) continue;
      if (wantReports) out.DiagnosticReport!.push(img.report);
      if (wantObs) out.Observation!.push(...img.observations);
      if (wantStudies) out.ImagingStudy!.push(img.study);
    }
    return out;
  }

  async readResult(
    type: ResultType,
    localId: string,
    opts: FetchOptions,
  ): Promise<{ resource: ResultResource; nationalId: string; contained?: Observation[] } | null> {
    const imagingKey = type === 'ImagingStudy' ? localId : stripSuffix(localId, type === 'DiagnosticReport' ? IMAGING_REPORT_SUFFIX : IMAGING_REPORT_SUFFIX + FINDINGS_SUFFIX);
    if (imagingKey !== undefined) {
      const accession = decodeLocalId(imagingKey);
      if (accession === null) return null;
      const db = this.knex;
      const rows = await this.run(
        () => db.select(IMAGING_COLUMNS).from(this.imagingView).where('accession_no', accession).limit(1) as Promise<ImagingRow[]>,
        opts.signal,
      );
      const img = rows[0] && imagingRowToFhir(rows[0], this.ctx);
      const nationalId = rows[0]?.national_id;
      if (!img || !nationalId) return null;
      if (type === 'ImagingStudy') return { resource: img.study, nationalId: String(nationalId) };
      if (type === 'DiagnosticReport') return { resource: img.report, nationalId: String(nationalId), contained: img.observations };
      const obs = img.observations.find((o) => o.id === localId);
      return obs ? { resource: obs, nationalId: String(nationalId) } : null;
    }
    if (type === 'ImagingStudy') return null;
    const key = decodeLocalId(localId);
    if (key === null) return null;
    const reportNo = type === 'DiagnosticReport' ? key : key.split('|')[0];
    const db = this.knex;
    const rows = await this.run(
      () => db.select(LAB_COLUMNS).from(this.labView).where('report_no', reportNo) as Promise<LabRow[]>,
      opts.signal,
    );
    const nationalId = rows[0]?.national_id;
    if (!rows.length || !nationalId) return null;
    const { report, observations } = labGroupToFhir(reportNo, rows, this.ctx);
    if (type === 'DiagnosticReport') return { resource: report, nationalId: String(nationalId), contained: observations };
    const obs = observations.find((o) => o.id === localId);
    return obs ? { resource: obs, nationalId: String(nationalId) } : null;
  }

  status(): AdapterStatus {
    return this.health.status(this.healthy, { labView: this.labView, imagingView: this.imagingView });
  }
}

const stripSuffix = (id: string, suffix: string) => (id.endsWith(suffix) ? id.slice(0, -suffix.length) : undefined);
