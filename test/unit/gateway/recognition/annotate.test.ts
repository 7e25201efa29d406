import type { Extension } from '@medplum/fhirtypes';
import type { ResultResource } from '../../../../adapters/adapter';
import { createAnnotator, readRecognition } from '../../../../gateway/recognition/annotate';
import { loadCatalog } from '../../../../gateway/recognition/catalog';
import { expectValidFhir } from '../../../support/fhir-validation';
import { obs, report, study, testConfig } from '../../../support/recognition-fixtures';

const config = testConfig();
const annotate = createAnnotator(config);
const catalog = loadCatalog();
const item = (code: string) => catalog.find((i) => i.code === code)!;
const NOW = new Date('2025-06-10T08:00:00.000Z');
const URL = 'https://hie.xzq.example/fhir/StructureDefinition/recognition';

function recognitionOf(r: ResultResource): Extension {
  const list = r.extension?.filter((e) => e.url === URL) ?? [];
  expect(list).toHaveLength(1);
  return list[0];
}

describe('annotate', () => {
  test('a recognizable CBC: status, item and validUntil, valid FHIR', () => {
    const r = report('xm-zsh-R1', { loinc: '58410-2', at: '2025-06-05T08:00:00Z' });
    const verdict = annotate(r, item('CBC'), 'xm-zsh', 'zz-sy', NOW);
    expect(verdict.status).toBe('recognizable');
    expect(recognitionOf(r)).toEqual({
      url: URL,
      extension: [
        { url: 'status', valueCode: 'recognizable' },
        { url: 'item', valueCoding: { system: 'https://hie.xzq.example/fhir/CodeSystem/recognition-item', code: 'CBC', display: '血常规' } },
        { url: 'validUntil', valueDateTime: '2025-06-12T08:00:00.000Z' },
      ],
    });
    expectValidFhir(r);
  });

  test.each<[string, ResultResource, string | undefined, string, string | undefined, string]>([
    ['own', obs('o', '718-7', '2025-06-09T00:00:00Z'), 'CBC', 'xm-zsh', 'xm-zsh', 'own'],
    ['not in catalog', obs('o', '12345-5', '2025-06-09T00:00:00Z'), undefined, 'xm-zsh', 'zz-sy', 'not-in-catalog'],
    ['preliminary', obs('o', '718-7', '2025-06-09T00:00:00Z', 'preliminary'), 'CBC', 'xm-zsh', 'zz-sy', 'not-final'],
    ['not accredited', obs('o', '2823-3', '2025-06-09T00:00:00Z'), 'ELEC', 'zz-lh', 'zz-sy', 'not-accredited'],
    ['grade below', obs('o', '718-7', '2025-06-09T00:00:00Z'), 'CBC', 'xm-hc', 'zz-sy', 'grade-below'],
    ['expired', obs('o', '718-7', '2025-05-01T00:00:00Z'), 'CBC', 'xm-zsh', 'zz-sy', 'expired'],
    ['a hospital unknown to the configuration', obs('o', '718-7', '2025-06-09T00:00:00Z'), 'CBC', 'nowhere', 'zz-sy', 'not-accredited'],
    ['an imaging study for an auditor', study('s', { modality: 'CT', code: 'CT-CHEST-PLAIN', at: '2025-06-01T00:00:00Z' }), 'CT-CHEST', 'qz-dyyy', undefined, 'recognizable'],
  ])('%s, valid FHIR', (_name, r, code, source, requester, status) => {
    annotate(r, code ? item(code) : undefined, source, requester, NOW);
    const ext = recognitionOf(r);
    expect(ext.extension?.find((e) => e.url === 'status')?.valueCode).toBe(status);
    expect(Boolean(ext.extension?.find((e) => e.url === 'item'))).toBe(Boolean(code));
    expect(Boolean(ext.extension?.find((e) => e.url === 'validUntil'))).toBe(status === 'recognizable');
    expectValidFhir(r);
  });

  test('results of one status and item without validUntil share one frozen extension; validUntil makes it their own', () => {
    const [a, b, c] = [obs('a', '718-7', '2025-06-09T00:00:00Z'), obs('b', '718-7', '2025-06-08T00:00:00Z'), obs('c', '718-7', '2025-06-09T00:00:00Z')];
    annotate(a, item('CBC'), 'xm-hc', 'zz-sy', NOW); // grade below
    annotate(b, item('CBC'), 'xm-hc', 'zz-sy', NOW);
    annotate(c, item('CBC'), 'xm-zsh', 'zz-sy', NOW); // recognizable: validUntil
    expect(recognitionOf(a)).toBe(recognitionOf(b));
    expect(Object.isFrozen(recognitionOf(a)) && Object.isFrozen(recognitionOf(a).extension)).toBe(true);
    expect(() => recognitionOf(a).extension!.push({ url: 'x' })).toThrow(TypeError);
    expect(recognitionOf(c)).not.toBe(recognitionOf(a));
    expect(recognitionOf(c).extension?.map((e) => e.url)).toEqual(['status', 'item', 'validUntil']);
    // another status, or no item, is another extension
    const d = obs('d', '12345-5', '2025-06-09T00:00:00Z');
    annotate(d, undefined, 'xm-hc', 'zz-sy', NOW);
    expect(recognitionOf(d).extension).toEqual([{ url: 'status', valueCode: 'not-in-catalog' }]);
    for (const r of [a, b, c, d]) expectValidFhir(r);
  });

  test('annotating again replaces the extension and keeps the hospital\'s own extensions', () => {
    const r = obs('o', '718-7', '2025-06-09T00:00:00Z');
    r.extension = [{ url: 'urn:hospital:flag', valueString: 'kept' }, { url: URL, extension: [{ url: 'status', valueCode: 'recognizable' }] }];
    annotate(r, item('CBC'), 'xm-zsh', 'xm-zsh', NOW);
    expect(r.extension?.[0]).toEqual({ url: 'urn:hospital:flag', valueString: 'kept' });
    expect(readRecognition(r, config.canonicalBase)).toEqual({ status: 'own', item: 'CBC', validUntil: undefined });
    expectValidFhir(r);
  });
});
