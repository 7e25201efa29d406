import type { ResultType } from '../../../adapters/adapter';
import { RESULT_TYPES } from '../../../adapters/adapter';
import type { GatewayConfig } from '../../config';
import { parseGatewayId } from '../../federation/result-ids';
import type { PatientData } from '../../patient-data/contract';
import { accessOf } from '../access';
import type { FhirRequest, Route, SearchParamDeclaration, SearchParamType } from '../route';
import { searchsetBundle } from '../../fhir/bundle';
import { suppressedOutcome } from '../../fhir/outcomes';
import { ignoredOutcomes } from '../../fhir/search-params';
import { matchesSearch, parseResultSearch, SEARCH_PARAMS, sortResults } from '../../fhir/result-search';
import type { Observation, Resource } from '@medplum/fhirtypes';

/** The FHIR type of each parameter a result search accepts (result-search.ts), for the CapabilityStatement. */
const PARAM_TYPES: Record<string, SearchParamType> = {
  _id: 'token',
  patient: 'reference',
  subject: 'reference',
  'patient.identifier': 'token',
  'subject.identifier': 'token',
  category: 'token',
  code: 'token',
  date: 'date',
  started: 'date',
  status: 'token',
  modality: 'token',
  hospital: 'token',
  _sort: 'string',
  _count: 'number',
};

/**
 * What a result search of `type` applies: exactly the parameters result-search.ts accepts for it
 * (`_include` is declared as searchInclude), plus `_count`.
 */
function searchDeclaration(type: ResultType): { searchParams: SearchParamDeclaration[]; searchInclude?: string[] } {
  const names = [...SEARCH_PARAMS[type].filter((n) => n !== '_include'), '_count'];
  const searchParams = names.map((name) => {
    const t = PARAM_TYPES[name];
    if (!t) throw new Error(`result-routes.ts: the ${type} search parameter ${name} has no FHIR type in PARAM_TYPES`);
    return { name, type: t };
  });
  // parseResultSearch applies `_include` to DiagnosticReport:result only
  const includes = type === 'DiagnosticReport' && SEARCH_PARAMS[type].includes('_include');
  return includes ? { searchParams, searchInclude: ['DiagnosticReport:result'] } : { searchParams };
}

/**
 * Search and read of DiagnosticReport, Observation and ImagingStudy across every hospital
 * (API.md §4), GET and POST `_search`. Thin: parsing in result-search.ts; the patient, consent and
 * the hospitals behind the guarded patient data.
 */
export function resultRoutes(deps: { config: GatewayConfig; patientData: PatientData }): Route[] {
  const { config, patientData } = deps;
  const hospitalIds = new Set(config.hospitals.map((h) => h.id));

  const search = (type: ResultType) => async (req: FhirRequest) => {
    const q = parseResultSearch(type, req.query, req.headers.prefer, hospitalIds);
    const subject = q.patient ? { patientId: q.patient } : { identifier: q.patientIdentifier!, param: 'patient.identifier' };
    const base = { publicBaseUrl: config.publicBaseUrl, path: `/${type}`, params: q.echo, offset: q.offset, count: q.count };
    const found = await patientData.results(accessOf(req), subject, [type], { hospitals: q.hospitals, includeMembers: q.includeResults });
    if (!found) return { body: searchsetBundle({ ...base, matches: [], outcomes: ignoredOutcomes(q.ignored), total: 0 }) };

    const matches = sortResults(
      found.results.filter((f) => f.resource.resourceType === type && matchesSearch(f.resource, q)).map((f) => f.resource),
      q.sort,
    );
    const page = matches.slice(q.offset, q.offset + q.count);
    let includes: Resource[] = [];
    if (q.includeResults) {
      const byId = new Map<string, Observation>();
      for (const f of found.results) if (f.resource.resourceType === 'Observation') byId.set(`Observation/${f.resource.id}`, f.resource);
      const seen = new Set<string>();
      for (const r of page) {
        if (r.resourceType !== 'DiagnosticReport') continue;
        for (const ref of r.result ?? []) {
          const o = ref.reference ? byId.get(ref.reference) : undefined;
          if (o && !seen.has(ref.reference!)) {
            seen.add(ref.reference!);
            includes.push(o);
          }
        }
      }
    }
    // The audit trail names the hospitals whose data this page shows, not every hospital asked.
    req.record.hospitalsReturned.clear();
    for (const list of [page, includes]) for (const r of list) req.record.hospitalsReturned.add(parseGatewayId(r.id!)!.hospitalId);
    const outcomes = [...ignoredOutcomes(q.ignored), ...found.failures, ...(found.suppressed ? [suppressedOutcome()] : [])];
    return { body: searchsetBundle({ ...base, matches: page, includes, outcomes, total: matches.length }) };
  };

  const read = (type: ResultType) => async (req: FhirRequest) => {
    const found = await patientData.readResult(accessOf(req), type, req.params.id);
    return { body: found.resource };
  };

  return RESULT_TYPES.flatMap((type): Route[] => {
    const access = { kind: 'token' as const, resource: type, permission: 's' as const };
    const declared = searchDeclaration(type);
    return [
      { method: 'GET', path: `/${type}`, interaction: 'search-type', resourceType: type, access, audited: true, body: 'none', ...declared, handler: search(type) },
      { method: 'POST', path: `/${type}/_search`, interaction: 'search-type', resourceType: type, access, audited: true, body: 'form', ...declared, handler: search(type) },
      {
        method: 'GET',
        path: `/${type}/:id`,
        interaction: 'read',
        resourceType: type,
        access: { kind: 'token', resource: type, permission: 'r' },
        audited: true,
        body: 'none',
        handler: read(type),
      },
    ];
  });
}
