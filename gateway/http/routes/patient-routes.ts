import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';
import type { GatewayConfig } from '../../config';
import { searchsetBundle } from '../../fhir/bundle';
import { badRequest, notFound, suppressedOutcome } from '../../fhir/outcomes';
import { checkUnknownParams, single } from '../../fhir/search-params';
import type { PatientData } from '../../patient-data/contract';
import { splitIdentifier } from '../../patient-index/patient-lookup';
import { accessOf } from '../access';
import type { FhirRequest, Route } from '../route';

/**
 * The patient index's API (API.md §4): `GET /Patient?identifier=`, `GET /Patient/{id}` and IHE PIXm
 * `GET /Patient/$ihe-pix`. What a patient answer shows depends on the asker's consent
 * (docs/patient-data.md); the guarded patient data decides it.
 */
export function patientRoutes(deps: { config: GatewayConfig; patientData: PatientData }): Route[] {
  const { config, patientData } = deps;
  const access = { kind: 'token' as const, resource: 'Patient', permission: 's' as const };

  async function search(req: FhirRequest) {
    checkUnknownParams(req.query, new Set(['identifier', '_id']), req.headers.prefer);
    const identifier = single(req.query, 'identifier');
    const id = single(req.query, '_id');
    if (!identifier && !id) throw badRequest('identifier (or _id) is required', 'identifier', 'identifier-required');
    // A patient search asks the hospitals for links still missing, so every record number the
    // asker may see shows.
    const view = await patientData.findPatient(
      accessOf(req),
      identifier ? { identifier: splitIdentifier(identifier), param: 'identifier' } : { patientId: id! },
      { completeLinks: true },
    );
    const params: Array<[string, string]> = identifier ? [['identifier', identifier]] : [['_id', id!]];
    const matches = view ? [view.resource] : [];
    const outcomes = view?.withheld ? [suppressedOutcome()] : [];
    return {
      body: searchsetBundle({ publicBaseUrl: config.publicBaseUrl, path: '/Patient', params, matches, outcomes, total: matches.length, offset: 0, count: 1 }),
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

  return [
    { method: 'GET', path: '/Patient/$ihe-pix', interaction: '$ihe-pix', resourceType: 'Patient', access, audited: true, body: 'none', handler: pix },
    { method: 'GET', path: '/Patient', interaction: 'search-type', resourceType: 'Patient', access, audited: true, body: 'none', handler: search },
    { method: 'POST', path: '/Patient/_search', interaction: 'search-type', resourceType: 'Patient', access, audited: true, body: 'form', handler: search },
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
