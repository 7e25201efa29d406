import type { Coding, DiagnosticReport, ImagingStudy, Meta, Observation, Reference } from '@medplum/fhirtypes';
import type { ResultResource, ResultType } from '../../adapters/adapter';

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
 * A copy of an adapter's resource in gateway form: gateway ids and references, the regional patient
 * as subject, `meta.source` naming the hospital, and `R` when the catalog item is sensitive. Only
 * the top-level fields changed here are copied, so adapter-held objects are never mutated.
 */
export function toGatewayForm<T extends ResultResource>(
  resource: T,
  hospitalId: string,
  opts: { publicBaseUrl: string; patientId: string; sensitive: boolean },
): T {
  const out = { ...resource } as T;
  out.id = gatewayId(hospitalId, resource.id ?? '');
  const meta: Meta = { ...(resource.meta ?? {}), source: `${opts.publicBaseUrl}/Organization/${hospitalId}` };
  delete meta.versionId;
  if (opts.sensitive && !meta.security?.some((s) => s.system === CONFIDENTIALITY_SYSTEM && s.code === 'R')) {
    meta.security = [...(meta.security ?? []), RESTRICTED];
  }
  out.meta = meta;
  out.subject = { reference: `Patient/${opts.patientId}` };
  if (out.extension) out.extension = [...out.extension];
  const rewrite = <R extends Reference<any>>(ref: R | undefined): R | undefined => {
    if (!ref?.reference) return ref;
    const m = /^(?:.*\/)?(Observation|DiagnosticReport|ImagingStudy)\/([^/]+)$/.exec(ref.reference);
    return m ? ({ ...ref, reference: `${m[1]}/${gatewayId(hospitalId, m[2])}` } as R) : ref;
  };
  if (resource.resourceType === 'DiagnosticReport') {
    const dr = out as DiagnosticReport;
    if (dr.result) dr.result = dr.result.map((r) => rewrite(r)!);
    if (dr.imagingStudy) dr.imagingStudy = dr.imagingStudy.map((r) => rewrite(r)!);
  } else if (resource.resourceType === 'Observation') {
    const o = out as Observation;
    if (o.hasMember) o.hasMember = o.hasMember.map((r) => rewrite(r)!);
    if (o.derivedFrom) o.derivedFrom = o.derivedFrom.map((r) => rewrite(r)!);
  }
  for (const field of HOSPITAL_ONLY_REFERENCES[resource.resourceType]) delete (out as unknown as Record<string, unknown>)[field];
  return out;
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

/** The time a result is about: effective (or issued) for reports and observations, started for studies. */
export function resultTime(r: ResultResource): string | undefined {
  switch (r.resourceType) {
    case 'DiagnosticReport':
      return r.effectiveDateTime ?? r.effectivePeriod?.start ?? r.issued;
    case 'Observation':
      return r.effectiveDateTime ?? r.effectivePeriod?.start ?? r.effectiveInstant ?? r.issued;
    case 'ImagingStudy':
      return r.started;
  }
}

export function securityLabels(r: ResultResource): string[] {
  return (r.meta?.security ?? []).map((s) => s.code).filter((c): c is string => Boolean(c));
}
