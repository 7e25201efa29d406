import type { DiagnosticReport, ImagingStudy, Observation } from '@medplum/fhirtypes';
import type { ResultResource } from '../../../../adapters/adapter';
import { loadCatalog, parseCatalog } from '../../../../gateway/recognition/catalog';
import { createItemMatcher, indexCatalog, matchItem } from '../../../../gateway/recognition/item-matcher';
import { LOINC, obs, report, study } from '../../../support/recognition-fixtures';

const AT = '2025-06-01T08:00:00Z';
const match = createItemMatcher(loadCatalog());
const code = (r: ResultResource, members?: Observation[]) => match(r, members)?.code;

describe('lab results by LOINC', () => {
  test.each<[string, ResultResource, string | undefined]>([
    ['a CBC panel report', report('r', { loinc: '58410-2', at: AT }), 'CBC'],
    ['a hemoglobin observation', obs('o', '718-7', AT), 'CBC'],
    ['a potassium observation', obs('o', '2823-3', AT), 'ELEC'],
    ['a fasting glucose observation', obs('o', '14771-0', AT), 'GLU'],
    ['HbA1c (IFCC)', obs('o', '59261-8', AT), 'HBA1C'],
    ['HIV Ag/Ab', obs('o', '56888-1', AT), 'HIV'],
    ['an unknown LOINC code', obs('o', '12345-5', AT), undefined],
    ['a code of another system', { ...obs('o', '718-7', AT), code: { coding: [{ system: 'urn:local', code: '718-7' }] } }, undefined],
    ['a code with no system', { ...obs('o', '718-7', AT), code: { coding: [{ code: '718-7' }] } }, undefined],
    ['no code at all', { ...obs('o', '718-7', AT), code: { text: '血常规' } }, undefined],
    ['a local coding beside LOINC', { ...obs('o', '718-7', AT), code: { coding: [{ system: 'urn:local', code: 'HGB' }, { system: LOINC, code: '718-7' }] } }, 'CBC'],
    // CO2 (2028-9) is in RFT (14 days) and ELEC (7 days), first in neither: the shorter window wins
    ['a code of two items, first of neither', obs('o', '2028-9', AT), 'ELEC'],
  ])('%s → %s', (_name, resource, expected) => expect(code(resource)).toBe(expected));

  test('a report with a local code, matched through its observations', () => {
    const members = [obs('a', '6690-2', AT), obs('b', '718-7', AT), obs('c', '777-3', AT)];
    expect(code(report('r', { at: AT, members: ['a', 'b', 'c'] }), members)).toBe('CBC');
  });
  test('a report matched through contained observations when no members are given', () => {
    const r: DiagnosticReport = { ...report('r', { at: AT }), contained: [obs('k', '2823-3', AT), obs('n', '2951-2', AT)] };
    expect(code(r)).toBe('ELEC');
  });
  test('the report\'s own code comes before its members', () => {
    expect(code(report('r', { loinc: '24362-6', at: AT }), [obs('k', '2823-3', AT), obs('n', '2951-2', AT)])).toBe('RFT');
  });
  test('members: the item covering most of them wins', () => {
    // creatinine, urea and CO2 → RFT (3 members), though CO2 alone would be ELEC
    const members = [obs('a', '14682-9', AT), obs('b', '22664-7', AT), obs('c', '2028-9', AT)];
    expect(code(report('r', { at: AT }), members)).toBe('RFT');
  });
  test('a pre-operative screen with a local code, through its four sensitive members', () => {
    const members = [obs('a', '5196-1', AT), obs('b', '16128-1', AT), obs('c', '20507-0', AT), obs('d', '7917-8', AT)];
    const item = match(report('r', { at: AT, category: 'SR' }), members);
    expect(item?.code).toBe('PREOP');
    expect(item?.sensitive).toBe(true);
  });
  test('HBsAg alone is hepatitis B serology', () => expect(code(obs('o', '5196-1', AT))).toBe('HBV'));
  test('a report whose members are all unknown is not in the catalog', () => {
    expect(code(report('r', { at: AT }), [obs('a', '12345-5', AT)])).toBeUndefined();
  });
});

describe('a LOINC code in several items (the tie rule)', () => {
  const items = parseCatalog([
    { code: 'BMP', display: 'basic panel', category: 'lab', loinc: ['24321-2', '2345-7', '2823-3'], validityDays: 14 },
    { code: 'GLU', display: 'glucose', category: 'lab', loinc: ['2345-7', '14749-6'], validityDays: 30 },
    { code: 'K', display: 'potassium', category: 'lab', loinc: ['6298-4', '2823-3'], validityDays: 7 },
    { code: 'K2', display: 'potassium again', category: 'lab', loinc: ['2951-2', '2823-3'], validityDays: 7 },
  ]);
  const index = indexCatalog(items);
  const m = (r: ResultResource, members?: Observation[]) => matchItem(index, r, members)?.code;
  test('the item whose first code it is wins over a shorter window', () => expect(m(obs('o', '2345-7', AT))).toBe('GLU'));
  test('else the shorter window, then catalogue order', () => expect(m(obs('o', '2823-3', AT))).toBe('K'));
  test('the index lists the items of a code best first', () => expect(index.byLoinc.get('2823-3')?.map((i) => i.code)).toEqual(['K', 'K2', 'BMP']));
  test('members: coverage first, then principal codes', () => {
    expect(m(report('r', { at: AT }), [obs('a', '2345-7', AT), obs('b', '2823-3', AT)])).toBe('BMP');
    expect(m(report('r', { at: AT }), [obs('a', '2345-7', AT)])).toBe('GLU');
  });
});

describe('imaging by modality and study code, or modality and body site', () => {
  const rad = (id: string, opts: { category: string; code?: string; text?: string; loinc?: string }): DiagnosticReport =>
    report(id, {
      at: AT,
      category: opts.category,
      code: opts.loinc ? [{ system: LOINC, code: opts.loinc }] : opts.code ? [{ system: 'urn:local:exam', code: opts.code }] : [{ system: 'urn:local:exam', code: 'ZZZ' }],
      text: opts.text,
    });
  test.each<[string, ResultResource, string | undefined]>([
    ['CT study, code CT-CHEST-PLAIN', study('s', { modality: 'CT', code: 'CT-CHEST-PLAIN', at: AT }), 'CT-CHEST'],
    ['CT study, code CT-HEAD-PLAIN', study('s', { modality: 'CT', code: 'CT-HEAD-PLAIN', at: AT }), 'CT-HEAD'],
    ['study code in another spelling', study('s', { modality: 'CT', code: 'ct_chest_plain', at: AT }), 'CT-CHEST'],
    ['MR lumbar spine', study('s', { modality: 'MR', code: 'MR-LSPINE', at: AT }), 'MR-LSPINE'],
    ['MR cervical spine', study('s', { modality: 'MR', code: 'MR-CSPINE', at: AT }), 'MR-CSPINE'],
    ['head MRA', study('s', { modality: 'MR', code: 'MRA-HEAD', at: AT }), 'MRA-HEAD'],
    ['chest X-ray from a CR room', study('s', { modality: 'CR', code: 'DR-CHEST', at: AT }), 'DR-CHEST'],
    ['chest X-ray as DX', study('s', { modality: 'DX', code: 'DR-CHEST', at: AT }), 'DR-CHEST'],
    ['abdominal ultrasound', study('s', { modality: 'US', code: 'US-ABD', at: AT }), 'US-ABD'],
    ['thyroid ultrasound', study('s', { modality: 'US', code: 'US-THYROID', at: AT }), 'US-THYROID'],
    ['breast ultrasound', study('s', { modality: 'US', code: 'US-BREAST', at: AT }), 'US-BREAST'],
    ['bone density (DICOM BMD)', study('s', { modality: 'BMD', code: 'DXA', at: AT }), 'BMD'],
    ['a study code with a contradicting modality', study('s', { modality: 'MR', code: 'CT-CHEST-PLAIN', at: AT }), undefined],
    ['a study code, no modality', study('s', { code: 'CT-HEAD-PLAIN', at: AT }), 'CT-HEAD'],
    ['CT, description 胸部CT平扫', study('s', { modality: 'CT', code: 'LOCAL-0042', description: '胸部CT平扫', at: AT }), 'CT-CHEST'],
    ['CT, description 头颅CT平扫', study('s', { modality: 'CT', description: '头颅CT平扫', at: AT }), 'CT-HEAD'],
    ['CT, description in English', study('s', { modality: 'CT', description: 'CT Head without contrast', at: AT }), 'CT-HEAD'],
    ['CT, SNOMED body site thorax', study('s', { modality: 'CT', bodySite: { code: '51185008' }, at: AT }), 'CT-CHEST'],
    ['CT, body site display', study('s', { modality: 'CT', bodySite: { display: 'Chest' }, at: AT }), 'CT-CHEST'],
    ['MR, 腰椎MR平扫', study('s', { modality: 'MR', description: '腰椎MR平扫', at: AT }), 'MR-LSPINE'],
    ['MR, 头颅MRA', study('s', { modality: 'MR', description: '头颅MRA', at: AT }), 'MRA-HEAD'],
    ['MR brain, not an angiogram', study('s', { modality: 'MR', description: '头颅MR平扫', at: AT }), 'MR-HEAD'],
    ['MR head by study code', study('s', { modality: 'MR', code: 'MR-HEAD-PLAIN', at: AT }), 'MR-HEAD'],
    ['MRA with the head body-site code: the words say more than the code', study('s', { modality: 'MR', description: '头颅MRA（TOF）', bodySite: { code: '69536005' }, at: AT }), 'MRA-HEAD'],
    ['MR, head body-site code only', study('s', { modality: 'MR', bodySite: { code: '69536005' }, at: AT }), 'MR-HEAD'],
    ['MR, a knee: no MR item for it', study('s', { modality: 'MR', description: '膝关节MR', at: AT }), undefined],
    ['chest words but an ultrasound', study('s', { modality: 'US', description: '胸部', at: AT }), undefined],
    ['head and chest in one study: ambiguous', study('s', { modality: 'CT', description: '头颅+胸部CT', at: AT }), undefined],
    ['body site words without a modality', study('s', { description: '胸部CT平扫', at: AT }), undefined],
    ['a word inside another word does not count', study('s', { modality: 'CT', description: 'forehead', at: AT }), undefined],
    ['RAD report, CT section, local study code', rad('r', { category: 'CT', code: 'CT-CHEST-PLAIN' }), 'CT-CHEST'],
    ['RAD report, RAD section, study code', rad('r', { category: 'RAD', code: 'MR-LSPINE' }), 'MR-LSPINE'],
    ['RAD report, CT section, body site text', rad('r', { category: 'CT', text: '头颅CT平扫' }), 'CT-HEAD'],
    ['RAD report, US section, body site text', rad('r', { category: 'US', text: '甲状腺彩超' }), 'US-THYROID'],
    ['RAD report with an imaging LOINC code', rad('r', { category: 'RAD', loinc: '24627-2' }), 'CT-CHEST'],
    ['RAD section only: body site needs a modality', rad('r', { category: 'RAD', text: '胸部CT平扫' }), undefined],
    ['a lab report is never matched by imaging words', rad('r', { category: 'LAB', code: 'CT-CHEST', text: '胸部' }), undefined],
  ])('%s → %s', (_name, resource, expected) => expect(code(resource)).toBe(expected));

  test('a study\'s series modality counts', () => {
    const s: ImagingStudy = { ...study('s', { at: AT, code: 'US-ABD' }), series: [{ uid: '1', modality: { code: 'US' } }] };
    expect(code(s)).toBe('US-ABD');
  });
});
