import type { Coding, DiagnosticReport, ImagingStudy, Meta, Observation, Reference } from '@medplum/fhirtypes';
import { RESULT_TYPES, type ResultResource, type ResultType } from '../../adapters/adapter';

/**
 * Gateway ids name their hospital: `<hospital id>.<local id>` (hospital ids never contain a dot,
 * FHIR ids allow one). Reads split at the first dot and go to that hospital.
 */
export function gatewayId(hospitalId: string, localId: string): string {
  return `${hospitalId}.${localId}`;
}

export function parseGatewayId(id: string): { hospitalId: string; localId: string } | null {
  const dot = id.indexOf('.');
  if (dot < 2 || dot === id.length - 1) return null;
  return { hospitalId: id.slice(0, dot), localId: id.slice(dot + 1) };
}

export const CONFIDENTIALITY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
const RESTRICTED: Coding = { system: CONFIDENTIALITY_SYSTEM, code: 'R', display: 'restricted' };

/**
 * An adapter's resource put in gateway form, in place: gateway ids and references, the regional
 * patient as subject, `meta.source` naming the hospital, and `R` when the catalog item is
 * sensitive. Adapters hand over fresh objects the caller owns (HospitalAdapter), so only top-level
 * fields are replaced here, never nested objects an adapter might share between resources; no
 * copy is made, because this runs on every result of every search.
 */
export function toGatewayForm<T extends ResultResource>(
  resource: T,
  hospitalId: string,
  opts: { publicBaseUrl: string; patientId: string; sensitive: boolean },
): T {
  resource.id = gatewayId(hospitalId, resource.id ?? '');
  const meta: Meta = { ...(resource.meta ?? {}), source: `${opts.publicBaseUrl}/Organization/${hospitalId}` };
  delete meta.versionId;
  if (opts.sensitive && !meta.security?.some((s) => s.system === CONFIDENTIALITY_SYSTEM && s.code === 'R')) {
    meta.security = [...(meta.security ?? []), RESTRICTED];
  }
  resource.meta = meta;
  resource.subject = { reference: `Patient/${opts.patientId}` };
  if (resource.resourceType === 'DiagnosticReport') {
    const dr = resource as DiagnosticReport;
    if (dr.result) dr.result = rewriteAll(dr.result, hospitalId);
    if (dr.imagingStudy) dr.imagingStudy = rewriteAll(dr.imagingStudy, hospitalId);
  } else if (resource.resourceType === 'Observation') {
    const o = resource as Observation;
    if (o.hasMember) o.hasMember = rewriteAll(o.hasMember, hospitalId);
    if (o.derivedFrom) o.derivedFrom = rewriteAll(o.derivedFrom, hospitalId);
  }
  for (const field of HOSPITAL_ONLY_REFERENCES[resource.resourceType]) {
    if (field in resource) delete (resource as unknown as Record<string, unknown>)[field];
  }
  return resource;
}

const RESULT_TYPE_NAMES: ReadonlySet<string> = new Set(RESULT_TYPES);

/** References to results, given as gateway ids (new Reference objects: the old may be shared). */
function rewriteAll<R extends Reference<any>>(refs: R[], hospitalId: string): R[] {
  return refs.map((ref) => rewriteReference(ref, hospitalId));
}

/** `Observation/5`, `…/fhir/Observation/5` → `Observation/<hospital>.5`; anything else unchanged. */
function rewriteReference<R extends Reference<any>>(ref: R, hospitalId: string): R {
  const value = ref?.reference;
  if (!value) return ref;
  const last = value.lastIndexOf('/');
  if (last <= 0 || last === value.length - 1) return ref;
  const typeStart = value.lastIndexOf('/', last - 1) + 1;
  const type = value.slice(typeStart, last);
  if (!RESULT_TYPE_NAMES.has(type)) return ref;
  return { ...ref, reference: `${type}/${gatewayId(hospitalId, value.slice(last + 1))}` };
}

/**
 * References to resources that stay inside the hospital (encounters, staff, specimens, orders):
 * the gateway serves none of them, so they would dangle, and minimum necessary says leave them out.
 */
const HOSPITAL_ONLY_REFERENCES: Record<ResultType, readonly string[]> = {
  DiagnosticReport: ['encounter', 'performer', 'resultsInterpreter', 'specimen', 'basedOn'],
  Observation: ['encounter', 'performer', 'specimen', 'basedOn'],
  ImagingStudy: ['encounter', 'basedOn', 'referrer', 'interpreter', 'endpoint'],
};

export function securityLabels(r: ResultResource): readonly string[] {
  const security = r.meta?.security;
  if (!security?.length) return NO_LABELS; // most results: asked for each, so nothing is allocated
  return security.map((s) => s.code).filter((c): c is string => Boolean(c));
}
const NO_LABELS: readonly string[] = Object.freeze([]);
