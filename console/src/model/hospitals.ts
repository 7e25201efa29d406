import type { Organization, Resource } from '@medplum/fhirtypes';

/** The member hospitals as `GET /Organization` describes them: name, city (division code) and grade. */

export interface Hospital {
  id: string;
  name: string;
  /** division code: 350200 Xiamen, 350600 Zhangzhou, 350500 Quanzhou */
  cityCode?: string;
  grade?: string;
}

const DIVISION = '/StructureDefinition/division-code';
const GRADE = '/StructureDefinition/hospital-grade';

export function hospitalsFrom(orgs: readonly Organization[]): Map<string, Hospital> {
  const out = new Map<string, Hospital>();
  for (const o of orgs) {
    if (!o.id) continue;
    const division = o.address?.flatMap((a) => a.extension ?? []).find((e) => e.url?.endsWith(DIVISION))?.valueCode;
    const grade = o.extension?.find((e) => e.url?.endsWith(GRADE))?.valueCode;
    out.set(o.id, { id: o.id, name: o.name ?? o.id, ...(division ? { cityCode: division } : {}), ...(grade ? { grade } : {}) });
  }
  return out;
}

/**
 * The hospital a result came from: `meta.source` = `<base>/Organization/<id>` (API.md §4), else
 * the gateway id's prefix (`<hospital>.<local id>`).
 */
export function sourceHospital(r: Resource): string | undefined {
  const m = /\/Organization\/([^/?#]+)$/.exec(r.meta?.source ?? '');
  if (m) return m[1];
  const dot = r.id?.indexOf('.') ?? -1;
  return dot > 0 ? r.id!.slice(0, dot) : undefined;
}

/** `Organization/<id>` → id */
export const orgId = (reference: string | undefined) => /^(?:.*\/)?Organization\/([^/]+)$/.exec(reference ?? '')?.[1];

/** The member hospitals as the choices of a select: id the value, name the text. */
export const hospitalChoices = (hospitals: ReadonlyMap<string, Hospital>) => [...hospitals.values()].map((h) => ({ value: h.id, text: h.name }));
