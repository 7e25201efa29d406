import type { Observation, OperationOutcome } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import type { HospitalAdapter, ResultResource, ResultType } from '../adapters/adapter';
import type { GatewayConfig, HospitalConfig } from './config';
import type { AccessRecord, Clock, Requester } from './context';
import type { Db } from './storage/db';
import type { FhirRequest, Route, RouteAccess } from './http/route';
import type { Metrics } from './metrics';

/**
 * The contracts between the gateway's modules. The composition root (gateway/app.ts) builds one of
 * each and hands them around; nothing is a singleton.
 */

// ---- catalogue and recognition (API.md §6) ----

export interface CatalogItem {
  code: string;
  display: string;
  category: 'lab' | 'imaging';
  /** LOINC codes: the panel's and its member analytes' */
  loinc: string[];
  /** imaging: DICOM modality (CT, MR, DX, US, …) */
  modality?: string;
  /** imaging: local or national study codes that identify the item (with the modality) */
  studyCodes?: string[];
  /** imaging: body part words/codes that tell one CT item from another */
  bodySite?: string[];
  validityDays: number;
  sensitive?: boolean;
  priceCny?: number;
}

export interface RecognitionService {
  readonly catalog: readonly CatalogItem[];
  itemByCode(code: string): CatalogItem | undefined;
  /** which catalog item a result is; a report may match through its member observations */
  matchItem(resource: ResultResource, members?: Observation[]): CatalogItem | undefined;
  /** adds the recognition extension, as judged for the requesting hospital, to `resource` */
  annotate(resource: ResultResource, item: CatalogItem | undefined, sourceHospitalId: string, requesterHospitalId: string | undefined, now: Date): void;
  routes(): Route[];
}

// ---- consent (API.md §5) ----

/** What consent looks at in one result. */
export interface ResultFacts {
  resourceType: ResultType;
  hospitalId: string;
  /** the clinically relevant time (effective/issued/started), ISO 8601 */
  date?: string;
  catalogItem?: string;
  /** security label codes on the result (`R`, `HIV`, …), from meta.security */
  securityLabels: string[];
}

export interface ConsentGate {
  /** true when only break-glass lets this requester in (no consent permits) */
  readonly breakGlass: boolean;
  permits(facts: ResultFacts): boolean;
}

export interface ConsentService {
  /** judge a requester's access to one patient; throws a 403 OperationOutcomeError when nothing permits */
  gateFor(patientId: string, requester: Requester): Promise<ConsentGate>;
  routes(): Route[];
}

// ---- audit (API.md §7) ----

export interface AuditEntry {
  route?: Route;
  req: FhirRequest;
  status: number;
  /** the caller, when known (also for refused requests where the token named a client) */
  requester?: Requester;
  /** the client an unauthenticated request claimed (token endpoint) */
  claimedClientId?: string;
  at: Date;
}

export interface AuditService {
  /** build and durably store the AuditEvent(s) for one answered request; throws when it cannot */
  recordRequest(entry: AuditEntry): Promise<void>;
  routes(): Route[];
  close(): Promise<void>;
}

// ---- auth (API.md §3) ----

export interface AuthService {
  init(): Promise<void>;
  /** a verified Requester from `Authorization: Bearer …`; throws a 401 OperationOutcomeError */
  authenticate(authorization: string | undefined): Promise<Requester>;
  /** throws a 403 OperationOutcomeError when the requester lacks what the route needs */
  authorize(requester: Requester, access: RouteAccess): void;
  routes(): Route[];
}

// ---- patient index (API.md §4) ----

export interface PatientLink {
  hospitalId: string;
  localId: string;
  mrns: string[];
}

export interface RegionalPatient {
  id: string;
  nationalId: string;
  links: PatientLink[];
}

/**
 * What asking the hospitals about a resident found out, so a search made right after does not ask
 * (and wait for) the same hospitals twice.
 */
export interface PatientLookup {
  /** hospitals that answered that they do not know the resident */
  unknownAt: Set<string>;
  /** hospitals that failed to answer, with the failure as a Bundle outcome */
  failedAt: Map<string, OperationOutcome>;
  /** hospitals still being asked (their answer, or their failure as a HospitalCallError) */
  pendingAt?: Map<string, Promise<import('../adapters/adapter').LocalPatient | null>>;
}

export interface PatientIndex {
  /** the regional patient for a national id (already check-digit-validated), asking hospitals when needed; null when no hospital knows them */
  resolveNationalId(nationalId: string, opts?: { refresh?: boolean }): Promise<RegionalPatient | null>;
  get(regionalId: string): Promise<RegionalPatient | null>;
  /** remember that a hospital knows the patient under a local id */
  link(patientId: string, link: PatientLink): Promise<void>;
}

// ---- federated results (API.md §4) ----

export interface FoundResult {
  resource: ResultResource;
  hospitalId: string;
  item?: CatalogItem;
}

export interface PatientResults {
  results: FoundResult[];
  /** one OperationOutcome per hospital that failed */
  failures: OperationOutcome[];
  /** consent withheld something */
  suppressed: boolean;
}

export interface ResultsService {
  /**
   * The patient's results of the given types from every hospital (or those named), in parallel,
   * with consent applied and every result annotated (ids, meta.source, labels, recognition).
   * Records patients, hospitals returned and break-glass in `record`.
   */
  patientResults(
    patient: RegionalPatient,
    types: readonly ResultType[],
    requester: Requester,
    record: AccessRecord,
    opts?: {
      hospitals?: string[];
      preflight?: PatientLookup;
      /** also return the member Observations of the reports found (for `_include`) */
      includeMembers?: boolean;
    },
  ): Promise<PatientResults>;
}

export interface HospitalEntry {
  config: HospitalConfig;
  adapter: HospitalAdapter;
}

export interface Services {
  config: GatewayConfig;
  db: Db;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  hospitals: Map<string, HospitalEntry>;
  patientIndex: PatientIndex;
  auth: AuthService;
  consent: ConsentService;
  audit: AuditService;
  recognition: RecognitionService;
  results: ResultsService;
  /** per-client request limit; absent when not configured */
  rateLimiter?: { take(clientId: string): void };
}
