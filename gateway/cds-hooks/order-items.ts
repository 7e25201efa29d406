import type { Coding, DiagnosticReport, ImagingStudy, ServiceRequest } from '@medplum/fhirtypes';
import type { CodeMap } from '../../adapters/common/code-map';
import { recognitionItemSystem } from '../recognition/annotate';
import type { CatalogItem } from '../recognition/contract';
import { LOINC_SYSTEM } from '../recognition/item-matcher';
import type { Recognition } from '../recognition/recognition-service';

/**
 * Which catalogue item a draft order asks for (pure). An order names its test as the ordering
 * hospital's HIS does: our catalogue code (system `<canonical>/CodeSystem/recognition-item`), a
 * LOINC code, or the hospital's local code, read through that hospital's code map (API.md §2
 * `codeMap`). LOINC codes go through the same matcher as results, so an order for the CBC panel or
 * for one of its analytes is the CBC item; imaging orders are matched by their study code and
 * modality as studies are. Undefined when the order is not for a catalogue item.
 */
export function orderItem(order: ServiceRequest, ctx: { rules: Recognition; canonicalBase: string; codeMap?: CodeMap }): CatalogItem | undefined {
  const codings = (order.code?.coding ?? []).filter((c): c is Coding & { code: string } => typeof c?.code === 'string' && c.code.length > 0);
  const itemSystem = recognitionItemSystem(ctx.canonicalBase);
  for (const c of codings) {
    if (c.system === itemSystem) {
      const item = ctx.rules.byCode.get(c.code);
      if (item) return item;
    }
  }
  const loinc = new Set<string>();
  for (const c of codings) {
    if (c.system === LOINC_SYSTEM) loinc.add(c.code);
    const mapped = ctx.codeMap?.get(c.code.trim());
    if (mapped) loinc.add(mapped.loinc);
  }
  if (loinc.size) {
    const asReport: DiagnosticReport = {
      resourceType: 'DiagnosticReport',
      status: 'final',
      code: { coding: [...loinc].map((code) => ({ system: LOINC_SYSTEM, code })) },
    };
    const item = ctx.rules.matchItem(asReport);
    if (item) return item;
  }
  // An imaging order: its code is the exam code a study would carry, its modality the order's
  // category or a DICOM-coded coding.
  const modality = [...(order.category ?? []).flatMap((c) => c.coding ?? []), ...codings].find((c) => c.system === 'http://dicom.nema.org/resources/ontology/DCM');
  const asStudy: ImagingStudy = {
    resourceType: 'ImagingStudy',
    status: 'available',
    subject: { reference: 'Patient/order' },
    procedureCode: [{ coding: codings.filter((c) => c.system !== LOINC_SYSTEM) }],
    ...(modality?.code ? { modality: [{ system: modality.system, code: modality.code }] } : {}),
    ...(modality?.code && order.bodySite?.[0]?.coding?.[0]
      ? { series: [{ uid: '0', modality: { system: modality.system, code: modality.code }, bodySite: order.bodySite[0].coding[0] }] }
      : {}),
  };
  const item = ctx.rules.matchItem(asStudy);
  return item?.category === 'imaging' ? item : undefined;
}
