import type { Bundle, Consent } from '@medplum/fhirtypes';
import type { GatewayConfig } from '../gateway/config';
import { searchsetBundle } from '../gateway/fhir/bundle';
import { badRequest, forbidden, notFound, OperationOutcomeError, outcome, unprocessable } from '../gateway/fhir/outcomes';
import { checkUnknownParams } from '../gateway/fhir/search-params';
import type { FhirRequest, Route } from '../gateway/http/route';
import type { PatientIndex } from '../gateway/services';
import { checkConsent } from './consent-validation';
import { VersionConflict, type ConsentStore } from './consent-store';

/**
 * The registrar's consent endpoints (API.md §5). Consents are never deleted: `DELETE` is 405 (the
 * HTTP layer answers it for every known path), withdrawal is `PUT` with `status: inactive`.
 */
export function consentRoutes(deps: { config: GatewayConfig; store: ConsentStore; patientIndex: PatientIndex }): Route[] {
  const { config, store, patientIndex } = deps;
  const hospitalIds = new Set(config.hospitals.map((h) => h.id));
  const location = (c: Consent) => `${config.publicBaseUrl}/Consent/${c.id}/_history/${c.meta?.versionId}`;
  const registrarHospital = (req: FhirRequest) => {
    const h = req.requester?.hospitalId;
    if (!h) throw forbidden('Only a hospital\'s registrar may record consents', 'registrar-hospital-required');
    return h;
  };

  async function create(req: FhirRequest) {
    const hospital = registrarHospital(req);
    const { consent, patientId } = checkConsent(req.body, { hospitalIds, registrarHospital: hospital, method: 'POST' });
    req.record.addPatient(patientId);
    if (!(await patientIndex.get(patientId))) throw unprocessable(`Consent.patient: Patient/${patientId} is not a known regional patient`, 'Consent.patient', 'unknown-patient');
    const stored = await store.create(
      { ...consent, id: undefined, organization: [{ reference: `Organization/${hospital}` }] },
      patientId,
      hospital,
    );
    req.record.resourceIds.add(`Consent/${stored.id}`);
    return { status: 201, body: stored, headers: { Location: location(stored), ETag: `W/"${stored.meta?.versionId}"` } };
  }

  async function update(req: FhirRequest) {
    const hospital = registrarHospital(req);
    const current = await store.read(req.params.id);
    if (!current) throw notFound(`Consent/${req.params.id.slice(0, 64)} is not known`);
    const currentPatient = current.patient?.reference?.replace(/^Patient\//, '');
    req.record.addPatient(currentPatient);
    req.record.resourceIds.add(`Consent/${current.id}`);
    if (current.organization?.[0]?.reference !== `Organization/${hospital}`) {
      throw forbidden('Only the hospital that recorded a consent may change it', 'foreign-consent');
    }
    const body = req.body as Consent;
    if (body && typeof body === 'object' && body.id !== undefined && body.id !== current.id) {
      throw badRequest('The id in the body does not match the URL', 'Consent.id');
    }
    const { consent, patientId } = checkConsent({ ...body, organization: body?.organization ?? current.organization }, { hospitalIds, registrarHospital: hospital, method: 'PUT' });
    if (patientId !== currentPatient) throw unprocessable('A consent cannot be moved to another patient', 'Consent.patient');
    const ifMatch = /^W\/"(\d+)"$/.exec(req.headers['if-match'] ?? '')?.[1];
    try {
      const stored = await store.update(current.id!, { ...consent, organization: [{ reference: `Organization/${hospital}` }] }, ifMatch);
      return { body: stored, headers: { Location: location(stored), ETag: `W/"${stored.meta?.versionId}"` } };
    } catch (e) {
      if (e instanceof VersionConflict) {
        throw new OperationOutcomeError(412, outcome('error', 'conflict', 'The consent was changed by someone else; read it again', { errorCode: 'version-conflict' }));
      }
      throw e;
    }
  }

  async function read(req: FhirRequest) {
    const c = await store.read(req.params.id);
    if (!c) throw notFound(`Consent/${req.params.id.slice(0, 64)} is not known`);
    req.record.addPatient(c.patient?.reference?.replace(/^Patient\//, ''));
    req.record.resourceIds.add(`Consent/${c.id}`);
    return { body: c, headers: { ETag: `W/"${c.meta?.versionId}"` } };
  }

  async function history(req: FhirRequest) {
    const versions = await store.history(req.params.id);
    if (!versions.length) throw notFound(`Consent/${req.params.id.slice(0, 64)} is not known`);
    req.record.addPatient(versions[0].patient?.reference?.replace(/^Patient\//, ''));
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'history',
      total: versions.length,
      entry: versions.map((v) => ({
        fullUrl: `${config.publicBaseUrl}/Consent/${v.id}`,
        resource: v,
        request: { method: v.meta?.versionId === '1' ? 'POST' : 'PUT', url: v.meta?.versionId === '1' ? 'Consent' : `Consent/${v.id}` },
        response: { status: v.meta?.versionId === '1' ? '201' : '200', lastModified: v.meta?.lastUpdated },
      })),
    };
    return { body: bundle };
  }

  async function vread(req: FhirRequest) {
    const v = Number(req.params.vid);
    const c = Number.isInteger(v) && v > 0 ? await store.readVersion(req.params.id, v) : undefined;
    if (!c) throw notFound(`Consent/${req.params.id.slice(0, 64)}/_history/${String(req.params.vid).slice(0, 10)} is not known`);
    req.record.addPatient(c.patient?.reference?.replace(/^Patient\//, ''));
    return { body: c };
  }

  async function search(req: FhirRequest) {
    checkUnknownParams(req.query, new Set(['patient', 'status']), req.headers.prefer);
    const patient = req.query.patient?.[0]?.replace(/^Patient\//, '');
    if (!patient) throw badRequest('patient is required', 'patient', 'patient-required');
    req.record.addPatient(patient);
    const status = req.query.status?.[0];
    const all = (await store.byPatient(patient)).filter((c) => !status || c.status === status);
    const params: Array<[string, string]> = [['patient', patient], ...(status ? [['status', status] as [string, string]] : [])];
    return { body: searchsetBundle({ publicBaseUrl: config.publicBaseUrl, path: '/Consent', params, matches: all, total: all.length, offset: 0, count: Math.max(1, all.length) }) };
  }

  const access = (permission: 'c' | 'r' | 'u' | 's') => ({ kind: 'token' as const, resource: 'Consent', permission, roles: ['registrar' as const] });
  return [
    { method: 'POST', path: '/Consent', interaction: 'create', resourceType: 'Consent', access: access('c'), audited: true, body: 'json', handler: create },
    { method: 'GET', path: '/Consent', interaction: 'search-type', resourceType: 'Consent', access: access('s'), audited: true, body: 'none', handler: search },
    { method: 'GET', path: '/Consent/:id', interaction: 'read', resourceType: 'Consent', access: access('r'), audited: true, body: 'none', handler: read },
    { method: 'PUT', path: '/Consent/:id', interaction: 'update', resourceType: 'Consent', access: access('u'), audited: true, body: 'json', handler: update },
    { method: 'GET', path: '/Consent/:id/_history', interaction: 'history-instance', resourceType: 'Consent', access: access('r'), audited: true, body: 'none', handler: history },
    { method: 'GET', path: '/Consent/:id/_history/:vid', interaction: 'vread', resourceType: 'Consent', access: access('r'), audited: true, body: 'none', handler: vread },
  ];
}
