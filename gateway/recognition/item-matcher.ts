import type { CodeableConcept, Coding, DiagnosticReport, ImagingStudy, Observation } from '@medplum/fhirtypes';
import type { ResultResource } from '../../adapters/adapter';
import type { CatalogItem } from './contract';

/**
 * Which catalogue item a result is (API.md §6: "by LOINC — the report's or any of its
 * observations' — or, for imaging, by modality and study code"). Pure: the catalogue is indexed
 * once ({@link indexCatalog}) and each call only reads the result.
 *
 * The rule, in order (docs/recognition.md "Matching"):
 * 1. the result's own LOINC code (DiagnosticReport.code / Observation.code);
 * 2. a report's member Observations' LOINC codes: the item covering most members wins;
 * 3. imaging (ImagingStudy, or a report of an imaging section): a study code (procedureCode /
 *    code) with a compatible modality, else modality + body-site words: the item whose longest
 *    matching word is longest wins (a SNOMED body-site code counts least), a tie matches nothing.
 * A LOINC code may belong to several items (CO2 is in RFT and ELEC). Ties are broken by: the code
 * is the item's first (panel or principal) code; then the shorter validity window (never claim a
 * result is valid longer than any item it could be); then catalogue order.
 */

export const LOINC_SYSTEM = 'http://loinc.org';
const DICOM_SYSTEM = 'http://dicom.nema.org/resources/ontology/DCM';

/** A modality as written by hospitals → the group it belongs to (DR and CR are both "DX"). */
const MODALITY_GROUP: Record<string, string> = {
  CT: 'CT',
  MR: 'MR', NMR: 'MR', MRI: 'MR', MRA: 'MR',
  DX: 'DX', CR: 'DX', DR: 'DX', RX: 'DX', XRC: 'DX', XR: 'DX',
  US: 'US', RUS: 'US', OUS: 'US', VUS: 'US', CUS: 'US',
  PT: 'PT', PET: 'PT',
  NM: 'NM', NMS: 'NM',
  DXA: 'DXA', BMD: 'DXA',
  MG: 'MG', XA: 'XA', RF: 'RF',
};
/** v2-0074 diagnostic service sections (and local ones seen in OBR-24) that mean an imaging report. */
const IMAGING_SECTION_MODALITY: Record<string, string | undefined> = {
  RAD: undefined, CT: 'CT', MR: 'MR', NMR: 'MR', US: 'US', RUS: 'US', OUS: 'US', VUS: 'US', CUS: 'US',
  RX: 'DX', XRC: 'DX', DX: 'DX', CR: 'DX', DR: 'DX', NMS: 'NM', NM: 'NM', PET: 'PT', DXA: 'DXA', BMD: 'DXA',
};

export const modalityGroup = (m: string): string => MODALITY_GROUP[m.trim().toUpperCase()] ?? m.trim().toUpperCase();
const normCode = (c: string): string => c.trim().toUpperCase().replace(/[\s_./]+/g, '-');

interface SiteWord {
  /** SNOMED-like numeric codes match codings exactly; words match text */
  kind: 'code' | 'ascii' | 'text';
  word: string;
  re?: RegExp;
}
interface ImagingEntry {
  item: CatalogItem;
  order: number;
  group: string;
  words: SiteWord[];
}

export interface CatalogIndex {
  readonly items: readonly CatalogItem[];
  /** LOINC code → the items holding it, best first for a result carrying that code alone */
  readonly byLoinc: ReadonlyMap<string, readonly CatalogItem[]>;
  readonly byStudyCode: ReadonlyMap<string, readonly ImagingEntry[]>;
  readonly imaging: readonly ImagingEntry[];
  readonly order: ReadonlyMap<CatalogItem, number>;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Pre-index a catalogue for {@link matchItem}: LOINC → items, study code → items, compiled body-site words. */
export function indexCatalog(items: readonly CatalogItem[]): CatalogIndex {
  const order = new Map<CatalogItem, number>();
  items.forEach((it, i) => order.set(it, i));
  const byLoinc = new Map<string, CatalogItem[]>();
  for (const item of items) {
    for (const code of item.loinc) {
      const list = byLoinc.get(code) ?? [];
      if (!list.includes(item)) list.push(item);
      byLoinc.set(code, list);
    }
  }
  for (const [code, list] of byLoinc) {
    list.sort((a, b) => preference(code, a, b, order));
  }
  const imaging: ImagingEntry[] = [];
  const byStudyCode = new Map<string, ImagingEntry[]>();
  for (const item of items) {
    if (item.category !== 'imaging') continue;
    const entry: ImagingEntry = {
      item,
      order: order.get(item)!,
      group: modalityGroup(item.modality ?? ''),
      words: (item.bodySite ?? []).map((w): SiteWord => {
        if (/^\d+$/.test(w)) return { kind: 'code', word: w };
        if (/^[\x20-\x7e]+$/.test(w)) return { kind: 'ascii', word: w, re: new RegExp(`(?:^|[^A-Za-z0-9])${escapeRe(w)}(?![A-Za-z0-9])`, 'i') };
        return { kind: 'text', word: w.toLowerCase() };
      }),
    };
    imaging.push(entry);
    for (const sc of item.studyCodes ?? []) {
      const key = normCode(sc);
      const list = byStudyCode.get(key) ?? [];
      list.push(entry);
      byStudyCode.set(key, list);
    }
  }
  return { items, byLoinc, byStudyCode, imaging, order };
}

/** Which of two items a result carrying `code` alone is: the item whose first code it is; the shorter window; catalogue order. */
function preference(code: string, a: CatalogItem, b: CatalogItem, order: ReadonlyMap<CatalogItem, number>): number {
  const pa = a.loinc[0] === code ? 0 : 1;
  const pb = b.loinc[0] === code ? 0 : 1;
  if (pa !== pb) return pa - pb;
  if (a.validityDays !== b.validityDays) return a.validityDays - b.validityDays;
  return order.get(a)! - order.get(b)!;
}

function loincCodes(cc: CodeableConcept | undefined): string[] {
  const out: string[] = [];
  for (const c of cc?.coding ?? []) if (c.system === LOINC_SYSTEM && c.code) out.push(c.code);
  return out;
}

/**
 * The catalogue item `resource` is, or undefined. `members` are a DiagnosticReport's result
 * Observations (contained Observations are used when none are given).
 */
export function matchItem(index: CatalogIndex, resource: ResultResource, members?: readonly Observation[]): CatalogItem | undefined {
  if (resource.resourceType !== 'ImagingStudy') {
    const own = bestForCodes(index, loincCodes(resource.code));
    if (own) return own;
    if (resource.resourceType === 'DiagnosticReport') {
      const obs = members ?? (resource.contained?.filter((c): c is Observation => c.resourceType === 'Observation') ?? []);
      const viaMembers = bestForMembers(index, obs);
      if (viaMembers) return viaMembers;
    }
  }
  return matchImaging(index, resource);
}

function bestForCodes(index: CatalogIndex, codes: string[]): CatalogItem | undefined {
  let best: { item: CatalogItem; code: string } | undefined;
  for (const code of codes) {
    const first = index.byLoinc.get(code)?.[0];
    if (first && (!best || preference(code, first, best.item, index.order) < 0)) best = { item: first, code };
  }
  return best?.item;
}

function bestForMembers(index: CatalogIndex, members: readonly Observation[]): CatalogItem | undefined {
  if (members.length === 0) return undefined;
  const score = new Map<CatalogItem, { covered: Set<string>; principal: number }>();
  for (const m of members) {
    for (const code of loincCodes(m.code)) {
      for (const item of index.byLoinc.get(code) ?? []) {
        const s = score.get(item) ?? { covered: new Set<string>(), principal: 0 };
        if (!s.covered.has(code)) {
          s.covered.add(code);
          if (item.loinc[0] === code) s.principal++;
        }
        score.set(item, s);
      }
    }
  }
  let best: CatalogItem | undefined;
  for (const [item, s] of score) {
    if (!best) {
      best = item;
      continue;
    }
    const b = score.get(best)!;
    const better =
      s.covered.size !== b.covered.size
        ? s.covered.size > b.covered.size
        : s.principal !== b.principal
          ? s.principal > b.principal
          : item.validityDays !== best.validityDays
            ? item.validityDays < best.validityDays
            : index.order.get(item)! < index.order.get(best)!;
    if (better) best = item;
  }
  return best;
}

interface ImagingFacts {
  groups: Set<string>;
  codes: string[];
  siteCodes: Set<string>;
  text: string;
}

function codingTexts(cc: CodeableConcept | Coding | undefined, into: string[]): void {
  if (!cc) return;
  if ('coding' in cc || 'text' in cc) {
    const c = cc as CodeableConcept;
    if (c.text) into.push(c.text);
    for (const x of c.coding ?? []) if (x.display) into.push(x.display);
  }
  if ('display' in cc && (cc as Coding).display) into.push((cc as Coding).display!);
}

function imagingFacts(resource: ResultResource): ImagingFacts | undefined {
  const groups = new Set<string>();
  const codes: string[] = [];
  const siteCodes = new Set<string>();
  const texts: string[] = [];
  if (resource.resourceType === 'ImagingStudy') {
    const s = resource as ImagingStudy;
    for (const m of s.modality ?? []) if (m.code) groups.add(modalityGroup(m.code));
    for (const pc of s.procedureCode ?? []) {
      for (const c of pc.coding ?? []) if (c.code) codes.push(normCode(c.code));
      codingTexts(pc, texts);
    }
    if (s.description) texts.push(s.description);
    for (const se of s.series ?? []) {
      if (se.modality?.code) groups.add(modalityGroup(se.modality.code));
      if (se.description) texts.push(se.description);
      if (se.bodySite?.code) siteCodes.add(se.bodySite.code);
      if (se.bodySite?.display) texts.push(se.bodySite.display);
    }
  } else if (resource.resourceType === 'DiagnosticReport') {
    const r = resource as DiagnosticReport;
    let imaging = Boolean(r.imagingStudy?.length);
    for (const cat of r.category ?? []) {
      for (const c of cat.coding ?? []) {
        const code = c.code?.toUpperCase();
        if (!code) continue;
        if (c.system === DICOM_SYSTEM) {
          imaging = true;
          groups.add(modalityGroup(code));
        } else if (code in IMAGING_SECTION_MODALITY) {
          imaging = true;
          const g = IMAGING_SECTION_MODALITY[code];
          if (g) groups.add(g);
        }
      }
    }
    if (!imaging) return undefined;
    for (const c of r.code?.coding ?? []) {
      if (!c.code) continue;
      if (c.system === DICOM_SYSTEM) groups.add(modalityGroup(c.code));
      else if (c.system !== LOINC_SYSTEM) codes.push(normCode(c.code));
    }
    codingTexts(r.code, texts);
  } else {
    return undefined;
  }
  return { groups, codes, siteCodes, text: texts.join(' \u0000 ') };
}

function matchImaging(index: CatalogIndex, resource: ResultResource): CatalogItem | undefined {
  const facts = imagingFacts(resource);
  if (!facts) return undefined;
  // A study code identifies the item; the modality, when known, must agree with it.
  for (const code of facts.codes) {
    for (const entry of index.byStudyCode.get(code) ?? []) {
      if (facts.groups.size === 0 || facts.groups.has(entry.group)) return entry.item;
    }
  }
  // Modality + body site: the item whose longest matching word is longest; a tie is ambiguous.
  if (facts.groups.size === 0) return undefined;
  const lower = facts.text.toLowerCase();
  let best: CatalogItem | undefined;
  let bestScore = 0;
  let tie = false;
  for (const entry of index.imaging) {
    if (!facts.groups.has(entry.group)) continue;
    let score = 0;
    for (const w of entry.words) {
      const hit =
        w.kind === 'code' ? facts.siteCodes.has(w.word) : w.kind === 'ascii' ? w.re!.test(facts.text) : lower.includes(w.word);
      // A body-site code (head, thorax) is generic anatomy: any matching word says more.
      const weight = w.kind === 'code' ? 1 : w.word.length;
      if (hit && weight > score) score = weight;
    }
    if (score === 0) continue;
    if (score > bestScore) {
      best = entry.item;
      bestScore = score;
      tie = false;
    } else if (score === bestScore) {
      tie = true;
    }
  }
  return tie ? undefined : best;
}

/** A matcher bound to one catalogue: `(resource, members?) => item`. */
export type ItemMatcher = (resource: ResultResource, members?: readonly Observation[]) => CatalogItem | undefined;

export function createItemMatcher(items: readonly CatalogItem[]): ItemMatcher {
  const index = indexCatalog(items);
  return (resource, members) => matchItem(index, resource, members);
}
