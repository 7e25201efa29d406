import type { Bundle, Consent, ConsentProvision, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { Db } from '../../gateway/storage/db';

/**
 * Helpers for the HTTP consent suites (consent-api, consent-enforcement; not a test file): a valid
 * registrar Consent, row counts of the consent tables, and the audit rows of one request.
 */

export const FHIR_JSON = 'application/fhir+json';
export const IRCP_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';

/** an IRCP actor: the hospital that may receive */
export const recipient = (hospitalId: string) => ({
  role: { coding: [{ system: IRCP_SYSTEM, code: 'IRCP' }] },
  reference: { reference: `Organization/${hospitalId}` },
});

/** A Consent as a registrar posts it (API.md §5): valid R4, the gateway's model. */
export function registrarConsent(patientId: string, provision: ConsentProvision = { type: 'permit' }): Consent {
  return {
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] }],
    patient: { reference: `Patient/${patientId}` },
    policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
    provision,
  };
}

/** Rows in `consents` and `consent_history`: what "nothing stored" is checked against. */
export async function consentRows(db: Db): Promise<{ consents: number; history: number }> {
  const [a] = await db('consents').count({ n: '*' });
  const [b] = await db('consent_history').count({ n: '*' });
  return { consents: Number(a.n), history: Number(b.n) };
}

export interface AuditRow {
  patient_id: string | null;
  client_id: string | null;
  outcome: number;
  purpose: string | null;
  subtype: string;
  resource: string;
}

/** The audit rows of one request, by the X-Request-Id the gateway answered with. */
export async function auditRowsOf(db: Db, requestId: string | undefined): Promise<AuditRow[]> {
  if (!requestId) throw new Error('the response carries no X-Request-Id');
  const rows = await db('audit_events').where({ request_id: requestId }).select('patient_id', 'client_id', 'outcome', 'purpose', 'subtype', 'resource');
  return rows.map((r: AuditRow) => ({ ...r, outcome: Number(r.outcome) }));
}

/** `transaction` entity details of a stored AuditEvent (breakGlass, consentSuppressed). */
export function auditDetails(row: AuditRow): Record<string, string> {
  const ev = JSON.parse(row.resource) as { entity?: Array<{ detail?: Array<{ type: string; valueString?: string }> }> };
  const out: Record<string, string> = {};
  for (const e of ev.entity ?? []) for (const d of e.detail ?? []) out[d.type] = d.valueString ?? '';
  return out;
}

/** purposeOfEvent codes of a stored AuditEvent */
export function auditPurposes(row: AuditRow): string[] {
  const ev = JSON.parse(row.resource) as { purposeOfEvent?: Array<{ coding?: Array<{ code?: string }> }> };
  return (ev.purposeOfEvent ?? []).flatMap((p) => (p.coding ?? []).map((c) => c.code ?? ''));
}

export function matches<T extends Resource>(b: Bundle, mode = 'match'): T[] {
  return (b.entry ?? []).filter((e) => e.search?.mode === mode).map((e) => e.resource as T);
}

export const outcomeEntries = (b: Bundle) => matches<OperationOutcome>(b, 'outcome');

/** the gateway error code of an OperationOutcome's first issue (`details.coding[0].code`) */
export const errorCodeOf = (o: OperationOutcome) => o.issue[0]?.details?.coding?.[0]?.code;

/** Every expression an OperationOutcome names. */
export const expressionsOf = (o: OperationOutcome) => o.issue.flatMap((i) => i.expression ?? []);
