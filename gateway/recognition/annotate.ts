import type { Extension } from '@medplum/fhirtypes';
import type { ResultResource } from '../../adapters/adapter';
import type { GatewayConfig } from '../config';
import type { CatalogItem } from './contract';
import { resultTime } from '../fhir/result-time';
import { RECOGNITION_STATUSES, recognitionStatus, type RecognitionHospital, type RecognitionVerdict } from './recognition-status';

/**
 * The recognition extension every result carries (API.md §6):
 * `<canonical>/StructureDefinition/recognition` with `status` (valueCode), `item` (valueCoding,
 * system `<canonical>/CodeSystem/recognition-item`) when matched, and `validUntil`
 * (valueDateTime) when recognizable. Runs on every result of every search, so everything that
 * does not depend on the result is worked out once, in {@link createAnnotator}.
 */

export const recognitionExtensionUrl = (canonicalBase: string) => `${canonicalBase}/StructureDefinition/recognition`;
export const recognitionItemSystem = (canonicalBase: string) => `${canonicalBase}/CodeSystem/recognition-item`;

export type Annotate = (
  resource: ResultResource,
  item: CatalogItem | undefined,
  sourceHospitalId: string,
  requesterHospitalId: string | undefined,
  now: Date,
) => RecognitionVerdict;

/** The hospitals of the configuration as the rule sees them, by id. */
export function recognitionHospitals(config: Pick<GatewayConfig, 'hospitals'>): Map<string, RecognitionHospital> {
  return new Map(config.hospitals.map((h) => [h.id, { id: h.id, grade: h.grade, recognizedItems: h.recognizedItems }]));
}

/** Judge one result for a requesting hospital (hospitals unknown to the configuration have no grade and no items). */
export function judge(
  hospitals: ReadonlyMap<string, RecognitionHospital>,
  resource: ResultResource,
  item: CatalogItem | undefined,
  sourceHospitalId: string,
  requesterHospitalId: string | undefined,
  now: Date,
): RecognitionVerdict {
  return recognitionStatus({
    source: hospitals.get(sourceHospitalId) ?? { id: sourceHospitalId },
    requester: requesterHospitalId === undefined ? undefined : (hospitals.get(requesterHospitalId) ?? { id: requesterHospitalId }),
    resultType: resource.resourceType,
    resultStatus: resource.status,
    resultTime: resultTime(resource),
    item,
    now,
  });
}

/** An annotator bound to a configuration: sets (replacing any earlier one) the recognition extension. */
export function createAnnotator(config: Pick<GatewayConfig, 'hospitals' | 'canonicalBase'>): Annotate {
  const hospitals = recognitionHospitals(config);
  const url = recognitionExtensionUrl(config.canonicalBase);
  const system = recognitionItemSystem(config.canonicalBase);
  // The `status` and `item` parts are the same for every result with that status or item: built
  // once and shared (frozen, so no later step can change one result's part under another's).
  const statusParts = new Map(RECOGNITION_STATUSES.map((status) => [status, Object.freeze<Extension>({ url: 'status', valueCode: status })]));
  const itemParts = new WeakMap<CatalogItem, Extension>();
  const itemPart = (item: CatalogItem) => {
    let part = itemParts.get(item);
    if (!part) itemParts.set(item, (part = Object.freeze({ url: 'item', valueCoding: Object.freeze({ system, code: item.code, display: item.display }) })));
    return part;
  };
  // Without a validUntil the whole extension depends only on the status and the item: shared too.
  const noItem = new Map<string, Extension>();
  const byItem = new WeakMap<CatalogItem, Map<string, Extension>>();
  const sharedExtension = (status: RecognitionVerdict['status'], item: CatalogItem | undefined) => {
    let forItem = item ? byItem.get(item) : noItem;
    if (!forItem) byItem.set(item!, (forItem = new Map()));
    let ext = forItem.get(status);
    if (!ext) {
      const parts = item ? [statusParts.get(status)!, itemPart(item)] : [statusParts.get(status)!];
      forItem.set(status, (ext = Object.freeze<Extension>({ url, extension: Object.freeze(parts) as Extension[] })));
    }
    return ext;
  };
  return (resource, item, sourceHospitalId, requesterHospitalId, now) => {
    const verdict = judge(hospitals, resource, item, sourceHospitalId, requesterHospitalId, now);
    let ext: Extension;
    if (verdict.validUntil) {
      const parts: Extension[] = [statusParts.get(verdict.status)!];
      if (item) parts.push(itemPart(item));
      parts.push({ url: 'validUntil', valueDateTime: verdict.validUntil.toISOString() });
      ext = { url, extension: parts };
    } else ext = sharedExtension(verdict.status, item);
    const existing = resource.extension;
    resource.extension = existing?.length ? [...existing.filter((e) => e.url !== url), ext] : [ext];
    return verdict;
  };
}

/** The recognition status and validUntil a resource carries, if any. */
export function readRecognition(resource: ResultResource, canonicalBase: string): { status?: string; item?: string; validUntil?: string } | undefined {
  const ext = resource.extension?.find((e) => e.url === recognitionExtensionUrl(canonicalBase));
  if (!ext) return undefined;
  const sub = (u: string) => ext.extension?.find((e) => e.url === u);
  return { status: sub('status')?.valueCode, item: sub('item')?.valueCoding?.code, validUntil: sub('validUntil')?.valueDateTime };
}
