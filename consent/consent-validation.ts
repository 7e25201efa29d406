import { createHash } from 'node:crypto';
import type { Consent, ConsentProvision, Period } from '@medplum/fhirtypes';
import { errorEntry, OperationOutcomeError, outcome, type CodeWithStatus } from '../gateway/fhir/outcomes';
import { invalidResource, r4Problems, type ValidationProblem } from '../gateway/fhir/validator';
import {
  CONSENT_CATEGORY_LOINC,
  CONSENT_RESULT_TYPES,
  CONSENT_SCOPE_PRIVACY,
  CONSENT_SCOPE_SYSTEM,
  LOINC_SYSTEM,
  PARTICIPATION_TYPE_SYSTEM,
  RECIPIENT_ROLE,
  RESOURCE_TYPES_SYSTEM,
  recognitionItemSystem,
} from './consent-codes';
import { organizationId } from './consent-decision';
import { parseFhirInstant } from './fhir-time';

/**
 * What a registrar may store (API.md §5), checked before anything is written. Pure: the patient's
 * existence is the caller's to check (it needs the patient index).
 *
 * A Consent is accepted when it is valid R4 and fits the gateway's model: scope patient-privacy,
 * category LOINC 59284-0, a regional patient, a root provision of type permit, periods the right
 * way round (also nested and data periods), recipients that are member hospitals with role IRCP,
 * classes that are result types, codes from the recognition item system. Every problem is reported
 * at once, each naming its field. Elements the gateway cannot honour (`provision.action`,
 * `provision.data`) are refused rather than silently ignored: a consent must mean what it says.
 */

export interface ConsentCheckContext {
  /** configured member hospitals */
  hospitalIds: ReadonlySet<string>;
  canonicalBase: string;
  /** the registrar's hospital: becomes `organization` */
  registrarHospital: string;
  /** POST creates (status active only); PUT updates (active or inactive) */
  method: 'POST' | 'PUT';
  /**
   * When the consent is being recorded: its dates are checked against it (docs/consent.md §2).
   * Absent only where no recording happens (checking examples).
   */
  now?: Date;
  /** PUT: the version being replaced; dates it already carried are not checked again */
  previous?: Consent;
}

/** Clock skew allowed between a HIS and the gateway. */
export const CONSENT_CLOCK_SKEW_MS = 5 * 60_000;
/** A consent is recorded the day it is signed: its `dateTime` may be at most this much earlier. */
export const CONSENT_RECORD_WITHIN_MS = 24 * 3_600_000;

export interface CheckedConsent {
  /** the consent as it will be stored (organization set, patient reference normalised, no id/meta) */
  consent: Consent;
  /** regional patient id */
  patientId: string;
}

/** 403 naming a field: a registrar acting for another hospital. `errorCode` is a catalogued 403 code. */
export function forbiddenField(text: string, expression: string, errorCode: CodeWithStatus<403>): OperationOutcomeError {
  const { severity, issue } = errorEntry(errorCode);
  return new OperationOutcomeError(403, outcome(severity, issue, text, { errorCode, expression: [expression] }));
}

/**
 * Check and normalise a posted Consent. Throws a 422 naming every problem (nothing may be stored
 * then), or a 403 when `organization` names a hospital other than the registrar's.
 */
export function checkConsent(body: unknown, ctx: ConsentCheckContext): CheckedConsent {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidResource([{ text: 'The body must be a FHIR Consent resource (a JSON object)', expression: 'Consent', code: 'structure' }]);
  }
  const raw = body as Record<string, unknown>;
  if (raw.resourceType !== 'Consent') {
    const got = typeof raw.resourceType === 'string' ? raw.resourceType.slice(0, 40) : 'no resourceType';
    throw invalidResource([{ text: `Expected a Consent resource, got ${got}`, expression: 'resourceType', code: 'structure' }], 'not-a-consent');
  }
  const given = raw as unknown as Consent;
  const foreign = (given.organization ?? []).find((o) => organizationId(o.reference) !== ctx.registrarHospital);
  if (foreign) {
    throw forbiddenField(
      'A registrar records consents for its own hospital only: Consent.organization must be absent or name the registrar\'s hospital',
      'Consent.organization',
      'foreign-organization',
    );
  }
  // Server-managed: the store sets id and meta; organization is the registrar's hospital.
  const { id: _id, meta: _meta, ...rest } = given;
  const consent: Consent = { ...rest, organization: [{ reference: `Organization/${ctx.registrarHospital}` }] };

  const problems: ValidationProblem[] = [...r4Problems(consent)];
  const patientId = checkPatient(consent, problems);
  if (patientId) consent.patient = { ...consent.patient, reference: `Patient/${patientId}` };
  checkModel(consent, ctx, problems);
  if (ctx.now) checkDates(consent, ctx.now, ctx.previous, problems);
  if (!problems.length) checkEvidence(consent, problems);
  if (problems.length) throw invalidResource(problems, 'invalid-consent');
  return { consent, patientId: patientId! };
}

function checkPatient(c: Consent, problems: ValidationProblem[]): string | undefined {
  if (!c.patient) {
    problems.push({ text: 'Consent.patient is required: Patient/<regional id>', expression: 'Consent.patient', code: 'required', errorCode: 'patient-required' });
    return undefined;
  }
  const m = /^(?:https?:\/\/\S+\/)?Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(c.patient.reference ?? '');
  if (!m) {
    problems.push({
      text: 'Consent.patient.reference must be Patient/<regional id> (look the resident up with GET /Patient?identifier=…)',
      expression: 'Consent.patient.reference',
      code: 'value',
    });
    return undefined;
  }
  return m[1];
}

function checkModel(c: Consent, ctx: ConsentCheckContext, problems: ValidationProblem[]): void {
  const statuses = ctx.method === 'POST' ? ['active'] : ['active', 'inactive'];
  if (typeof c.status === 'string' && !statuses.includes(c.status)) {
    problems.push({
      text: `Consent.status must be ${statuses.join(' or ')}${ctx.method === 'PUT' ? ' (inactive withdraws the consent)' : ''}`,
      expression: 'Consent.status',
      code: 'value',
    });
  }
  if (c.scope && !c.scope.coding?.some((x) => x.system === CONSENT_SCOPE_SYSTEM && x.code === CONSENT_SCOPE_PRIVACY)) {
    problems.push({ text: `Consent.scope must be ${CONSENT_SCOPE_SYSTEM}|${CONSENT_SCOPE_PRIVACY}`, expression: 'Consent.scope', code: 'value' });
  }
  if (c.category && !c.category.some((cc) => cc.coding?.some((x) => x.system === LOINC_SYSTEM && x.code === CONSENT_CATEGORY_LOINC))) {
    problems.push({ text: `Consent.category must include ${LOINC_SYSTEM}|${CONSENT_CATEGORY_LOINC}`, expression: 'Consent.category', code: 'value' });
  }
  if (!c.provision) {
    problems.push({ text: 'Consent.provision is required: a root provision of type permit', expression: 'Consent.provision', code: 'required' });
    return;
  }
  if (c.provision.type !== 'permit') {
    problems.push({
      text: 'Consent.provision.type must be permit: the root says what is shared; put exceptions in nested deny provisions',
      expression: 'Consent.provision.type',
      code: 'value',
      errorCode: 'root-not-permit',
    });
  }
  checkProvision(c.provision, 'Consent.provision', ctx, problems);
}

/**
 * A consent is evidence of what the resident agreed to, when: its `dateTime` (when it was signed) is
 * at most a day before it is recorded and not after; a `provision.period` (root or nested) does not
 * start before it is recorded — a consent cannot reach back over accesses already made. A date-only
 * start covers its whole day, so today is fine. Absent `dateTime` becomes the recording time. A PUT
 * does not re-check dates the stored version already had (a withdrawal keeps its signing date).
 */
function checkDates(c: Consent, now: Date, previous: Consent | undefined, problems: ValidationProblem[]): void {
  const t = now.getTime();
  if (c.dateTime === undefined) c.dateTime = now.toISOString();
  else if (c.dateTime !== previous?.dateTime) {
    const signed = parseFhirInstant(c.dateTime, 'start');
    if (signed > t + CONSENT_CLOCK_SKEW_MS) {
      problems.push({ text: 'Consent.dateTime is in the future: record a consent once it is signed', expression: 'Consent.dateTime', code: 'value', errorCode: 'consent-future-dated' });
    } else if (parseFhirInstant(c.dateTime, 'end') < t - CONSENT_RECORD_WITHIN_MS) {
      problems.push({
        text: 'Consent.dateTime is more than 24 hours ago: a consent is recorded the day it is signed (have the resident sign again)',
        expression: 'Consent.dateTime',
        code: 'value',
        errorCode: 'consent-backdated',
      });
    }
  }
  const before = new Set(previous ? periodStarts(previous.provision, 'Consent.provision').map(([path, v]) => `${path}=${v}`) : []);
  for (const [path, start] of periodStarts(c.provision, 'Consent.provision')) {
    if (before.has(`${path}=${start}`)) continue;
    if (parseFhirInstant(start, 'end') < t - CONSENT_CLOCK_SKEW_MS) {
      problems.push({ text: `${path}.period.start is in the past: a consent applies from when it is recorded`, expression: `${path}.period`, code: 'value', errorCode: 'period-starts-in-past' });
    }
  }
}

function periodStarts(p: ConsentProvision | undefined, path: string): Array<[string, string]> {
  if (!p || typeof p !== 'object') return [];
  const own: Array<[string, string]> = p.period?.start ? [[path, p.period.start]] : [];
  return [...own, ...(p.provision ?? []).flatMap((n, i) => periodStarts(n, `${path}.provision[${i}]`))];
}

/**
 * The signed form, when attached (`sourceAttachment` with `data`), is kept with its SHA-1 (FHIR
 * Attachment.hash, base64) and size, so the stored consent can be shown to match the paper; a hash
 * that does not match the data is refused. A `sourceReference` or a `url` is kept as given.
 */
function checkEvidence(c: Consent, problems: ValidationProblem[]): void {
  const a = c.sourceAttachment;
  if (!a?.data) return;
  const bytes = Buffer.from(a.data, 'base64');
  const hash = createHash('sha1').update(bytes).digest('base64');
  if (a.hash !== undefined && a.hash !== hash) {
    problems.push({ text: 'Consent.sourceAttachment.hash is not the SHA-1 (base64) of its data', expression: 'Consent.sourceAttachment.hash', code: 'value', errorCode: 'evidence-hash-mismatch' });
    return;
  }
  c.sourceAttachment = { ...a, hash, size: bytes.length };
}

function checkPeriod(p: Period | undefined, path: string, problems: ValidationProblem[]): void {
  if (!p?.start || !p.end) return;
  const start = parseFhirInstant(p.start, 'start');
  const end = parseFhirInstant(p.end, 'end');
  if (start > end) {
    problems.push({ text: `${path}: start is after end`, expression: path, code: 'value', errorCode: 'period-reversed' });
  }
}

function checkProvision(p: ConsentProvision, path: string, ctx: ConsentCheckContext, problems: ValidationProblem[]): void {
  if (typeof p !== 'object' || p === null) return; // structure already reported by the R4 validator
  checkPeriod(p.period, `${path}.period`, problems);
  checkPeriod(p.dataPeriod, `${path}.dataPeriod`, problems);
  (p.actor ?? []).forEach((a, i) => {
    const at = `${path}.actor[${i}]`;
    if (!a.role?.coding?.some((x) => x.system === PARTICIPATION_TYPE_SYSTEM && x.code === RECIPIENT_ROLE)) {
      problems.push({ text: `${at}.role must be ${PARTICIPATION_TYPE_SYSTEM}|${RECIPIENT_ROLE} (the hospital that may receive)`, expression: `${at}.role`, code: 'value' });
    }
    const id = organizationId(a.reference?.reference);
    if (!id || !ctx.hospitalIds.has(id)) {
      problems.push({ text: `${at}.reference must be a member hospital, Organization/<hospital id>`, expression: `${at}.reference`, code: 'value', errorCode: 'unknown-actor' });
    }
  });
  (p.class ?? []).forEach((k, i) => {
    const types: readonly string[] = CONSENT_RESULT_TYPES;
    if (k.system !== RESOURCE_TYPES_SYSTEM || !types.includes(k.code ?? '')) {
      problems.push({
        text: `${path}.class[${i}] must be ${RESOURCE_TYPES_SYSTEM}| one of ${CONSENT_RESULT_TYPES.join(', ')}`,
        expression: `${path}.class[${i}]`,
        code: 'value',
      });
    }
  });
  const itemSystem = recognitionItemSystem(ctx.canonicalBase);
  (p.code ?? []).forEach((cc, i) => {
    if (!cc.coding?.length || !cc.coding.every((x) => x.system === itemSystem && x.code)) {
      problems.push({ text: `${path}.code[${i}] must be recognition items: system ${itemSystem}`, expression: `${path}.code[${i}]`, code: 'value' });
    }
  });
  (p.securityLabel ?? []).forEach((l, i) => {
    if (!l.code) problems.push({ text: `${path}.securityLabel[${i}].code is required`, expression: `${path}.securityLabel[${i}]`, code: 'required' });
  });
  if (p.action?.length) {
    problems.push({ text: `${path}.action is not supported: a consent here governs access to results`, expression: `${path}.action`, code: 'not-supported' });
  }
  if (p.data?.length) {
    problems.push({ text: `${path}.data is not supported: limit by class, code, dataPeriod or securityLabel`, expression: `${path}.data`, code: 'not-supported' });
  }
  (p.provision ?? []).forEach((n, i) => checkProvision(n, `${path}.provision[${i}]`, ctx, problems));
}
