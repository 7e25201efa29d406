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
}

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
