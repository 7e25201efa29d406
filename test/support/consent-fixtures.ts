import type { Consent } from '@medplum/fhirtypes';
import { parseConfig, type GatewayConfig } from '../../gateway/config';
import { AccessRecord, type Clock, type Requester } from '../../gateway/context';
import type { FhirRequest, Route } from '../../gateway/http/route';
import { silentLogger } from '../../gateway/logger';
import { createMetrics } from '../../gateway/metrics';
import type { PatientDirectory, PatientIndex, RegionalPatient } from '../../gateway/patient-index/contract';
import type { Db } from '../../gateway/storage/db';

/**
 * Helpers for the consent integration suites (not a test file). The patient index here is a small
 * real one over the `patients` and `patient_links` tables (gateway/patient-index/migration.ts): it
 * knows the residents a test inserts, with the hospitals that have a record of them, and asks no
 * hospital.
 */
export function tablePatientIndex(db: Db): PatientDirectory & Pick<PatientIndex, 'resolveNationalId'> {
  const load = async (where: { id?: string; national_id?: string }): Promise<RegionalPatient | null> => {
    const row = await db('patients').where(where).first();
    if (!row) return null;
    const links = await db('patient_links').where({ patient_id: row.id }).orderBy('hospital_id');
    return { id: row.id, nationalId: row.national_id, links: links.map((l: { hospital_id: string; local_id: string }) => ({ hospitalId: l.hospital_id, localId: l.local_id, mrns: [] })) };
  };
  return {
    resolveNationalId: (nationalId) => load({ national_id: nationalId }),
    get: (id) => load({ id }),
    // the survivor first, then the identities merged into it (one level: these tests merge once)
    identityGroup: async (id) => {
      const row = await db('patients').where({ id }).first('id', 'merged_into');
      const survivor = row?.merged_into ?? id;
      const merged = await db('patients').where({ merged_into: survivor }).orderBy('id').pluck('id');
      return [survivor, ...merged];
    },
  };
}

/** A resident with a record at each of `hospitals` (default: every test hospital, so any registrar may record their consent). */
export async function addPatient(db: Db, id: string, nationalId: string, hospitals: readonly string[] = HOSPITALS.map((h) => h.id)): Promise<void> {
  await db('patients').insert({ id, national_id: nationalId, created_at: '2026-01-01T00:00:00.000Z' });
  for (const h of hospitals) await db('patient_links').insert({ patient_id: id, hospital_id: h, local_id: `L-${id}`, updated_at: '2026-01-01T00:00:00.000Z' });
}

export const HOSPITALS = [
  { id: 'xm-zsh', name: '厦门大学附属中山医院', city: '350200', grade: '3A', adapter: { type: 'fhir', baseUrl: 'http://127.0.0.1:9/fhir' } },
  { id: 'xm-dyyy', name: '厦门大学附属第一医院', city: '350200', grade: '3A', adapter: { type: 'fhir', baseUrl: 'http://127.0.0.1:9/fhir' } },
  { id: 'qz-dyyy', name: '泉州市第一医院', city: '350500', grade: '3A', adapter: { type: 'fhir', baseUrl: 'http://127.0.0.1:9/fhir' } },
];

export function testConfig(consentDefault: 'deny' | 'permit' = 'deny'): GatewayConfig {
  return parseConfig({ publicBaseUrl: 'http://127.0.0.1:8080', consent: { default: consentDefault }, hospitals: HOSPITALS });
}

/** A clock the test moves. */
export function fixedClock(iso: string): Clock & { set(iso: string): void } {
  let now = new Date(iso);
  return { now: () => now, set: (v) => (now = new Date(v)) };
}

export function serviceDeps(db: Db, clock: Clock, config = testConfig()) {
  return { config, db, reader: db, clock, log: silentLogger(), metrics: createMetrics(), patientIndex: tablePatientIndex(db) };
}

export const registrar = (hospitalId = 'xm-zsh'): Requester => ({
  clientId: `${hospitalId}-his`,
  hospitalId,
  roles: ['registrar'],
  scopes: ['system/Patient.rs', 'system/Consent.cruds'],
  purposeOfUse: 'TREAT',
});

export const clinician = (hospitalId = 'xm-zsh', purposeOfUse = 'TREAT'): Requester => ({
  clientId: `${hospitalId}-his`,
  hospitalId,
  roles: ['clinician'],
  scopes: ['system/DiagnosticReport.rs'],
  purposeOfUse,
});

/** Call a route's handler the way the dispatcher does (framework-free FhirRequest). */
export async function call(
  routes: Route[],
  method: Route['method'],
  url: string,
  opts: { body?: unknown; requester?: Requester; headers?: Record<string, string> } = {},
) {
  const [path, qs] = url.split('?');
  for (const route of routes) {
    if (route.method !== method) continue;
    const params = matchPath(route.path, path);
    if (!params) continue;
    const query: Record<string, string[]> = {};
    for (const [k, v] of new URLSearchParams(qs ?? '')) (query[k] ??= []).push(v);
    const req: FhirRequest = {
      method,
      params,
      query,
      body: opts.body,
      headers: opts.headers ?? {},
      requester: opts.requester ?? registrar(),
      record: new AccessRecord('test'),
      originalUrl: url,
    };
    const res = await route.handler(req);
    return { ...res, record: req.record, route };
  }
  throw new Error(`no route for ${method} ${path}`);
}

function matchPath(pattern: string, path: string): Record<string, string> | null {
  const a = pattern.split('/');
  const b = path.split('/');
  if (a.length !== b.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    if (a[i].startsWith(':')) params[a[i].slice(1)] = decodeURIComponent(b[i]);
    else if (a[i] !== b[i]) return null;
  }
  return params;
}

export function newConsent(patientId: string, provision: Consent['provision'] = { type: 'permit' }): Consent {
  return {
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: `Patient/${patientId}` },
    dateTime: '2026-11-29T09:00:00+08:00', // the morning of the suites' clock
    policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
    provision,
  };
}
