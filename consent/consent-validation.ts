import type { Consent, ConsentProvision, Period } from '@medplum/fhirtypes';
import { badRequest, forbidden, unprocessable } from '../gateway/fhir/outcomes';
import { validateR4 } from '../gateway/fhir/validator';

/**
 * What a registrar may store (API.md §5), checked before anything is written: R4-valid, a Consent
 * of scope patient-privacy and category LOINC 59284-0, for a regional patient, a root provision
 * that permits, periods the right way round, recipients that are member hospitals, and the
 * registrar's own hospital as organization. Every problem is named with its field.
 */
export const CONSENT_SCOPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/consentscope';
export const CONSENT_CATEGORY = { system: 'http://loinc.org', code: '59284-0' };

export function checkConsent(
  body: unknown,
  ctx: { hospitalIds: ReadonlySet<string>; registrarHospital: string; method: 'POST' | 'PUT' },
): { consent: Consent; patientId: string } {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('The body must be a FHIR Consent resource');
  const c = body as Consent;
  if (c.resourceType !== 'Consent') throw unprocessable(`Expected a Consent, got ${String((c as { resourceType?: unknown }).resourceType).slice(0, 40)}`, 'resourceType');
  if (!c.patient) throw unprocessable('Consent.patient is required: Patient/<regional id>', 'Consent.patient', 'patient-required');
  validateR4(c);

  const allowed = ctx.method === 'POST' ? ['active'] : ['active', 'inactive'];
  if (!allowed.includes(c.status)) {
    throw unprocessable(`Consent.status must be ${allowed.join(' or ')} (inactive withdraws a stored consent)`, 'Consent.status');
  }
  if (!c.scope?.coding?.some((x) => x.system === CONSENT_SCOPE_SYSTEM && x.code === 'patient-privacy')) {
    throw unprocessable(`Consent.scope must be ${CONSENT_SCOPE_SYSTEM}|patient-privacy`, 'Consent.scope');
  }
  if (!c.category?.some((cc) => cc.coding?.some((x) => x.system === CONSENT_CATEGORY.system && x.code === CONSENT_CATEGORY.code))) {
    throw unprocessable('Consent.category must include LOINC 59284-0', 'Consent.category');
  }
  const ref = c.patient.reference ?? '';
  const m = /^(?:.*\/)?Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(ref);
  if (!m) throw unprocessable('Consent.patient must reference Patient/<regional id>', 'Consent.patient');
  if (!c.provision) throw unprocessable('Consent.provision is required', 'Consent.provision');
  if ((c.provision.type ?? 'permit') !== 'permit') {
    throw unprocessable('The root provision must be of type permit; put exceptions in nested deny provisions', 'Consent.provision.type', 'root-deny');
  }
  checkProvision(c.provision, 'Consent.provision', ctx.hospitalIds);

  const orgs = (c.organization ?? []).map((o) => o.reference?.replace(/^Organization\//, ''));
  if (orgs.some((o) => o !== ctx.registrarHospital)) {
    throw forbidden('A registrar records consents for its own hospital only (Consent.organization)', 'foreign-organization');
  }
  return { consent: c, patientId: m[1] };
}

function checkPeriod(p: Period | undefined, path: string): void {
  if (!p) return;
  for (const k of ['start', 'end'] as const) {
    if (p[k] !== undefined && Number.isNaN(Date.parse(p[k]!))) throw unprocessable(`${path}.${k} is not a date`, `${path}.${k}`);
  }
  if (p.start && p.end && Date.parse(p.start) > Date.parse(p.end)) {
    throw unprocessable(`${path}: start is after end`, path, 'period-reversed');
  }
}

function checkProvision(p: ConsentProvision, path: string, hospitals: ReadonlySet<string>): void {
  checkPeriod(p.period, `${path}.period`);
  checkPeriod(p.dataPeriod, `${path}.dataPeriod`);
  (p.actor ?? []).forEach((a, i) => {
    const ref = a.reference?.reference ?? '';
    const id = /^Organization\/([a-z0-9-]{2,40})$/.exec(ref)?.[1];
    if (!id || !hospitals.has(id)) {
      throw unprocessable(`${path}.actor[${i}].reference must be a member hospital (Organization/<id>)`, `${path}.actor[${i}].reference`, 'unknown-actor');
    }
  });
  (p.provision ?? []).forEach((n, i) => checkProvision(n, `${path}.provision[${i}]`, hospitals));
}
