import type { Organization } from '@medplum/fhirtypes';
import { CITIES, CITY_NAMES_ZH, type GatewayConfig, type HospitalConfig } from '../../config';
import type { FhirRequest, Route, SearchParamDeclaration } from '../route';
import { searchsetBundle } from '../../fhir/bundle';
import { notFound } from '../../fhir/outcomes';
import { checkUnknownParams, ignoredOutcomes, parseCount, parseOffset, splitComma } from '../../fhir/search-params';

/** The parameters GET /Organization applies: the ones it accepts and the CapabilityStatement declares. */
const SEARCH_PARAMS: readonly SearchParamDeclaration[] = [
  { name: '_id', type: 'token' },
  { name: 'city', type: 'token' },
  { name: 'grade', type: 'token' },
  { name: 'name', type: 'string' },
];
const SEARCH_NAMES = SEARCH_PARAMS.map((p) => p.name);


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
        city: CITY_NAMES_ZH[h.city] ?? CITIES[h.city as keyof typeof CITIES],
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
    const ignored = checkUnknownParams(req.query, new Set([...SEARCH_NAMES, '_offset']), req.headers.prefer);
    // FHIR search: a repeated parameter ANDs, comma-separated values OR
    const groups = (name: string) => (req.query[name] ?? []).map(splitComma);
    const is = (name: string, value: string) => groups(name).every((g) => g.includes(value));
    const count = parseCount(req.query._count);
    const offset = parseOffset(req.query._offset);
    const matches = config.hospitals
      .filter((h) => is('_id', h.id) && is('city', h.city) && is('grade', h.grade))
      .filter((h) => groups('name').every((g) => g.some((n) => h.name.includes(n))))
      .map((h) => organizationResource(h, config));
    const params = Object.entries(req.query).flatMap(([k, vs]) => (SEARCH_NAMES.includes(k) ? vs.map((v) => [k, v] as [string, string]) : []));
    return {
      body: searchsetBundle({
        publicBaseUrl: config.publicBaseUrl,
        path: '/Organization',
        params,
        matches: matches.slice(offset, offset + count),
        outcomes: ignoredOutcomes(ignored),
        total: matches.length,
        offset,
        count,
      }),
    };
  }
  async function read(req: FhirRequest) {
    const h = config.hospitals.find((x) => x.id === req.params.id);
    if (!h) throw notFound(`Organization/${req.params.id.slice(0, 64)} is not a member hospital`);
    return { body: organizationResource(h, config) };
  }
  return [
    { method: 'GET', path: '/Organization', interaction: 'search-type', resourceType: 'Organization', access, audited: true, body: 'none', searchParams: SEARCH_PARAMS, handler: search },
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
