import type { CodeableConcept, DiagnosticReport, ImagingStudy, Observation, Quantity, Reference, Resource } from '@medplum/fhirtypes';
import type { CodeMap, CodeMapEntry } from '../common/code-map';
import { umbrellaFor } from '../common/sections';
import { LOINC, UCUM, V2_0074 } from '../common/systems';
import { normaliseUnit } from '../common/ucum';

/**
 * Resources from a hospital that speaks FHIR R4 → what the gateway returns (API.md §4): LOINC
 * codings added through the code map beside the hospital's own, quantities given their UCUM code,
 * `LAB`/`RAD` umbrella categories on reports, references made relative, and no `meta.source` (the
 * gateway sets it). The resources are fresh from JSON, so they are amended in place.
 */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

export const isUsableResource = (r: unknown, type: string): r is Resource =>
  !!r && typeof r === 'object' && (r as Resource).resourceType === type && typeof (r as Resource).id === 'string' && FHIR_ID.test((r as Resource).id!);

/** Add the LOINC coding the code map knows for a local coding; the entry found, if any. */
export function mapConcept(cc: CodeableConcept | undefined, codeMap: CodeMap): CodeMapEntry | undefined {
  if (!cc?.coding?.length) return undefined;
  let entry: CodeMapEntry | undefined;
  for (const c of cc.coding) {
    if (c.system !== LOINC && c.code && !entry) entry = codeMap.get(c.code);
  }
  if (entry && !cc.coding.some((c) => c.system === LOINC)) cc.coding.unshift({ system: LOINC, code: entry.loinc, display: entry.display });
  return entry;
}

/** Give a Quantity its UCUM code when the hospital left it out or used another system. */
export function mapQuantity(q: Quantity | undefined, preferredUnit?: string): void {
  if (!q || (q.system === UCUM && q.code && !preferredUnit)) return;
  const n = normaliseUnit(q.unit ?? q.code, preferredUnit);
  if (!n.code) return;
  if (!q.unit && n.unit) q.unit = n.unit;
  q.system = UCUM;
  q.code = n.code;
}

/** `http://hospital/fhir/Observation/1` → `Observation/1` when it points into the hospital's base. */
export function relativeReference(ref: Reference | undefined, baseUrl: string): void {
  if (!ref?.reference) return;
  const base = baseUrl.replace(/\/+$/, '') + '/';
  if (ref.reference.startsWith(base)) ref.reference = ref.reference.slice(base.length);
}

function stripSource(r: Resource): void {
  if (r.meta?.source) {
    delete r.meta.source;
    if (!Object.keys(r.meta).length) delete r.meta;
  }
}

export function mapObservation(o: Observation, codeMap: CodeMap, baseUrl: string): Observation {
  stripSource(o);
  const entry = mapConcept(o.code, codeMap);
  mapQuantity(o.valueQuantity, entry?.unit);
  for (const rr of o.referenceRange ?? []) {
    mapQuantity(rr.low, entry?.unit);
    mapQuantity(rr.high, entry?.unit);
  }
  for (const c of o.component ?? []) {
    const ce = mapConcept(c.code, codeMap);
    mapQuantity(c.valueQuantity, ce?.unit);
  }
  relativeReference(o.subject, baseUrl);
  for (const m of o.hasMember ?? []) relativeReference(m, baseUrl);
  return o;
}

export function mapDiagnosticReport(dr: DiagnosticReport, codeMap: CodeMap, baseUrl: string): DiagnosticReport {
  stripSource(dr);
  mapConcept(dr.code, codeMap);
  relativeReference(dr.subject, baseUrl);
  for (const r of dr.result ?? []) relativeReference(r, baseUrl);
  for (const r of dr.imagingStudy ?? []) relativeReference(r, baseUrl);
  // the gateway's category=LAB / category=RAD searches need the umbrella beside the section
  const sections = (dr.category ?? []).flatMap((c) => (c.coding ?? []).filter((x) => x.system === V2_0074).map((x) => x.code));
  const umbrella = dr.imagingStudy?.length ? 'RAD' : sections.map((s) => umbrellaFor(s)).find(Boolean) ?? 'LAB';
  if (!sections.includes(umbrella)) {
    (dr.category ??= []).push({ coding: [{ system: V2_0074, code: umbrella, display: umbrella === 'RAD' ? 'Radiology' : 'Laboratory' }] });
  }
  return dr;
}

export function mapImagingStudy(s: ImagingStudy, codeMap: CodeMap, baseUrl: string): ImagingStudy {
  stripSource(s);
  for (const pc of s.procedureCode ?? []) mapConcept(pc, codeMap);
  relativeReference(s.subject, baseUrl);
  return s;
}
