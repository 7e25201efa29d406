import type { Consent } from '@medplum/fhirtypes';
import { NATIONAL_ID_SYSTEM, validateNationalId } from '../gateway/patient-index/national-id';
import type { PatientIndex } from '../gateway/services';
import { organizationId } from './consent-decision';
import type { ConsentRegistry } from './consent-registry';

/**
 * Store the demo consents of fixtures/consents.json (API.md §1 `npm start`): R4 Consents whose
 * patient is named by national id (`patient.identifier` urn:oid:2.16.156.10011.1.3) rather than by
 * reference. Each is resolved through the patient index to `Patient/<regional id>`, checked exactly
 * like a POST by its `organization`'s registrar, and stored. A fixture with status `inactive` (a
 * withdrawn consent) is stored as version 1 active and version 2 inactive, as a registrar would.
 *
 * Idempotent: a consent equal to one already stored for that patient (same content, whatever its
 * status since — a withdrawn demo consent is not brought back) is skipped, so restarts add nothing.
 * A resident no hospital knows is counted in `unresolved` and skipped. An invalid fixture throws,
 * naming its index and the problem (never patient data).
 */
export async function loadDemoConsents(
  deps: { services?: { consent: unknown }; registry?: ConsentRegistry; patientIndex: PatientIndex },
  consents: readonly Consent[],
): Promise<{ loaded: number; skipped: number; unresolved: number }> {
  const registry = deps.registry ?? (deps.services?.consent as { registry?: ConsentRegistry } | undefined)?.registry;
  if (!registry) throw new Error('loadDemoConsents: no consent registry (give `registry` or the gateway services)');
  let loaded = 0;
  let skipped = 0;
  let unresolved = 0;
  for (const [i, fixture] of consents.entries()) {
    const where = `consents[${i}]`;
    const ident = fixture.patient?.identifier;
    if (ident?.system !== NATIONAL_ID_SYSTEM || !ident.value) throw new Error(`${where}: patient.identifier must be a ${NATIONAL_ID_SYSTEM} national id`);
    const nid = validateNationalId(ident.value);
    if (!nid.ok) throw new Error(`${where}: patient.identifier is not a valid national id (${nid.problem})`);
    const hospital = organizationId(fixture.organization?.[0]?.reference);
    if (!hospital) throw new Error(`${where}: organization must name the registering hospital (Organization/<id>)`);

    const patient = await deps.patientIndex.resolveNationalId(nid.id);
    if (!patient) {
      unresolved++;
      continue;
    }
    const { patient: _named, id: _id, meta: _meta, ...rest } = fixture;
    const body: Consent = { ...rest, patient: { reference: `Patient/${patient.id}` } };
    let candidate: Consent;
    try {
      // 'PUT' rules: a demo consent may already be withdrawn (status inactive)
      candidate = registry.check(body, hospital, 'PUT').consent;
    } catch (e) {
      const issues = (e as { outcome?: { issue?: Array<{ details?: { text?: string } }> } }).outcome?.issue ?? [];
      throw new Error(`${where}: not a valid consent: ${issues.map((x) => x.details?.text).join('; ') || String(e)}`);
    }
    const stored = await registry.store.byPatient(patient.id);
    if (stored.some((s) => sameConsent(s, candidate))) {
      skipped++;
      continue;
    }
    if (candidate.status === 'inactive') {
      // A withdrawn demo consent gets the history a real one has: recorded, then withdrawn.
      const first = await registry.register({ ...body, status: 'active' }, hospital);
      await registry.revise(first.id!, { ...body, id: first.id, status: 'inactive' }, hospital);
    } else {
      await registry.register(body, hospital);
    }
    loaded++;
  }
  return { loaded, skipped, unresolved };
}

/** Equal content, ignoring what the store manages (id, meta) and the status (withdrawal). */
export function sameConsent(a: Consent, b: Consent): boolean {
  const strip = ({ id: _i, meta: _m, status: _s, ...rest }: Consent) => canonicalJson(rest);
  return strip(a) === strip(b);
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}
