import type { Resource } from '@medplum/fhirtypes';
import { Readable } from 'node:stream';
import type { AccessRecord, Requester } from '../context';
import type { AccessRequirement } from '../auth/contract';

/**
 * The framework-free request every handler sees (Medplum's FhirRequest idea): express stays in
 * gateway/http/express-app.ts; handlers return data or throw an OperationOutcomeError.
 */
export interface FhirRequest {
  method: string;
  /** path parameters (`:id`, `:type`) */
  params: Record<string, string>;
  /** query (and, for POST _search, form) parameters; repeated names keep every value */
  query: Record<string, string[]>;
  body: unknown;
  /** lower-case header names */
  headers: Record<string, string | undefined>;
  /** the caller, once authenticated; undefined on open routes and before auth */
  requester?: Requester;
  /** what this request touched, for the audit trail */
  record: AccessRecord;
  /** the request line as received (path and query), for the audit entity (base64, size-capped there) */
  originalUrl: string;
  remoteAddress?: string;
}

/**
 * A body passed through as it arrives, never held whole (DICOMweb images from a PACS): the
 * dispatcher sends it only once the request's audit record is stored, and destroys it otherwise.
 */
export interface StreamBody {
  stream: Readable;
}

export function isStreamBody(body: unknown): body is StreamBody {
  return typeof body === 'object' && body !== null && (body as StreamBody).stream instanceof Readable;
}

export interface FhirResponse {
  status?: number;
  /** a FHIR resource, or plain JSON (OAuth endpoints), or text (metrics), or bytes (a PDF), or a stream (DICOMweb) */
  body: Resource | Record<string, unknown> | string | Buffer | StreamBody;
  contentType?: string;
  headers?: Record<string, string>;
}

/**
 * What a route needs: `none` (open: metadata, smart-configuration, healthz, token endpoint) or a
 * token with a SMART v2 scope `system/<resource>.<permission>` and/or one of the roles.
 */
export type RouteAccess =
  | { kind: 'none' }
  | ({ kind: 'token' } & AccessRequirement)
  /** a CDS Hooks client JWT whose `aud` is the CDS service's URL (`/cds-services/:id`, also for its feedback) */
  | ({ kind: 'cds-client' } & AccessRequirement);

/** FHIR search parameter types (R4 `search-param-type`), as the CapabilityStatement names them. */
export type SearchParamType = 'number' | 'date' | 'string' | 'token' | 'reference' | 'composite' | 'quantity' | 'uri' | 'special';

/** A search parameter a search route applies, as `GET /metadata` declares it. */
export interface SearchParamDeclaration {
  name: string;
  type: SearchParamType;
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /** express path, e.g. `/DiagnosticReport/:id` */
  path: string;
  /** the audit subtype: restful interaction (`search-type`, `read`, …) or operation (`$verify`) */
  interaction: string;
  resourceType?: string;
  access: RouteAccess;
  /** false only for routes that touch nothing worth an audit record (healthz, metadata, smart-configuration) */
  audited: boolean;
  /**
   * false: an audited route whose requests never wait for admission (gateway/http/admission.ts):
   * metrics scrapes, which must see a busy gateway instead of queueing behind its searches; the
   * OAuth and sign-in endpoints, which hold no patient data (auth-routes.ts says why); refusals that
   * read nothing. Routes with nothing to audit never wait either.
   */
  admitted?: false;
  /** body parsing: `json` (FHIR JSON, default for POST/PUT), `form` (x-www-form-urlencoded), `none` */
  body?: 'json' | 'form' | 'none';
  /**
   * `search-type` routes: the parameters the handler applies, each of them also accepted under
   * `Prefer: handling=strict`. The CapabilityStatement declares exactly these (gateway/http/routes/capability.ts).
   */
  searchParams?: readonly SearchParamDeclaration[];
  /** `search-type` routes: the `_include` values the handler applies */
  searchInclude?: readonly string[];
  /**
   * The route exists only to refuse: every request gets a 405 OperationOutcome (and an audit record)
   * instead of express's bare 404. The CapabilityStatement does not declare it.
   */
  refusesAll?: true;
  handler(req: FhirRequest): Promise<FhirResponse>;
}
