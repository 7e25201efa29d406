import type { Resource } from '@medplum/fhirtypes';

/** The recognition extension on every result (API.md §6, docs/recognition.md). */

export interface Recognition {
  status?: string;
  itemCode?: string;
  /** the catalogue's Chinese display, e.g. 血常规 */
  itemDisplay?: string;
  validUntil?: string;
}

export function recognitionOf(r: Resource): Recognition {
  const ext = (r as { extension?: Array<{ url?: string; extension?: Array<{ url?: string; valueCode?: string; valueDateTime?: string; valueCoding?: { code?: string; display?: string } }> }> }).extension?.find(
    (e) => e.url?.endsWith('/StructureDefinition/recognition'),
  );
  const out: Recognition = {};
  for (const sub of ext?.extension ?? []) {
    if (sub.url === 'status' && sub.valueCode) out.status = sub.valueCode;
    else if (sub.url === 'item' && sub.valueCoding) {
      if (sub.valueCoding.code) out.itemCode = sub.valueCoding.code;
      if (sub.valueCoding.display) out.itemDisplay = sub.valueCoding.display;
    } else if (sub.url === 'validUntil' && sub.valueDateTime) out.validUntil = sub.valueDateTime;
  }
  return out;
}
