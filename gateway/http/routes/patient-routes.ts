import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';
import type { GatewayConfig } from '../../config';
import { searchsetBundle } from '../../fhir/bundle';
import { badRequest, notFound } from '../../fhir/outcomes';
import { checkUnknownParams, single } from '../../fhir/search-params';
import type { FhirRequest, Route } from '../route';
import type { RegionalPatientIndex } from '../../patient-index/patient-index';
import { lookupPatientByIdentifier, splitIdentifier } from '../../patient-index/patient-lookup';
import { patientResource } from '../../patient-index/patient-resource';

/**
 * The patient index's API (API.md §4): `GET /Patient?identifier=`, `GET /Patient/{id}` and IHE PIXm
 * `GET /Patient/$ihe-pix`.
 */
export function patientRoutes(deps: { config: GatewayConfig; patientIndex: RegionalPatientIndex }): Route[] {
  const { config, patientIndex } = deps;
  const access = { kind: 'token' as const, resource: 'Patient', permission: 's' as const };

  async function search(req: FhirRequest) {
    checkUnknownParams(req.query, new Set(['identifier', '_id']), req.headers.prefer);
    const identifier = single(req.query, 'identifier');
    const id = single(req.query, '_id');
    if (!identifier && !id) throw badRequest('identifier (or _id) is required', 'identifier', 'identifier-required');
    // A patient search asks the hospitals for links still missing, so every record number shows.
    const patient = identifier
      ? (await lookupPatientByIdentifier(patientIndex, config, splitIdentifier(identifier), 'identifier', { refresh: true })).patient
      : await patientIndex.get(id!);
    req.record.addPatient(patient?.id);
    const params: Array<[string, string]> = identifier ? [['identifier', identifier]] : [['_id', id!]];
    const matches = patient ? [patientResource(patient, config)] : [];
    return {
      body: searchsetBundle({ publicBaseUrl: config.publicBaseUrl, path: '/Patient', params, matches, total: matches.length, offset: 0, count: 1 }),
    };
  }

  async function read(req: FhirRequest) {
    const patient = await patientIndex.get(req.params.id);
    if (!patient) throw notFound(`Patient/${req.params.id.slice(0, 64)} is not known`);
    req.record.addPatient(patient.id);
    return { body: patientResource(patient, config) };
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
    const { patient } = await lookupPatientByIdentifier(patientIndex, config, ident, 'sourceIdentifier');
    if (!patient) throw notFound('No patient is known by that identifier', 'patient-not-found');
    req.record.addPatient(patient.id);
    const resource = patientResource(patient, config);
    const parameter: ParametersParameter[] = [];
    for (const i of resource.identifier ?? []) {
      if (i.system === ident.system && i.value === ident.value) continue;
      if (targets.length && !targets.includes(i.system ?? '')) continue;
      parameter.push({ name: 'targetIdentifier', valueIdentifier: { system: i.system, value: i.value, assigner: i.assigner } });
    }
    parameter.push({ name: 'targetId', valueReference: { reference: `Patient/${patient.id}` } });
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
