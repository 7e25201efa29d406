import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../../../gateway/config';
import { DEFAULT_CATALOG_FILE, loadCatalog, parseCatalog } from '../../../../gateway/recognition/catalog';
import { isValidLoinc, loincCheckDigit, loincProblem } from '../../../../gateway/recognition/loinc';

describe('LOINC check digit (mod 10)', () => {
  test.each([
    ['718-7', true], ['58410-2', true], ['2823-3', true], ['4548-4', true], ['56888-1', true], ['10334-1', true], ['14749-6', true],
    ['718-8', false], ['58410-3', false], ['7188', false], ['718-', false], ['-7', false], ['12345678-9', false], ['LP1234-5', false],
  ])('%s → %s', (code, valid) => expect(isValidLoinc(code)).toBe(valid));
  test('the worked example of the LOINC manual: 12345 → 5', () => expect(loincCheckDigit('12345')).toBe(5));
  test('a wrong digit names the right one', () => expect(loincProblem('718-8')).toMatch(/expected 718-7/));
});

function problems(raw: unknown): string[] {
  try {
    parseCatalog(raw, 'x.json');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('the catalog was accepted');
}

const CBC = { code: 'CBC', display: '血常规', category: 'lab', loinc: ['58410-2', '718-7'], validityDays: 7, priceCny: 20 };
const CT = { code: 'CT-CHEST', display: '胸部CT', category: 'imaging', loinc: [], modality: 'CT', studyCodes: ['CT-CHEST'], bodySite: ['胸部'], validityDays: 90 };

describe('catalog validation', () => {
  test('a good catalog is accepted and frozen', () => {
    const items = parseCatalog([CBC, CT]);
    expect(items.map((i) => i.code)).toEqual(['CBC', 'CT-CHEST']);
    expect(Object.isFrozen(items[0])).toBe(true);
    expect(Object.isFrozen(items[0].loinc)).toBe(true);
  });

  test.each<[string, unknown, RegExp]>([
    ['not an array', { CBC }, /^x\.json: catalog: /],
    ['a bad check digit', [CBC, { ...CBC, code: 'HB', loinc: ['718-8'] }], /catalog\[1\]\.loinc\[0\] \(HB\): "718-8" has a wrong check digit/],
    ['not a LOINC code', [{ ...CBC, loinc: ['58410-2', 'HGB'] }], /catalog\[0\]\.loinc\[1\] \(CBC\): "HGB" is not a LOINC code/],
    ['a LOINC code twice in one item', [{ ...CBC, loinc: ['718-7', '718-7'] }], /catalog\[0\]\.loinc\[1\] \(CBC\): "718-7" is listed twice/],
    ['duplicate item codes', [CBC, CT, CBC], /catalog\[2\]\.code \(CBC\): duplicate item code CBC \(also catalog\[0\]\)/],
    ['a lowercase code', [{ ...CBC, code: 'cbc' }], /catalog\[0\]\.code \(cbc\): must be upper-case/],
    ['no display', [{ ...CBC, display: '' }], /catalog\[0\]\.display/],
    ['an unknown category', [{ ...CBC, category: 'pathology' }], /catalog\[0\]\.category/],
    ['a lab item without LOINC', [{ ...CBC, loinc: [] }], /catalog\[0\]\.loinc \(CBC\): a lab item needs at least one LOINC code/],
    ['a lab item with a modality', [{ ...CBC, modality: 'CT' }], /catalog\[0\]\.modality \(CBC\): only imaging items/],
    ['an imaging item without modality', [{ ...CT, modality: undefined }], /catalog\[0\]\.modality \(CT-CHEST\): an imaging item needs its DICOM modality/],
    ['an unknown modality', [{ ...CT, modality: 'XX' }], /catalog\[0\]\.modality \(CT-CHEST\)/],
    ['an imaging item nothing can match', [{ ...CT, studyCodes: [], bodySite: [] }], /catalog\[0\]\.studyCodes \(CT-CHEST\): an imaging item needs/],
    ['validity of zero days', [{ ...CBC, validityDays: 0 }], /catalog\[0\]\.validityDays \(CBC\)/],
    ['validity in fractions', [{ ...CBC, validityDays: 1.5 }], /catalog\[0\]\.validityDays/],
    ['a negative price', [{ ...CBC, priceCny: -1 }], /catalog\[0\]\.priceCny/],
    ['sensitive as a string', [{ ...CBC, sensitive: 'yes' }], /catalog\[0\]\.sensitive/],
    ['an unknown key', [{ ...CBC, price: 20 }], /catalog\[0\] \(CBC\): .*price/],
  ])('%s', (_name, raw, message) => {
    const list = problems(raw);
    expect(list.some((p) => message.test(p))).toBe(true);
  });

  test('every problem is reported, not only the first', () => {
    expect(problems([{ ...CBC, loinc: ['718-8'] }, { ...CT, modality: undefined }]).length).toBeGreaterThanOrEqual(2);
  });

  test('an unreadable or non-JSON file is named', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'catalog-'));
    const file = path.join(dir, 'catalog.json');
    writeFileSync(file, '[{"code": ');
    expect(() => loadCatalog(file)).toThrow(/catalog\.json: the catalog is not valid JSON/);
    expect(() => loadCatalog(path.join(dir, 'missing.json'))).toThrow(/missing\.json: the catalog cannot be read \(ENOENT\)/);
    writeFileSync(file, JSON.stringify([CBC, { ...CBC }]));
    expect(() => loadCatalog(file)).toThrow(/catalog\[1\]\.code \(CBC\): duplicate item code/);
  });
});

describe('the committed catalog (fixtures/catalog.json)', () => {
  const items = loadCatalog();
  const lab = items.filter((i) => i.category === 'lab');
  const imaging = items.filter((i) => i.category === 'imaging');

  test('is the default and the same file', () => {
    expect(DEFAULT_CATALOG_FILE.endsWith(path.join('fixtures', 'catalog.json'))).toBe(true);
    expect(loadCatalog(DEFAULT_CATALOG_FILE)).toEqual(items);
  });
  test('has at least 25 lab and 10 imaging items', () => {
    expect(lab.length).toBeGreaterThanOrEqual(25);
    expect(imaging.length).toBeGreaterThanOrEqual(10);
  });
  test('item codes are unique', () => expect(new Set(items.map((i) => i.code)).size).toBe(items.length));
  test('every LOINC code is well-formed with a valid check digit', () => {
    for (const i of items) for (const c of i.loinc) expect([i.code, c, isValidLoinc(c)]).toEqual([i.code, c, true]);
  });
  test('carries the items others use, by code', () => {
    const codes = new Set(items.map((i) => i.code));
    for (const c of ['CBC', 'URINE', 'LFT', 'RFT', 'ELEC', 'GLU', 'HBA1C', 'LIPID', 'COAG', 'THYROID', 'HBV', 'CRP', 'AFP', 'CEA', 'CA125', 'CA199', 'HIV', 'SYPHILIS', 'HCV',
      'DR-CHEST', 'DR-BONE', 'CT-CHEST', 'CT-HEAD', 'MR-LSPINE', 'MR-CSPINE', 'MRA-HEAD', 'US-ABD', 'US-THYROID', 'US-BREAST', 'BMD']) {
      expect([c, codes.has(c)]).toEqual([c, true]);
    }
  });
  test.each([
    ['CBC', 7], ['COAG', 7], ['ELEC', 7], ['GLU', 30], ['LIPID', 30], ['HBA1C', 60], ['LFT', 14], ['RFT', 14],
  ])('%s is valid %d days (DOMAIN.md defaults)', (code, days) => expect(items.find((i) => i.code === code)?.validityDays).toBe(days));
  test('imaging windows are 30–90 days and every imaging item has a modality and study codes', () => {
    for (const i of imaging) {
      expect(i.validityDays).toBeGreaterThanOrEqual(30);
      expect(i.validityDays).toBeLessThanOrEqual(90);
      expect(i.modality).toBeTruthy();
      expect(i.studyCodes?.length).toBeGreaterThan(0);
    }
  });
  test('HIV, syphilis, HCV and the pre-operative screen holding them are sensitive, and no other', () => {
    const sensitive = items.filter((i) => i.sensitive);
    expect(sensitive.map((i) => i.code).sort()).toEqual(['HCV', 'HIV', 'PREOP', 'SYPHILIS']);
    const SENSITIVE_CODES = ['7917-8', '56888-1', '20507-0', '16128-1'];
    for (const i of items) if (i.loinc.some((c) => SENSITIVE_CODES.includes(c))) expect([i.code, i.sensitive]).toEqual([i.code, true]);
    const codes = sensitive.flatMap((i) => i.loinc);
    for (const c of ['7917-8', '56888-1', '20507-0', '16128-1']) expect(codes).toContain(c);
  });
  test('every item has a price', () => {
    for (const i of items) expect(typeof i.priceCny).toBe('number');
  });
  test('DOMAIN.md panel and analyte codes are in their items', () => {
    const of = (code: string) => items.find((i) => i.code === code)!.loinc;
    expect(of('CBC')).toEqual(expect.arrayContaining(['58410-2', '6690-2', '789-8', '718-7', '777-3']));
    expect(of('ELEC')).toEqual(expect.arrayContaining(['24326-1', '2823-3', '2951-2', '2075-0']));
    expect(of('LIPID')).toEqual(expect.arrayContaining(['14647-2', '14927-8', '14646-4', '22748-8']));
    expect(of('COAG')).toEqual(expect.arrayContaining(['5902-2', '6301-6', '14979-9', '3255-7']));
    expect(of('HBV')).toEqual(expect.arrayContaining(['5196-1', '16935-9', '13954-3', '16933-4', '13953-5']));
  });
});
