import type { Bundle, DiagnosticReport, ImagingStudy, Observation, Patient, Resource } from '@medplum/fhirtypes';
import { AdapterHealth } from '../common/adapter-health';
import type { Logger } from 'pino';
import {
  AdapterError,
  type AdapterStatus,
  type FetchOptions,
  type HospitalAdapter,
  type HospitalResults,
  type LocalPatient,
  type ResultResource,
  type ResultType,
} from '../adapter';
import { type CodeMap, EMPTY_CODE_MAP, loadCodeMap } from '../common/code-map';
import { NATIONAL_ID_SYSTEM, V2_0203 } from '../common/systems';
import { classifyFhirError } from './fhir-errors';
import { isUsableResource, mapDiagnosticReport, mapImagingStudy, mapObservation } from './fhir-mapping';

type FhirKitClient = InstanceType<(typeof import('fhir-kit-client', { with: { 'resolution-mode': 'import' } }))['Client']>;

export interface FhirAdapterOptions {
  hospitalId: string;
  baseUrl: string;
  codeMap?: string;
  log: Logger;
  /** at most this many pages per search (default 100): a server that pages forever is stopped */
  maxPages?: number;
}

/**
 * The `fhir` adapter (API.md §2): the hospital serves FHIR R4. Searches go through fhir-kit-client
 * with the caller's AbortSignal; `next` links are followed (within the hospital's origin, at most
 * `maxPages`). Failures are classified into AdapterError kinds by {@link classifyFhirError}.
 */
export class FhirAdapter implements HospitalAdapter {
  readonly kind = 'fhir' as const;
  readonly hospitalId: string;
  private client?: FhirKitClient;
  private codeMap: CodeMap = EMPTY_CODE_MAP;
  private readonly baseUrl: string;
  private readonly origin: string;
  private readonly maxPages: number;
  private healthy = true;
  private readonly health = new AdapterHealth();

  constructor(private readonly opts: FhirAdapterOptions) {
    this.hospitalId = opts.hospitalId;
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.origin = new URL(this.baseUrl).origin;
    this.maxPages = opts.maxPages ?? 100;
  }

  async start(): Promise<void> {
    this.codeMap = await loadCodeMap(this.opts.codeMap);
    // fhir-kit-client 2 is ESM only, with a named export (no default)
    const { Client } = await import('fhir-kit-client');
    this.client = new Client({ baseUrl: this.baseUrl });
  }

  async close(): Promise<void> {
    this.client = undefined;
  }

  private get fhir(): FhirKitClient {
    if (!this.client) throw new AdapterError('adapter not started', 'exception');
    return this.client;
  }

  /** Run a call against the hospital; failures are classified, remembered and rethrown. */
  private async call<T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> {
    try {
      const out = await work();
      this.healthy = true;
      return out;
    } catch (e) {
      const err = classifyFhirError(e, signal);
      if (err.kind !== 'timeout' || !signal.aborted) {
        this.healthy = false;
        this.health.failed(`${err.kind}: ${err.message}`);
      }
      this.opts.log.debug({ kind: err.kind }, 'fhir hospital call failed');
      throw err;
    }
  }

  /** Every entry of a search, following `next` links. */
  private async searchAll(resourceType: string, searchParams: Record<string, string>, signal: AbortSignal): Promise<Resource[]> {
    const client = this.fhir;
    let bundle = asBundle(await client.search({ resourceType, searchParams, options: { signal } }));
    const out: Resource[] = [];
    for (let page = 1; ; page++) {
      for (const e of bundle.entry ?? []) if (e?.resource) out.push(e.resource);
      const next = bundle.link?.find((l) => l.relation === 'next')?.url;
      if (!next) break;
      if (page >= this.maxPages) {
        this.opts.log.warn({ resourceType, pages: page }, 'fhir hospital search truncated at maxPages');
        break;
      }
      if (!this.sameOrigin(next)) throw new AdapterError('the hospital sent a next link outside its base URL', 'exception');
      type PageBundle = Parameters<FhirKitClient['nextPage']>[0]['bundle'];
      bundle = asBundle(await client.nextPage({ bundle: bundle as unknown as PageBundle, options: { signal } }));
    }
    return out;
  }

  private sameOrigin(url: string): boolean {
    try {
      return new URL(url, this.baseUrl + '/').origin === this.origin;
    } catch {
      return false;
    }
  }

  async findPatient(nationalId: string, opts: FetchOptions): Promise<LocalPatient | null> {
    return this.call(opts.signal, async () => {
      const client = this.fhir;
      const bundle = asBundle(
        await client.search({ resourceType: 'Patient', searchParams: { identifier: `${NATIONAL_ID_SYSTEM}|${nationalId}` }, options: { signal: opts.signal } }),
      );
      const patient = (bundle.entry ?? [])
        .filter((e) => e?.search?.mode !== 'include' && e?.search?.mode !== 'outcome')
        .map((e) => e?.resource)
        .find((r): r is Patient => isUsableResource(r, 'Patient'));
      if (!patient) return null;
      return { localId: patient.id!, mrns: recordNumbers(patient) };
    });
  }

  async findNationalIdsByName(name: string, birthDate: string, opts: FetchOptions): Promise<string[]> {
    return this.call(opts.signal, async () => {
      const bundle = asBundle(await this.fhir.search({ resourceType: 'Patient', searchParams: { name, birthdate: birthDate }, options: { signal: opts.signal } }));
      const ids = new Set<string>();
      for (const e of bundle.entry ?? []) {
        if (e?.search?.mode === 'include' || e?.search?.mode === 'outcome' || !isUsableResource(e?.resource, 'Patient')) continue;
        const p = e.resource as Patient;
        // FHIR's name search matches parts; only an exact full name and the same birth date count here
        const names = (p.name ?? []).flatMap((n) => [n.text, `${n.family ?? ''}${(n.given ?? []).join('')}`]).filter(Boolean);
        if (p.birthDate !== birthDate || !names.includes(name)) continue;
        for (const i of p.identifier ?? []) if (i.system === NATIONAL_ID_SYSTEM && typeof i.value === 'string') ids.add(i.value.toUpperCase());
      }
      return [...ids];
    });
  }

  async fetchResults(patient: LocalPatient, types: readonly ResultType[], opts: FetchOptions): Promise<Partial<HospitalResults>> {
    return this.call(opts.signal, async () => {
      const p = patient.localId;
      const want = (t: ResultType) => types.includes(t);
      const [reports, observations, studies] = await Promise.all([
        want('DiagnosticReport') ? this.searchAll('DiagnosticReport', { patient: p, _include: 'DiagnosticReport:result' }, opts.signal) : [],
        want('Observation') ? this.searchAll('Observation', { patient: p }, opts.signal) : [],
        want('ImagingStudy') ? this.searchAll('ImagingStudy', { patient: p }, opts.signal) : [],
      ]);
      const out: Partial<HospitalResults> = {};
      const seen = new Set<string>();
      const keep = (r: Resource, type: string) => {
        if (!isUsableResource(r, type)) return false;
        const key = `${type}/${r.id}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      };
      if (want('DiagnosticReport')) {
        out.DiagnosticReport = reports.filter((r) => keep(r, 'DiagnosticReport')).map((r) => mapDiagnosticReport(r as DiagnosticReport, this.codeMap, this.baseUrl));
      }
      // included members of the reports travel with them (the gateway matches reports through them)
      const obs = [...observations, ...reports].filter((r) => keep(r, 'Observation'));
      if (want('Observation') || obs.length) out.Observation = obs.map((r) => mapObservation(r as Observation, this.codeMap, this.baseUrl));
      if (want('ImagingStudy')) {
        out.ImagingStudy = studies.filter((r) => keep(r, 'ImagingStudy')).map((r) => mapImagingStudy(r as ImagingStudy, this.codeMap, this.baseUrl));
      }
      return out;
    });
  }

  async readResult(
    type: ResultType,
    localId: string,
    opts: FetchOptions,
  ): Promise<{ resource: ResultResource; nationalId: string; contained?: Observation[] } | null> {
    if (!/^[A-Za-z0-9\-.]{1,64}$/.test(localId)) return null;
    return this.call(opts.signal, async () => {
      const resource = await this.readOrNull(type, localId, opts.signal);
      if (!resource || !isUsableResource(resource, type)) return null;
      const mapped = this.map(resource as ResultResource);
      const subject = (mapped as { subject?: { reference?: string } }).subject?.reference;
      const patientId = /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(subject ?? '')?.[1];
      if (!patientId) return null;
      const members = mapped.resourceType === 'DiagnosticReport' ? memberIds(mapped) : [];
      const [patient, ...obs] = await Promise.all([
        this.readOrNull('Patient', patientId, opts.signal),
        ...members.map((id) => this.readOrNull('Observation', id, opts.signal)),
      ]);
      const nationalId = (patient as Patient | null)?.identifier?.find((i) => i.system === NATIONAL_ID_SYSTEM)?.value;
      if (!nationalId) return null; // without the national id consent cannot be judged
      const out: { resource: ResultResource; nationalId: string; contained?: Observation[] } = { resource: mapped, nationalId };
      if (mapped.resourceType === 'DiagnosticReport') {
        out.contained = obs
          .filter((o): o is Observation => isUsableResource(o, 'Observation'))
          .map((o) => mapObservation(o, this.codeMap, this.baseUrl));
      }
      return out;
    });
  }

  private map(r: ResultResource): ResultResource {
    if (r.resourceType === 'DiagnosticReport') return mapDiagnosticReport(r, this.codeMap, this.baseUrl);
    if (r.resourceType === 'Observation') return mapObservation(r, this.codeMap, this.baseUrl);
    return mapImagingStudy(r, this.codeMap, this.baseUrl);
  }

  private async readOrNull(resourceType: string, id: string, signal: AbortSignal): Promise<Resource | null> {
    try {
      const r = (await this.fhir.read({ resourceType, id, options: { signal } })) as Resource;
      if (!r || typeof r !== 'object' || typeof r.resourceType !== 'string') throw new AdapterError('the hospital answered with something that is not FHIR', 'exception');
      return r;
    } catch (e) {
      const status = (e as { response?: { status?: number } })?.response?.status;
      if (status === 404 || status === 410) return null;
      throw e;
    }
  }

  status(): AdapterStatus {
    return this.health.status(this.healthy);
  }
}

/** A searchset Bundle or an `exception`: a hospital that answers something else answers nonsense. */
function asBundle(x: unknown): Bundle {
  const b = x as Bundle;
  if (!b || typeof b !== 'object' || b.resourceType !== 'Bundle' || (b.entry !== undefined && !Array.isArray(b.entry))) {
    throw new AdapterError('the hospital answered with something that is not a FHIR Bundle', 'exception');
  }
  if (b.link !== undefined && !Array.isArray(b.link)) throw new AdapterError('the hospital answered with a malformed Bundle', 'exception');
  return b;
}

/** Medical record numbers: identifiers typed MR, else every identifier that is not the national id. */
function recordNumbers(p: Patient): string[] {
  const ids = p.identifier ?? [];
  const typed = ids.filter((i) => i.type?.coding?.some((c) => c.code === 'MR' && (!c.system || c.system === V2_0203)));
  const chosen = typed.length ? typed : ids.filter((i) => i.system !== NATIONAL_ID_SYSTEM);
  return [...new Set(chosen.map((i) => i.value).filter((v): v is string => !!v))];
}

function memberIds(dr: DiagnosticReport): string[] {
  return (dr.result ?? [])
    .map((r) => /^Observation\/([A-Za-z0-9\-.]{1,64})$/.exec(r.reference ?? '')?.[1])
    .filter((id): id is string => !!id)
    .slice(0, 200);
}
