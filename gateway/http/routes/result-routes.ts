import type { ResultType } from '../../../adapters/adapter';
import { RESULT_TYPES } from '../../../adapters/adapter';
import type { GatewayConfig } from '../../config';
import { parseGatewayId } from '../../federation/result-ids';
import type { PatientData } from '../../patient-data/contract';
import { accessOf } from '../access';
import type { FhirRequest, Route } from '../route';
import { searchsetBundle } from '../../fhir/bundle';
import { suppressedOutcome } from '../../fhir/outcomes';
import { matchesSearch, parseResultSearch, sortResults } from '../../fhir/result-search';
import type { Observation, Resource } from '@medplum/fhirtypes';

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
    if (!found) return { body: searchsetBundle({ ...base, matches: [], total: 0 }) };

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
    for (const r of [...page, ...includes]) req.record.hospitalsReturned.add(parseGatewayId(r.id!)!.hospitalId);
    const outcomes = [...found.failures, ...(found.suppressed ? [suppressedOutcome()] : [])];
    return { body: searchsetBundle({ ...base, matches: page, includes, outcomes, total: matches.length }) };
  };

  const read = (type: ResultType) => async (req: FhirRequest) => {
    const found = await patientData.readResult(accessOf(req), type, req.params.id);
    return { body: found.resource };
  };

  return RESULT_TYPES.flatMap((type): Route[] => {
    const access = { kind: 'token' as const, resource: type, permission: 's' as const };
    return [
      { method: 'GET', path: `/${type}`, interaction: 'search-type', resourceType: type, access, audited: true, body: 'none', handler: search(type) },
      { method: 'POST', path: `/${type}/_search`, interaction: 'search-type', resourceType: type, access, audited: true, body: 'form', handler: search(type) },
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
