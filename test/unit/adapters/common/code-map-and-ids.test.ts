import fc from 'fast-check';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeLocalId, encodeLocalId } from '../../../../adapters/adapter';
import { CodeMapError, loadCodeMap, parseCodeMap } from '../../../../adapters/common/code-map';
import { buildObservation, codedConcept } from '../../../../adapters/common/fhir-builders';
import { expectValidFhir } from '../../../support/fhir-validation';

const codeMap = parseCodeMap({
  HGB: { loinc: '718-7', display: 'Hemoglobin', unit: 'g/L' },
  ALT: { loinc: '1742-6', display: 'ALT', unit: 'U/L' },
  'CT-CHEST': { loinc: '24627-2', display: 'CT Chest' },
});
const ctx = { hospitalId: 'xm-zsh', codeMap };

describe('code map loading', () => {
  test('valid entries are read once into a map', () => {
    expect(codeMap.get('HGB')).toEqual({ loinc: '718-7', display: 'Hemoglobin', unit: 'g/L' });
    expect(codeMap.get('CT-CHEST')).toEqual({ loinc: '24627-2', display: 'CT Chest' });
  });

  test.each([
    [[], 'must be a JSON object'],
    [{ X: 'nope' }, '["X"]: must be an object'],
    [{ X: { loinc: 'ABC', display: 'x' } }, '["X"].loinc'],
    [{ X: { loinc: '718-7' } }, '["X"].display'],
    [{ X: { loinc: '718-7', display: 'x', unit: 3 } }, '["X"].unit'],
    [{ X: { loinc: '718-7', display: 'x', extra: 1 } }, '["X"].extra: unknown key'],
  ])('%j is refused naming the field', (raw, message) => {
    expect(() => parseCodeMap(raw)).toThrow(CodeMapError);
    expect(() => parseCodeMap(raw)).toThrow(message);
  });

  test('files: missing and malformed files are clear errors without content', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xzq-codemap-'));
    writeFileSync(path.join(dir, 'bad.json'), '{"HGB": ');
    writeFileSync(path.join(dir, 'good.json'), JSON.stringify({ HGB: { loinc: '718-7', display: 'Hemoglobin' } }));
    await expect(loadCodeMap(path.join(dir, 'missing.json'))).rejects.toThrow('missing.json: cannot be read (ENOENT)');
    await expect(loadCodeMap(path.join(dir, 'bad.json'))).rejects.toThrow('bad.json: not valid JSON');
    expect((await loadCodeMap(path.join(dir, 'good.json'))).get('HGB')?.loinc).toBe('718-7');
    expect((await loadCodeMap(undefined)).size).toBe(0);
  });
});

describe('code map application', () => {
  test.each([
    ['local code in the map → LOINC first, local beside it', { code: 'HGB', display: '血红蛋白', system: 'L' }, undefined,
      [{ system: 'http://loinc.org', code: '718-7', display: 'Hemoglobin' }, { system: 'urn:xzq:local-code:xm-zsh', code: 'HGB', display: '血红蛋白' }]],
    ['local code not in the map → local only', { code: 'ZZZ', display: '其他' }, undefined,
      [{ system: 'urn:xzq:local-code:xm-zsh', code: 'ZZZ', display: '其他' }]],
    ['HL7 LN code → LOINC only', { code: '718-7', display: '血红蛋白', system: 'LN' }, undefined,
      [{ system: 'http://loinc.org', code: '718-7', display: '血红蛋白' }]],
    ['explicit LOINC wins over the map', { code: 'HGB', display: '血红蛋白' }, '59260-0',
      [{ system: 'http://loinc.org', code: '59260-0', display: '血红蛋白' }, { system: 'urn:xzq:local-code:xm-zsh', code: 'HGB', display: '血红蛋白' }]],
  ])('%s', (_name, src, loinc, codings) => {
    const cc = codedConcept(src, ctx, loinc);
    expect(cc.coding).toEqual(codings);
    expect(cc.text).toBe(src.display);
  });

  test('the code map unit is the UCUM code of the value; the hospital text stays', () => {
    const obs = buildObservation(
      { key: 'R1|ALT', code: { code: 'ALT', display: '谷丙转氨酶' }, value: '56', unit: 'IU/L', low: 9, high: 50, flag: 'H' },
      { patientId: '350203199001010018', status: 'final', effective: '2024-03-01T08:00:00+08:00', issued: '2024-03-01T10:00:00+08:00' },
      ctx,
    );
    expectValidFhir(obs);
    expect(obs.valueQuantity).toEqual({ value: 56, unit: 'IU/L', system: 'http://unitsofmeasure.org', code: 'U/L' });
    expect(obs.referenceRange?.[0].high).toEqual({ value: 50, unit: 'IU/L', system: 'http://unitsofmeasure.org', code: 'U/L' });
    expect(obs.id).toBe(encodeLocalId('R1|ALT'));
    expect(obs.subject).toEqual({ reference: 'Patient/350203199001010018' });
    expect(obs.meta).toBeUndefined();
  });
});

describe('encodeLocalId', () => {
  test('round trip for any string of Unicode code points (property)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => {
      const id = encodeLocalId(s);
      expect(/^[A-Za-z0-9-]*$/.test(id)).toBe(true);
      expect(decodeLocalId(id)).toBe(s);
    }));
  });

  test('is injective (property)', () => {
    fc.assert(fc.property(fc.string(), fc.string(), (a, b) => {
      if (a !== b) expect(encodeLocalId(a)).not.toBe(encodeLocalId(b));
    }));
  });

  test.each([
    ['ABC123', 'ABC123'],
    ['2024-0001', '2024-2D0001'],
    ['R1|ALT', 'R1-7CALT'],
    ['血', '-E8-A1-80'],
  ])('%s → %s', (key, id) => {
    expect(encodeLocalId(key)).toBe(id);
    expect(decodeLocalId(id)).toBe(key);
  });

  test.each([['a-zz'], ['a.b'], ['-4']])('%s is not an encoded id', (id) => expect(decodeLocalId(id)).toBeNull());
});
