import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';
import type { GatewayConfig } from '../../config';
import { searchsetBundle } from '../../fhir/bundle';
import { badRequest, nameSearchPartialOutcome, notFound, suppressedOutcome } from '../../fhir/outcomes';
import { checkUnknownParams, ignoredOutcomes, parseCount, parseIds, parseOffset, single } from '../../fhir/search-params';
import type { PatientData, PatientView } from '../../patient-data/contract';
import { mergeAnswer, parseMerge, parseUnmerge } from '../../patient-data/merge-parameters';
import { splitIdentifier } from '../../patient-index/patient-lookup';
import { accessOf } from '../access';
import type { FhirRequest, Route, SearchParamDeclaration } from '../route';

/** The parameters GET /Patient applies: the ones it accepts and the CapabilityStatement declares. */
const SEARCH_PARAMS: readonly SearchParamDeclaration[] = [
  { name: 'identifier', type: 'token' },
  { name: '_id', type: 'token' },
  // together only, exact (docs/patient-data.md §7)
  { name: 'name', type: 'string' },
  { name: 'birthdate', type: 'date' },
];
const BIRTH_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** `_id` may name this many regional ids at most (each is looked up). */
const MAX_IDS = 20;
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/**
 * The patient index's API (API.md §4): `GET /Patient?identifier=`, `GET /Patient/{id}` and IHE PIXm
 * `GET /Patient/$ihe-pix`. What a patient answer shows depends on the asker's consent
 * (docs/patient-data.md); the guarded patient data decides it.
 */
export function patientRoutes(deps: { config: GatewayConfig; patientData: PatientData }): Route[] {
  const { config, patientData } = deps;
  const access = { kind: 'token' as const, resource: 'Patient', permission: 's' as const };

  /**
   * `identifier` and `_id` AND: with both, the patient the identifier names, if `_id` names them
   * too. `_id` alone: each regional id (comma-separated: OR). Paged by `_count`/`_offset`.
   */
  async function search(req: FhirRequest) {
    const ignored = checkUnknownParams(req.query, new Set([...SEARCH_PARAMS.map((p) => p.name), '_offset']), req.headers.prefer);
    const identifier = single(req.query, 'identifier');
    const ids = parseIds(req.query);
    const name = single(req.query, 'name')?.trim();
    const birthDate = single(req.query, 'birthdate');
    if (name !== undefined || birthDate !== undefined) return searchByName(req, name, birthDate, Boolean(identifier || ids));
    if (!identifier && !ids) throw badRequest('identifier (or _id, or name with birthdate) is required', 'identifier', 'identifier-required');
    if (ids && ids.size > MAX_IDS) throw badRequest(`_id: at most ${MAX_IDS} ids per search`, '_id');
    const count = parseCount(req.query._count);
    const offset = parseOffset(req.query._offset);
    const access = accessOf(req);
    // A patient search asks the hospitals for links still missing, so every record number the
    // asker may see shows.
    const views: PatientView[] = [];
    if (identifier) {
      const view = await patientData.findPatient(access, { identifier: splitIdentifier(identifier), param: 'identifier' }, { completeLinks: true });
      if (view && (!ids || ids.has(view.resource.id ?? ''))) views.push(view);
    } else {
      // Each id is looked up at once (at most MAX_IDS), kept in the order asked; an id no patient can have is skipped.
      const found = await Promise.all([...ids!].filter((id) => FHIR_ID.test(id)).map((id) => patientData.findPatient(access, { patientId: id }, { completeLinks: true })));
      for (const view of found) if (view && !views.some((v) => v.resource.id === view.resource.id)) views.push(view);
    }
    const params: Array<[string, string]> = [
      ...(identifier ? [['identifier', identifier] as [string, string]] : []),
      ...(req.query._id ?? []).map((v) => ['_id', v] as [string, string]),
    ];
    const page = views.slice(offset, offset + count);
    const outcomes = [...ignoredOutcomes(ignored), ...(page.some((v) => v.withheld) ? [suppressedOutcome()] : [])];
    return {
      body: searchsetBundle({
        publicBaseUrl: config.publicBaseUrl,
        path: '/Patient',
        params,
        matches: page.map((v) => v.resource),
        outcomes,
        total: views.length,
        offset,
        count,
      }),
    };
  }

  /** `name` + `birthdate`, both exact and only together: a name alone would let anyone fish the region's residents. */
  async function searchByName(req: FhirRequest, name: string | undefined, birthDate: string | undefined, withIdentifier: boolean) {
    if (withIdentifier) throw badRequest('Search by identifier or by name and birthdate, not both', 'name');
    if (!name || [...name].length > 64 || /[\p{Cc}]/u.test(name)) throw badRequest('name (the full name, up to 64 characters) goes with birthdate', 'name', 'parameter-required');
    if (!birthDate || !BIRTH_DATE.test(birthDate) || Number.isNaN(Date.parse(`${birthDate}T00:00:00Z`)) || new Date(`${birthDate}T00:00:00Z`).toISOString().slice(0, 10) !== birthDate) {
      throw badRequest('birthdate (YYYY-MM-DD, exact) goes with name', 'birthdate', 'invalid-date');
    }
    const count = parseCount(req.query._count);
    const found = await patientData.findPatientsByName(accessOf(req), name, birthDate);
    const names = new Map(config.hospitals.map((h) => [h.id, h.name]));
    const outcomes = [
      ...(found.withheld ? [suppressedOutcome()] : []),
      ...(found.unsearchable.length ? [nameSearchPartialOutcome(found.unsearchable.map((h) => names.get(h) ?? h))] : []),
      ...found.failures,
    ];
    const page = found.views.slice(0, count);
    return {
      body: searchsetBundle({
        publicBaseUrl: config.publicBaseUrl,
        path: '/Patient',
        params: [['name', name], ['birthdate', birthDate]],
        matches: page.map((v) => v.resource),
        outcomes,
        total: found.views.length,
        offset: 0,
        count,
      }),
    };
  }

  async function read(req: FhirRequest) {
    const view = await patientData.findPatient(accessOf(req), { patientId: req.params.id });
    if (!view) throw notFound(`Patient/${req.params.id.slice(0, 64)} is not known`);
    return { body: view.resource };
  }

  async function pix(req: FhirRequest) {
    checkUnknownParams(req.query, new Set(['sourceIdentifier', 'targetSystem']), req.headers.prefer);
    const source = single(req.query, 'sourceIdentifier');
    if (!source || !source.includes('|')) {
      throw badRequest('sourceIdentifier=system|value is required', 'sourceIdentifier', 'identifier-required');
    }
    const ident = splitIdentifier(source);
    if (!ident.system) throw badRequest('sourceIdentifier: the system is required', 'sourceIdentifier');
    const targets = (req.query.targetSystem ?? []).flatMap((t) => t.split(','));
    const view = await patientData.findPatient(accessOf(req), { identifier: ident, param: 'sourceIdentifier' });
    if (!view) throw notFound('No patient is known by that identifier', 'patient-not-found');
    const parameter: ParametersParameter[] = [];
    for (const i of view.resource.identifier ?? []) {
      if (i.system === ident.system && i.value === ident.value) continue;
      if (targets.length && !targets.includes(i.system ?? '')) continue;
      parameter.push({ name: 'targetIdentifier', valueIdentifier: { system: i.system, value: i.value, assigner: i.assigner } });
    }
    parameter.push({ name: 'targetId', valueReference: { reference: `Patient/${view.resource.id}` } });
    return { body: { resourceType: 'Parameters', parameter } satisfies Parameters };
  }

  // Identities are merged by registrars (docs/patient-data.md §5); the Parameters echo no more than was sent.
  async function merge(req: FhirRequest) {
    const m = parseMerge(req.body);
    const view = await patientData.merge(accessOf(req), m);
    return { body: mergeAnswer(req.body as Parameters, m.preview ? 'preview: the merge would be made; nothing changed' : 'merged', view.resource) };
  }

  async function unmerge(req: FhirRequest) {
    const m = parseUnmerge(req.body);
    const view = await patientData.unmerge(accessOf(req), m);
    return { body: mergeAnswer(req.body as Parameters, 'unmerged: the identity is active again, as before the merge', view.resource) };
  }

  const registrar = { kind: 'token' as const, resource: 'Patient', permission: 'r' as const, roles: ['registrar' as const] };

  // The identity feed (docs/patient-data.md §6): POST adds, PUT ?identifier= (the hospital's record number) adds or corrects.
  async function feed(req: FhirRequest) {
    const { view, created } = await patientData.feed(accessOf(req), { conditional: req.method === 'PUT', identifier: single(req.query, 'identifier'), body: req.body });
    return { status: created ? 201 : 200, headers: { Location: `${config.publicBaseUrl}/Patient/${view.resource.id}` }, body: view.resource };
  }

  return [
    { method: 'POST', path: '/Patient', interaction: 'create', resourceType: 'Patient', access: registrar, audited: true, body: 'json', handler: feed },
    { method: 'PUT', path: '/Patient', interaction: 'update', resourceType: 'Patient', access: registrar, audited: true, body: 'json', handler: feed },
    { method: 'POST', path: '/Patient/$merge', interaction: '$merge', resourceType: 'Patient', access: registrar, audited: true, body: 'json', handler: merge },
    { method: 'POST', path: '/Patient/$unmerge', interaction: '$unmerge', resourceType: 'Patient', access: registrar, audited: true, body: 'json', handler: unmerge },
    { method: 'GET', path: '/Patient/$ihe-pix', interaction: '$ihe-pix', resourceType: 'Patient', access, audited: true, body: 'none', handler: pix },
    { method: 'GET', path: '/Patient', interaction: 'search-type', resourceType: 'Patient', access, audited: true, body: 'none', searchParams: SEARCH_PARAMS, handler: search },
    {
      method: 'POST',
      path: '/Patient/_search',
      interaction: 'search-type',
      resourceType: 'Patient',
      access,
      audited: true,
      body: 'form',
      searchParams: SEARCH_PARAMS,
      handler: search,
    },
    {
      method: 'GET',
      path: '/Patient/:id',
      interaction: 'read',
      resourceType: 'Patient',
      access: { kind: 'token', resource: 'Patient', permission: 'r' },
      audited: true,
      body: 'none',
      handler: read,
    },
  ];
}
