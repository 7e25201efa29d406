import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * WS/T 500 CDA documents for the cda adapter's tests (test/support/cda/*.xml), written from the
 * templates of WS/T 500.6 (检查报告, C0006) and WS/T 500.7 (检验报告, C0007); docs/adapters.md
 * "cda" says where each template id, section code and data element code comes from.
 */
export const CDA_DIR = path.join(__dirname, 'cda');
export const CDA_NID = '350203199001010018';

export const CDA_FILES = {
  lab: 'lab-cbc.xml',
  labCorrected: 'lab-cbc-corrected.xml',
  unknownCode: 'lab-unknown-code.xml',
  exam: 'exam-ct-chest.xml',
  malformed: 'malformed.xml',
  notXml: 'not-xml.xml',
  wrongTemplate: 'wrong-template.xml',
  noResidentId: 'no-resident-id.xml',
  xxe: 'xxe.xml',
  entityExpansion: 'entity-expansion.xml',
} as const;

export const cdaText = (name: string): string => readFileSync(path.join(CDA_DIR, name), 'utf8');
export const cdaBytes = (name: string): Buffer => readFileSync(path.join(CDA_DIR, name));

/** The test hospital's code map: its local item and exam codes → LOINC. */
export const CDA_CODE_MAP = {
  WBC: { loinc: '6690-2', display: 'Leukocytes [#/volume] in Blood by Automated count', unit: '10*9/L' },
  PLT: { loinc: '777-3', display: 'Platelets [#/volume] in Blood by Automated count', unit: '10*9/L' },
  HBSAG: { loinc: '5196-1', display: 'Hepatitis B virus surface Ag [Presence] in Serum' },
  'CT-CHEST': { loinc: '24627-2', display: 'CT Chest' },
};
