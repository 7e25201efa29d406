import type { OperationOutcomeIssue } from '@medplum/fhirtypes';

/**
 * The gateway's stable error codes, every one of them: the code a HIS branches on
 * (`issue.details.coding[0].code`, system `<canonicalBase>/CodeSystem/gateway-error`, API.md §4),
 * with the HTTP status of the answer that carries it, the issue's severity and FHIR issue type, and
 * what it means. The builders of gateway/fhir/outcomes.ts take severity and issue type from here and
 * accept, for each status, only the codes catalogued with that status, so a misspelt code or one
 * used with the wrong status does not compile.
 *
 * `text` says what the code means (docs/errors.md lists it); the message a response carries is the
 * throw site's, which names the parameter or field. test/unit/gateway/fhir/error-catalogue.test.ts
 * checks that every code the source uses is here and that docs/errors.md lists exactly these.
 */
export interface ErrorEntry {
  /** the HTTP status of an answer refused with this code; 200 for a code only ever seen as an outcome entry of a 200 answer */
  readonly status: number;
  /** other statuses the same code is used with (one code, one meaning, two places it is reported) */
  readonly alsoStatus?: readonly number[];
  /** the issue's severity when the code refuses a request (`error` for every 4xx and 5xx) */
  readonly severity: OperationOutcomeIssue['severity'];
  /** the FHIR issue type (`issue.code`); for a 422 naming problems, each problem may give a more specific one */
  readonly issue: OperationOutcomeIssue['code'];
  /** also reported, with this severity, as an outcome entry of a 200 Bundle or Parameters (partial results, API.md §4) */
  readonly partial?: 'warning' | 'information';
  /** what the code means, for docs/errors.md */
  readonly text: string;
}

export const ERRORS = {
  // 400: a parameter, header or body the gateway cannot use; `expression` names it.
  'bad-request': { status: 400, severity: 'error', issue: 'invalid', text: 'A parameter, header or body the gateway cannot use (the general 400 when no more specific code applies)' },
  'malformed-json': { status: 400, severity: 'error', issue: 'invalid', text: 'The request body is not valid JSON' },
  'unknown-parameter': { status: 400, severity: 'error', issue: 'invalid', text: 'A search parameter the search does not apply (unknown, or a value it does not support such as another `_include`), under `Prefer: handling=strict`; without it the search answers and reports `ignored-parameter`' },
  'duplicate-parameter': { status: 400, severity: 'error', issue: 'invalid', text: 'A parameter that may be given once is given more than once' },
  'invalid-parameter': { status: 400, severity: 'error', issue: 'invalid', text: 'An operation parameter has the wrong value type (e.g. valueString where valueCode is needed)' },
  'parameter-required': { status: 400, severity: 'error', issue: 'invalid', text: 'A required operation parameter is missing' },
  'invalid-body': { status: 400, severity: 'error', issue: 'invalid', text: 'The body of an operation is not a FHIR Parameters resource with named parameters' },
  'invalid-date': { status: 400, severity: 'error', issue: 'invalid', text: 'A date or dateTime parameter is malformed: not a real date, a missing time or zone, or an unsupported prefix' },
  'date-in-future': { status: 400, severity: 'error', issue: 'invalid', text: 'A date that must be in the past is in the future' },
  'period-beyond-retention': { status: 400, severity: 'error', issue: 'invalid', text: 'An access report period that starts before the audit retention window (`audit.retentionDays`): older events may be archived, so the report could not be complete' },
  'invalid-period': { status: 400, severity: 'error', issue: 'invalid', text: 'A period whose start (`from`) is not before its end (`to`)' },
  'bad-count': { status: 400, severity: 'error', issue: 'invalid', text: '`_count` is not a whole number from 1 to the page maximum' },
  'patient-required': {
    status: 400,
    alsoStatus: [422],
    severity: 'error',
    issue: 'invalid',
    text: 'No patient is named: the `patient` parameter of a search (400), or `Consent.patient` of a posted Consent (422)',
  },
  'identifier-required': { status: 400, severity: 'error', issue: 'invalid', text: 'A patient identifier (`identifier`, `sourceIdentifier`) is required' },
  'item-required': { status: 400, severity: 'error', issue: 'invalid', text: 'At least one recognition catalog `item` is required' },
  'unknown-system': { status: 400, alsoStatus: [422], severity: 'error', issue: 'invalid', text: "An identifier system that is neither the national id nor a member hospital's record number system (400 in a parameter, 422 in a fed Patient)" },
  'national-id-format': { status: 400, alsoStatus: [422], severity: 'error', issue: 'invalid', text: 'A national id that is not 17 digits and a check character (400 in a parameter, 422 in a fed Patient)' },
  'national-id-birth-date': { status: 400, alsoStatus: [422], severity: 'error', issue: 'invalid', text: 'A national id whose birth date is not a real date (400 in a parameter, 422 in a fed Patient)' },
  'national-id-check-digit': { status: 400, alsoStatus: [422], severity: 'error', issue: 'invalid', text: 'A national id whose check character is wrong (400 in a parameter, 422 in a fed Patient)' },
  'unknown-hospital': { status: 400, severity: 'error', issue: 'invalid', text: 'A hospital id that is not a member hospital' },
  'unknown-item': { status: 400, severity: 'error', issue: 'invalid', text: 'A recognition catalog item code the catalog does not have' },
  'invalid-reference': { status: 400, severity: 'error', issue: 'invalid', text: 'A reference that is not to a result (DiagnosticReport, Observation or ImagingStudy)' },
  'invalid-decision': { status: 400, severity: 'error', issue: 'invalid', text: 'A recognition decision other than `accepted` or `retested`' },
  'invalid-reason': { status: 400, severity: 'error', issue: 'invalid', text: 'A retest reason that is not one of the catalogued reasons' },
  'reason-required': { status: 400, severity: 'error', issue: 'invalid', text: 'A `retested` decision without a reason' },
  'reason-not-allowed': { status: 400, severity: 'error', issue: 'invalid', text: 'A reason given with an `accepted` decision' },
  'note-required': { status: 400, severity: 'error', issue: 'invalid', text: 'Reason `other` without a note saying what it was' },
  'note-too-long': { status: 400, severity: 'error', issue: 'invalid', text: 'A note longer than the maximum length' },
  'id-mismatch': { status: 400, severity: 'error', issue: 'invalid', text: 'The id in the body differs from the id in the URL' },
  'invalid-dicom-uid': { status: 400, severity: 'error', issue: 'invalid', text: 'A DICOMweb path whose study, series or instance UID, or frame list, is not a DICOM UID (digits and dots, at most 64), or that is not a supported WADO-RS path' },

  // 401: no usable token (always with `WWW-Authenticate: Bearer`).
  unauthorized: { status: 401, severity: 'error', issue: 'login', text: 'No bearer token, or one that is expired, forged, for another audience or of a removed client' },

  // 403: authenticated, but not allowed.
  forbidden: { status: 403, severity: 'error', issue: 'forbidden', text: 'Access denied (the general 403 when no more specific code applies)' },
  'role-required': { status: 403, severity: 'error', issue: 'forbidden', text: 'The token lacks every role the request needs' },
  'insufficient-scope': { status: 403, severity: 'error', issue: 'forbidden', text: 'The token lacks the SMART scope the request needs' },
  'consent-required': { status: 403, severity: 'error', issue: 'forbidden', text: "No consent of the patient permits the requesting hospital (or the requester is not a member hospital's)" },
  'consent-withheld': { status: 403, severity: 'error', issue: 'forbidden', text: "A read of a single result the patient's consent withholds from the requester" },
  'registrar-hospital-required': { status: 403, severity: 'error', issue: 'forbidden', text: "Consents are recorded only by a member hospital's registrar" },
  'hospital-required': { status: 403, severity: 'error', issue: 'forbidden', text: "The operation is made only by a member hospital's clinicians" },
  'foreign-hospital': { status: 403, severity: 'error', issue: 'forbidden', text: "A recognition decision that names a requesting hospital (`requestingHospital` or `hospital`, in the body or the query) other than the token's: decisions are recorded for the caller's own hospital only" },
  'not-own-resident': { status: 403, severity: 'error', issue: 'forbidden', text: "`Patient/$merge`, `$unmerge` or `$access-report` by a registrar for residents without a record at the registrar's hospital" },
  'foreign-mrn': { status: 403, severity: 'error', issue: 'forbidden', text: "An identity feed with a record number of another hospital: each hospital feeds its own" },
  'foreign-organization': { status: 403, severity: 'error', issue: 'forbidden', text: "A Consent whose `organization` names a hospital other than the registrar's" },
  'foreign-consent': { status: 403, severity: 'error', issue: 'forbidden', text: 'A change to a consent another hospital recorded' },
  'not-registrar-patient': { status: 403, severity: 'error', issue: 'forbidden', text: "A consent recorded for a resident who has no identity at the registrar's hospital" },

  // 404
  'not-found': { status: 404, severity: 'error', issue: 'not-found', text: 'The resource is not known (the general 404)' },
  'unknown-endpoint': { status: 404, severity: 'error', issue: 'not-found', text: 'No such endpoint' },
  'patient-not-found': { status: 404, severity: 'error', issue: 'not-found', text: 'No regional patient is known by the identifier given (IHE PIXm)' },

  // 405, 406, 412, 413, 415
  'method-not-allowed': { status: 405, severity: 'error', issue: 'not-supported', text: 'The endpoint does not support the method (e.g. DELETE of a consent, writes of AuditEvents)' },
  'not-acceptable': { status: 406, severity: 'error', issue: 'not-supported', text: 'The `Accept` header asks for a format the gateway does not produce' },
  'duplicate-mrn': { status: 409, severity: 'error', issue: 'conflict', text: "An identity feed naming a record number that the hospital already uses for another resident" },
  'identity-conflict': { status: 409, severity: 'error', issue: 'conflict', text: 'An identity feed that would give a resident a national id another regional patient already has: merge the two (`Patient/$merge`)' },
  'version-conflict': { status: 412, severity: 'error', issue: 'conflict', text: 'The `If-Match` version is not the current one: read again and resend' },
  'payload-too-large': { status: 413, severity: 'error', issue: 'too-long', text: 'The request body exceeds 1 MiB' },
  'unsupported-media-type': { status: 415, severity: 'error', issue: 'not-supported', text: 'A body in a media type the endpoint does not read' },

  // 422: a well-formed body the gateway cannot accept; for resources, one issue per problem.
  'invalid-resource': { status: 422, severity: 'error', issue: 'invalid', text: 'The resource is not valid FHIR R4 (the general 422)' },
  'not-a-consent': { status: 422, severity: 'error', issue: 'structure', text: 'The body posted to /Consent is not a Consent resource' },
  'invalid-consent': { status: 422, severity: 'error', issue: 'invalid', text: "A Consent that is not valid R4 or does not fit the gateway's consent model (each problem an issue)" },
  'unknown-patient': { status: 422, severity: 'error', issue: 'value', text: 'A Consent, `$merge` or `$unmerge` for a patient the regional index does not know' },
  'merge-into-self': { status: 422, severity: 'error', issue: 'business-rule', text: '`Patient/$merge` with the same patient as source and target' },
  'patient-merged': { status: 422, severity: 'error', issue: 'business-rule', text: '`Patient/$merge` of a source that is merged already, or into a target that is merged into another (merge into the survivor); also what prevents cycles' },
  'not-merged': { status: 422, severity: 'error', issue: 'business-rule', text: '`Patient/$unmerge` of a patient that is not merged' },
  'patient-changed': { status: 422, severity: 'error', issue: 'value', text: "An update that changes a consent's patient" },
  'root-not-permit': { status: 422, severity: 'error', issue: 'value', text: 'A Consent whose root provision is not of type `permit`' },
  'period-reversed': { status: 422, severity: 'error', issue: 'value', text: 'A period or data period whose start is after its end' },
  'consent-backdated': { status: 422, severity: 'error', issue: 'value', text: 'A Consent `dateTime` more than 24 hours before it is recorded' },
  'consent-future-dated': { status: 422, severity: 'error', issue: 'value', text: 'A Consent `dateTime` after the moment it is recorded (beyond 5 minutes of clock skew)' },
  'period-starts-in-past': { status: 422, severity: 'error', issue: 'value', text: 'A provision `period` that starts before the consent is recorded' },
  'evidence-hash-mismatch': { status: 422, severity: 'error', issue: 'value', text: 'A `sourceAttachment` whose `hash` is not the SHA-1 of its `data`' },
  'unknown-actor': { status: 422, severity: 'error', issue: 'value', text: 'A provision actor that is not a member hospital' },
  'practitioner-required': { status: 422, severity: 'error', issue: 'processing', text: 'The token names no physician (IUA `subject_id`), and the record must say who decided' },
  'result-not-found': { status: 422, severity: 'error', issue: 'processing', text: "The referenced result is not among the patient's results as the requester sees them" },
  'result-item-mismatch': { status: 422, severity: 'error', issue: 'processing', text: 'The referenced result is not a result of the catalog item' },
  'own-result': { status: 422, severity: 'error', issue: 'processing', text: "The referenced result comes from the requester's own hospital: nothing to recognise" },

  // 429, 500
  'too-many-requests': { status: 429, severity: 'error', issue: 'throttled', text: 'The client exceeded its request rate; retry after `Retry-After` seconds' },
  'internal-error': { status: 500, severity: 'error', issue: 'exception', text: 'An unexpected error; the cause is logged, never returned' },

  // 502: an upstream the gateway proxies (a hospital's PACS) failed to answer.
  'pacs-unavailable': { status: 502, severity: 'error', issue: 'transient', text: "A hospital's PACS refused the connection, failed (5xx) or did not answer within its timeout; no image data was returned" },

  // 503: the gateway or a hospital cannot answer now.
  'report-font-missing': { status: 503, severity: 'error', issue: 'exception', text: 'The PDF access report cannot be made: the CJK font it needs (`fonts-noto-cjk`) is not installed; the JSON report works' },
  unavailable: { status: 503, severity: 'error', issue: 'transient', text: 'A service the request needs is temporarily unavailable: the gateway\'s database (restarting, a connection cut) or another (the general 503); retry after Retry-After' },
  'gateway-busy': { status: 503, severity: 'error', issue: 'transient', text: 'This gateway process has as many requests waiting their turn as it lets wait (`admission.maxQueue`); nothing was read; retry after Retry-After' },
  'audit-unavailable': { status: 503, severity: 'error', issue: 'transient', text: 'The access could not be recorded in the audit trail, so no data is returned' },
  'hospital-timeout': { status: 503, severity: 'error', issue: 'timeout', partial: 'warning', text: 'A hospital did not answer in time' },
  'hospital-transient': { status: 503, severity: 'error', issue: 'transient', partial: 'warning', text: 'A hospital failed in a way that may pass (an HTTP 5xx, a refused connection, an open circuit)' },
  'hospital-exception': { status: 503, severity: 'error', issue: 'exception', partial: 'warning', text: 'A hospital answered with something the gateway cannot use, or failed unexpectedly' },

  // 200: reported beside the answer, never a refusal.
  'consent-suppressed': { status: 200, severity: 'information', issue: 'suppressed', text: "Some results were left out under the patient's consent (one entry, no count and no detail)" },
  'name-search-partial': { status: 200, severity: 'information', issue: 'informational', text: 'A search by name and birth date could not ask some hospitals, whose systems hold no names (one entry naming them): search by national id to reach every hospital' },
  'ignored-parameter': { status: 200, severity: 'warning', issue: 'informational', text: 'Search parameters the search does not apply were ignored (lenient handling, the default): one outcome entry naming them, so the answer is not narrowed by them' },
} as const satisfies Record<string, ErrorEntry>;

type Catalogue = typeof ERRORS;

/** A catalogued error code. */
export type ErrorCode = keyof Catalogue;

/** The statuses a code is used with. */
export type StatusOf<C extends ErrorCode> =
  | Catalogue[C]['status']
  | (Catalogue[C] extends { readonly alsoStatus: readonly (infer S)[] } ? S : never);

/** The codes catalogued with status `S` (e.g. `CodeWithStatus<403>`). */
export type CodeWithStatus<S extends number> = { [C in ErrorCode]: S extends StatusOf<C> ? C : never }[ErrorCode];

/** The codes of a hospital that did not contribute (`hospital-timeout` …), one per failure kind. */
export type HospitalFailureCode = Extract<ErrorCode, `hospital-${string}`>;

/** Every catalogued code. */
export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

/** The catalogue entry of a code. */
export function errorEntry(code: ErrorCode): ErrorEntry {
  return ERRORS[code];
}

/** Every status a code is used with, the main one first. */
export function statusesOf(code: ErrorCode): number[] {
  const e = errorEntry(code);
  return [e.status, ...(e.alsoStatus ?? [])];
}

/** Whether a string is a catalogued code. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERRORS, code);
}
