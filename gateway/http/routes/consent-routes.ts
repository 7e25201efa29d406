import type { Bundle, Consent } from '@medplum/fhirtypes';
import { searchsetBundle } from '../../fhir/bundle';
import { badRequest, forbidden, methodNotAllowed, notFound, OperationOutcomeError, outcome } from '../../fhir/outcomes';
import { checkUnknownParams, ignoredOutcomes, parseCount, parseOffset, single, splitComma } from '../../fhir/search-params';
import type { FhirRequest, FhirResponse, Route, RouteAccess, SearchParamDeclaration } from '../route';
import { ConsentNotFound, VersionConflict } from '../../../consent/consent-store';
import type { ConsentRegistry } from '../../../consent/consent-registry';

/**
 * The registrar's consent endpoints (API.md §5), thin over {@link ConsentRegistry}:
 *   POST /Consent, GET /Consent?patient=, GET /Consent/:id, GET /Consent/:id/_history[/:vid],
 *   PUT /Consent/:id (status inactive withdraws), DELETE → 405 (consents are kept).
 * Each handler tells the audit trail the patient and the consent it touched.
 */
export function consentRoutes(registry: ConsentRegistry, publicBaseUrl: string): Route[] {
  const { store } = registry;

  const registrarHospital = (req: FhirRequest): string => {
    const h = req.requester?.hospitalId;
    if (!h) throw forbidden('Only a member hospital\'s registrar may record consents', 'registrar-hospital-required');
    return h;
  };
  const versionHeaders = (c: Consent): Record<string, string> => ({
    ETag: `W/"${c.meta?.versionId}"`,
    'Last-Modified': new Date(c.meta?.lastUpdated ?? 0).toUTCString(),
  });
  const patientOf = (c: Consent) => /Patient\/([^/]+)$/.exec(c.patient?.reference ?? '')?.[1];
  const unknownConsent = (id: string) => notFound(`Consent/${id.slice(0, 64)} is not known`);
  const validId = (id: string) => /^[A-Za-z0-9\-.]{1,64}$/.test(id);

  async function create(req: FhirRequest): Promise<FhirResponse> {
    req.record.interaction = 'create';
    const stored = await registry.register(req.body, registrarHospital(req), {
      onPatient: (id) => req.record.addPatient(id),
    });
    req.record.resourceIds.add(`Consent/${stored.id}`);
    return {
      status: 201,
      body: stored,
      headers: { Location: `${publicBaseUrl}/Consent/${stored.id}/_history/${stored.meta?.versionId}`, ...versionHeaders(stored) },
    };
  }

  async function update(req: FhirRequest): Promise<FhirResponse> {
    req.record.interaction = 'update';
    const id = req.params.id;
    if (!validId(id)) throw unknownConsent(id);
    const ifMatch = req.headers['if-match'];
    let expected: number | undefined;
    if (ifMatch !== undefined) {
      const m = /^(?:W\/)?"(\d{1,9})"$/.exec(ifMatch.trim());
      if (!m) throw badRequest('If-Match must be an ETag such as W/"2"', 'If-Match');
      expected = Number(m[1]);
    }
    try {
      const stored = await registry.revise(id, req.body, registrarHospital(req), {
        expectedVersion: expected,
        onPatient: (p) => req.record.addPatient(p),
      });
      req.record.resourceIds.add(`Consent/${stored.id}`);
      return { status: 200, body: stored, headers: versionHeaders(stored) };
    } catch (e) {
      if (e instanceof ConsentNotFound) throw unknownConsent(id);
      if (e instanceof VersionConflict) {
        throw new OperationOutcomeError(
          412,
          outcome('error', 'conflict', 'The consent has changed since it was read; read it again and resend', {
            errorCode: 'version-conflict',
            expression: ['If-Match'],
          }),
        );
      }
      throw e;
    }
  }

  async function read(req: FhirRequest): Promise<FhirResponse> {
    req.record.interaction = 'read';
    const id = req.params.id;
    const c = validId(id) ? await store.read(id) : undefined;
    if (!c) throw unknownConsent(id);
    req.record.addPatient(patientOf(c));
    req.record.resourceIds.add(`Consent/${c.id}`);
    return { body: c, headers: versionHeaders(c) };
  }

  async function vread(req: FhirRequest): Promise<FhirResponse> {
    req.record.interaction = 'vread';
    const { id, vid } = req.params;
    const v = /^\d{1,9}$/.test(vid) ? Number(vid) : NaN;
    const c = validId(id) && v > 0 ? await store.readVersion(id, v) : undefined;
    if (!c) throw notFound(`Consent/${id.slice(0, 64)}/_history/${String(vid).slice(0, 12)} is not known`);
    req.record.addPatient(patientOf(c));
    req.record.resourceIds.add(`Consent/${c.id}/_history/${c.meta?.versionId}`);
    return { body: c, headers: versionHeaders(c) };
  }

  async function history(req: FhirRequest): Promise<FhirResponse> {
    req.record.interaction = 'history-instance';
    const id = req.params.id;
    const versions = validId(id) ? await store.history(id) : [];
    if (!versions.length) throw unknownConsent(id);
    req.record.addPatient(patientOf(versions[0]));
    req.record.resourceIds.add(`Consent/${id}`);
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'history',
      total: versions.length,
      link: [{ relation: 'self', url: `${publicBaseUrl}/Consent/${id}/_history` }],
      entry: versions.map((v) => {
        const first = v.meta?.versionId === '1';
        return {
          fullUrl: `${publicBaseUrl}/Consent/${v.id}`,
          resource: v,
          request: { method: first ? ('POST' as const) : ('PUT' as const), url: first ? 'Consent' : `Consent/${v.id}` },
          response: {
            status: first ? '201 Created' : '200 OK',
            etag: `W/"${v.meta?.versionId}"`,
            lastModified: v.meta?.lastUpdated,
          },
        };
      }),
    };
    return { body: bundle };
  }

  const SEARCH_PARAMS = new Set([...CONSENT_SEARCH_PARAMS.map((p) => p.name), '_offset']);
  async function search(req: FhirRequest): Promise<FhirResponse> {
    req.record.interaction = 'search-type';
    const ignored = checkUnknownParams(req.query, SEARCH_PARAMS, req.headers.prefer);
    const raw = single(req.query, 'patient');
    if (!raw) throw badRequest('The patient parameter is required: GET /Consent?patient=<regional id>', 'patient', 'patient-required');
    const patient = /^(?:.*\/)?(?:Patient\/)?([A-Za-z0-9\-.]{1,64})$/.exec(raw)?.[1];
    if (!patient) throw badRequest('patient must be a regional patient id or Patient/<id>', 'patient');
    const status = single(req.query, 'status');
    // comma-separated statuses are alternatives (FHIR token search)
    const statuses = status === undefined ? undefined : splitComma(status);
    if (statuses?.some((s) => !/^[a-z-]{1,20}$/.test(s))) throw badRequest('status must be a Consent status code', 'status');
    const count = parseCount(req.query._count);
    const offset = parseOffset(req.query._offset);
    req.record.addPatient(patient);
    const found = await store.byPatient(patient, statuses?.length === 1 ? { status: statuses[0] } : {});
    const matches = statuses ? found.filter((c) => statuses.includes(c.status)) : found;
    const page = matches.slice(offset, offset + count);
    for (const c of page) req.record.resourceIds.add(`Consent/${c.id}`);
    const params: Array<[string, string]> = [['patient', patient]];
    if (status) params.push(['status', status]);
    const body = searchsetBundle({
      publicBaseUrl,
      path: '/Consent',
      params,
      matches: page,
      outcomes: ignoredOutcomes(ignored),
      total: matches.length,
      offset,
      count,
    });
    return { body };
  }

  async function refuseDelete(req: FhirRequest): Promise<FhirResponse> {
    req.record.interaction = 'delete';
    throw methodNotAllowed('Consents are never deleted; withdraw one with PUT and status inactive');
  }

  const registrar = (permission: 'c' | 'r' | 'u' | 's'): RouteAccess => ({ kind: 'token', resource: 'Consent', permission, roles: ['registrar'] });
  const route = (r: Omit<Route, 'resourceType' | 'audited'>): Route => ({ resourceType: 'Consent', audited: true, ...r });
  return [
    route({ method: 'POST', path: '/Consent', interaction: 'create', access: registrar('c'), body: 'json', handler: create }),
    route({ method: 'GET', path: '/Consent', interaction: 'search-type', access: registrar('s'), body: 'none', searchParams: CONSENT_SEARCH_PARAMS, handler: search }),
    route({ method: 'GET', path: '/Consent/:id', interaction: 'read', access: registrar('r'), body: 'none', handler: read }),
    route({ method: 'PUT', path: '/Consent/:id', interaction: 'update', access: registrar('u'), body: 'json', handler: update }),
    route({ method: 'GET', path: '/Consent/:id/_history', interaction: 'history-instance', access: registrar('r'), body: 'none', handler: history }),
    route({ method: 'GET', path: '/Consent/:id/_history/:vid', interaction: 'vread', access: registrar('r'), body: 'none', handler: vread }),
    // Any authenticated caller learns that deletion does not exist (405), and the attempt is audited;
    // `refusesAll` keeps it out of the CapabilityStatement.
    route({ method: 'DELETE', path: '/Consent', interaction: 'delete', access: { kind: 'token' }, body: 'none', refusesAll: true, handler: refuseDelete }),
    route({ method: 'DELETE', path: '/Consent/:id', interaction: 'delete', access: { kind: 'token' }, body: 'none', refusesAll: true, handler: refuseDelete }),
  ];
}

/** The parameters GET /Consent applies: the ones it accepts and the CapabilityStatement declares. */
export const CONSENT_SEARCH_PARAMS: readonly SearchParamDeclaration[] = [
  { name: 'patient', type: 'reference' },
  { name: 'status', type: 'token' },
];
