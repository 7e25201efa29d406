import type { Organization } from '@medplum/fhirtypes';
import { CITIES, type GatewayConfig, type HospitalConfig } from '../../config';
import type { FhirRequest, Route } from '../route';
import { searchsetBundle } from '../../fhir/bundle';
import { notFound } from '../../fhir/outcomes';
import { checkUnknownParams, splitComma } from '../../fhir/search-params';

const CITY_NAMES: Record<string, string> = { '350200': '厦门市', '350600': '漳州市', '350500': '泉州市' };

/** A member hospital as FHIR (API.md §4): city division code, grade and recognition mark as extensions. */
export function organizationResource(h: HospitalConfig, config: GatewayConfig): Organization {
  const ext = (name: string) => `${config.canonicalBase}/StructureDefinition/${name}`;
  const extension: Organization['extension'] = [{ url: ext('hospital-grade'), valueCode: h.grade }];
  if (h.recognitionMark) {
    extension.push({
      url: ext('recognition-mark'),
      extension: [
        { url: 'scope', valueCode: h.recognitionMark.scope },
        { url: 'region', valueString: h.recognitionMark.region },
        { url: 'text', valueString: h.recognitionMark.text },
      ],
    });
  }
  return {
    resourceType: 'Organization',
    id: h.id,
    meta: { source: config.publicBaseUrl },
    extension,
    identifier: [
      { system: `${config.canonicalBase}/sid/hospital`, value: h.id },
      ...(h.institutionCode ? [{ system: 'urn:oid:2.16.156.10011.1.5', value: h.institutionCode }] : []),
    ],
    active: true,
    type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/organization-type', code: 'prov', display: 'Healthcare Provider' }] }],
    name: h.name,
    address: [
      {
        city: CITY_NAMES[h.city] ?? CITIES[h.city as keyof typeof CITIES],
        state: '福建省',
        country: 'CN',
        extension: [{ url: ext('division-code'), valueCode: h.city }],
      },
    ],
  };
}

/** `GET /Organization[?_id=&city=&grade=]`, `GET /Organization/{id}`. */
export function organizationRoutes(deps: { config: GatewayConfig }): Route[] {
  const { config } = deps;
  const access = { kind: 'token' as const, resource: 'Organization', permission: 's' as const };
  async function search(req: FhirRequest) {
    checkUnknownParams(req.query, new Set(['_id', 'city', 'grade', 'name']), req.headers.prefer);
    const ids = (req.query._id ?? []).flatMap(splitComma);
    const cities = (req.query.city ?? []).flatMap(splitComma);
    const grades = (req.query.grade ?? []).flatMap(splitComma);
    const name = req.query.name?.[0];
    const matches = config.hospitals
      .filter((h) => (!ids.length || ids.includes(h.id)) && (!cities.length || cities.includes(h.city)) && (!grades.length || grades.includes(h.grade)))
      .filter((h) => !name || h.name.includes(name))
      .map((h) => organizationResource(h, config));
    const params = Object.entries(req.query).flatMap(([k, vs]) => (['_id', 'city', 'grade', 'name'].includes(k) ? vs.map((v) => [k, v] as [string, string]) : []));
    return { body: searchsetBundle({ publicBaseUrl: config.publicBaseUrl, path: '/Organization', params, matches, total: matches.length, offset: 0, count: Math.max(matches.length, 1) }) };
  }
  async function read(req: FhirRequest) {
    const h = config.hospitals.find((x) => x.id === req.params.id);
    if (!h) throw notFound(`Organization/${req.params.id.slice(0, 64)} is not a member hospital`);
    return { body: organizationResource(h, config) };
  }
  return [
    { method: 'GET', path: '/Organization', interaction: 'search-type', resourceType: 'Organization', access, audited: true, body: 'none', handler: search },
    {
      method: 'GET',
      path: '/Organization/:id',
      interaction: 'read',
      resourceType: 'Organization',
      access: { kind: 'token', resource: 'Organization', permission: 'r' },
      audited: true,
      body: 'none',
      handler: read,
    },
  ];
}
