import type { CodeableConcept } from '@medplum/fhirtypes';
import { V2_0074 } from './systems';

/**
 * Diagnostic service sections (HL7 table 0074, OBR-24) and the umbrella categories `LAB` / `RAD`
 * the gateway's `category=` search relies on (API.md §4). Hospitals also send section words that
 * are not in table 0074 (`MR`, `US`, `DX`…): they are mapped to the table's code, and the hospital's
 * word is kept in `CodeableConcept.text`.
 */
const V2_0074_DISPLAY: Record<string, string> = {
  LAB: 'Laboratory', HM: 'Hematology', CH: 'Chemistry', SR: 'Serology', IMM: 'Immunology', MB: 'Microbiology',
  MCB: 'Mycobacteriology', MYC: 'Mycology', BG: 'Blood Gases', BLB: 'Blood Bank', TX: 'Toxicology', VR: 'Virology',
  SP: 'Surgical Pathology', CP: 'Cytopathology', OSL: 'Outside Lab', OTH: 'Other',
  RAD: 'Radiology', CT: 'CAT Scan', NMR: 'Nuclear Magnetic Resonance', NMS: 'Nuclear Medicine Scan', RX: 'Radiograph',
  RUS: 'Radiology Ultrasound', OUS: 'OB Ultrasound', VUS: 'Vascular Ultrasound', CUS: 'Cardiac Ultrasound', XRC: 'Cineradiograph',
};

const IMAGING_SECTIONS = new Set(['RAD', 'CT', 'NMR', 'NMS', 'RX', 'RUS', 'OUS', 'VUS', 'CUS', 'XRC']);

/** Local section words (and DICOM modalities) → table 0074. */
const SECTION_ALIASES: Record<string, string> = {
  MR: 'NMR', MRI: 'NMR', US: 'RUS', DX: 'RX', CR: 'RX', DR: 'RX', XR: 'RX', MG: 'RX', NM: 'NMS', PET: 'NMS', XA: 'XRC', RF: 'XRC',
};

/** Table 0074 section → DICOM modality (for imaging reports that name only their section). */
const SECTION_MODALITY: Record<string, string> = {
  CT: 'CT', NMR: 'MR', NMS: 'NM', RX: 'DX', RUS: 'US', OUS: 'US', VUS: 'US', CUS: 'US', XRC: 'XA',
};

/** DICOM modality → table 0074 section. */
const MODALITY_SECTION: Record<string, string> = {
  CT: 'CT', MR: 'NMR', US: 'RUS', DX: 'RX', CR: 'RX', DR: 'RX', MG: 'RX', RF: 'XRC', XA: 'XRC', NM: 'NMS', PT: 'NMS',
};

export interface Section {
  /** the table 0074 code */
  code: string;
  kind: 'lab' | 'imaging';
  /** the hospital's word when it differs from `code` */
  text?: string;
}

/** Read a hospital's section word; unknown sections are laboratory sections, kept as sent. */
export function readSection(word: string | undefined | null): Section | undefined {
  const raw = word?.trim().toUpperCase();
  if (!raw) return undefined;
  const code = SECTION_ALIASES[raw] ?? raw;
  const kind = IMAGING_SECTIONS.has(code) ? 'imaging' : 'lab';
  return code === raw ? { code, kind } : { code, kind, text: word!.trim() };
}

export function isImagingSection(word: string | undefined | null): boolean {
  return readSection(word)?.kind === 'imaging';
}

export function sectionForModality(modality: string | undefined): Section | undefined {
  const code = modality ? MODALITY_SECTION[modality.toUpperCase()] : undefined;
  return code ? { code, kind: 'imaging', ...(code !== modality ? { text: modality } : {}) } : undefined;
}

export function modalityForSection(section: Section | undefined): string | undefined {
  if (!section) return undefined;
  const t = section.text?.toUpperCase();
  if (t && MODALITY_SECTION[t]) return t === 'DR' ? 'DX' : t === 'MRI' ? 'MR' : t;
  return SECTION_MODALITY[section.code];
}

const concept = (code: string, text?: string): CodeableConcept => {
  const display = V2_0074_DISPLAY[code];
  const cc: CodeableConcept = { coding: [{ system: V2_0074, code, ...(display ? { display } : {}) }] };
  if (text) cc.text = text;
  return cc;
};

/**
 * DiagnosticReport.category: the section's code and the umbrella (`LAB` for lab sections, `RAD`
 * for imaging), each once.
 */
export function reportCategories(section: Section | undefined, kind: 'lab' | 'imaging'): CodeableConcept[] {
  const umbrella = kind === 'imaging' ? 'RAD' : 'LAB';
  const out: CodeableConcept[] = [];
  if (section && section.code !== umbrella) out.push(concept(section.code, section.text));
  out.push(concept(umbrella));
  return out;
}

export const umbrellaFor = (code: string | undefined): 'LAB' | 'RAD' | undefined => {
  if (!code) return undefined;
  const s = readSection(code);
  return s ? (s.kind === 'imaging' ? 'RAD' : 'LAB') : undefined;
};
