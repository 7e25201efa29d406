import type { Observation, ServiceRequest } from '@medplum/fhirtypes';
import { parseCodeMap } from '../../../../adapters/common/code-map';
import { recognitionCard, whenText, type CardInput } from '../../../../gateway/cds-hooks/cards';
import { orderItem } from '../../../../gateway/cds-hooks/order-items';
import { loadCatalog } from '../../../../gateway/recognition/catalog';
import { RETEST_REASONS } from '../../../../gateway/recognition/decision-store';
import { createRecognitionRules } from '../../../../gateway/recognition/recognition-service';
import { card as cardSchema, parseOrThrow } from '../../../support/cds-hooks-schema';
import { LOINC, obs, report, testConfig } from '../../../support/recognition-fixtures';

/**
 * The pure parts of the CDS Hooks service (issue #16): which catalogue item a draft order asks for,
 * and the card built for a recognisable result — every card checked against CDS Hooks 2.0
 * (test/support/cds-hooks-schema.ts). No database, no network.
 */

const CANONICAL = 'https://hie.xzq.example/fhir';
const BASE = 'http://127.0.0.1:8080';
const ITEM_SYSTEM = `${CANONICAL}/CodeSystem/recognition-item`;
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const rules = createRecognitionRules(testConfig(), loadCatalog());
const item = (code: string) => rules.byCode.get(code)!;

describe('orderItem: which catalogue item a draft order asks for', () => {
  const codeMap = parseCodeMap({
    XCG: { loinc: '58410-2', display: 'CBC panel - Blood by Automated count' },
    KFXT: { loinc: '14749-6', display: 'Glucose [Moles/volume] in Serum or Plasma' },
  });
  const order = (coding: ServiceRequest['code'], extra: Partial<ServiceRequest> = {}): ServiceRequest => ({
    resourceType: 'ServiceRequest',
    id: 'SR1',
    status: 'draft',
    intent: 'order',
    subject: { reference: 'Patient/p1' },
    code: coding,
    ...extra,
  });
  const itemOf = (o: ServiceRequest, map = codeMap) => orderItem(o, { rules, canonicalBase: CANONICAL, codeMap: map })?.code;

  test.each<[string, ServiceRequest, string | undefined]>([
    ['the CBC panel in LOINC', order({ coding: [{ system: LOINC, code: '58410-2' }] }), 'CBC'],
    ['one analyte of the CBC (hemoglobin)', order({ coding: [{ system: LOINC, code: '718-7' }] }), 'CBC'],
    ['HbA1c in LOINC', order({ coding: [{ system: LOINC, code: '4548-4' }] }), 'HBA1C'],
    ['a catalogue code', order({ coding: [{ system: ITEM_SYSTEM, code: 'CT-CHEST' }] }), 'CT-CHEST'],
    ['a catalogue code beside an unknown local one', order({ coding: [{ system: 'urn:xzq:local-code:xm-zsh', code: 'ZZZ' }, { system: ITEM_SYSTEM, code: 'LFT' }] }), 'LFT'],
    ['the hospital\'s local code, through its code map', order({ coding: [{ system: 'urn:xzq:local-code:xm-zsh', code: 'XCG' }] }), 'CBC'],
    ['a local code with spaces around it', order({ coding: [{ system: 'urn:xzq:local-code:xm-zsh', code: ' KFXT ' }] }), 'GLU'],
    ['a local code the map does not know', order({ coding: [{ system: 'urn:xzq:local-code:xm-zsh', code: 'NOPE' }] }), undefined],
    ['a LOINC code that is no item', order({ coding: [{ system: LOINC, code: '4551-8' }] }), undefined],
    ['a catalogue system with a code that is no item', order({ coding: [{ system: ITEM_SYSTEM, code: 'NOT-AN-ITEM' }] }), undefined],
    ['a LOINC-looking code in another system', order({ coding: [{ system: 'urn:local', code: '58410-2' }] }), undefined],
    ['no code at all', order(undefined), undefined],
    ['only a text', order({ text: '血常规' }), undefined],
    ['a coding without code', order({ coding: [{ system: LOINC }] }), undefined],
    [
      'an imaging exam code with its DICOM modality',
      order({ coding: [{ system: `${CANONICAL}/CodeSystem/imaging-exam`, code: 'CT-CHEST-PLAIN' }] }, { category: [{ coding: [{ system: DCM, code: 'CT' }] }] }),
      'CT-CHEST',
    ],
    [
      'an imaging exam code with a modality that disagrees',
      order({ coding: [{ system: `${CANONICAL}/CodeSystem/imaging-exam`, code: 'CT-CHEST-PLAIN' }] }, { category: [{ coding: [{ system: DCM, code: 'MR' }] }] }),
      undefined,
    ],
  ])('%s', (_name, o, expected) => expect(itemOf(o)).toBe(expected));

  test('without a code map, a local code is no item', () => {
    expect(itemOf(order({ coding: [{ system: 'urn:xzq:local-code:xm-zsh', code: 'XCG' }] }), new Map())).toBeUndefined();
  });
});

describe('whenText: when the result was taken, as the order screen says it', () => {
  const now = new Date('2026-11-29T02:00:00Z');
  test.each<[string, number, string]>([
    ['an hour ago', now.getTime() - 3_600_000, '今天'],
    ['23 h 59 min ago', now.getTime() - 86_340_000, '今天'],
    ['exactly a day ago', now.getTime() - 86_400_000, '1 天前'],
    ['3 days and a few minutes ago', Date.parse('2026-11-26T01:42:00Z'), '3 天前'],
    ['a result time in the future (a clock ahead)', now.getTime() + 60_000, '今天'],
  ])('%s', (_name, t, expected) => expect(whenText(t, now)).toBe(expected));
});

describe('recognitionCard', () => {
  const now = new Date('2026-11-29T02:00:00Z');
  const at = '2026-11-26T01:42:00Z';
  const members: Observation[] = [
    { ...obs('WBC', '6690-2', at), valueQuantity: { value: 5.95, unit: '10*9/L' }, referenceRange: [{ low: { value: 3.5 }, high: { value: 9.5 } }] },
    { ...obs('HGB', '718-7', at), valueQuantity: { value: 169, unit: 'g/L' }, interpretation: [{ coding: [{ code: 'N' }] }] },
  ];
  const input = (over: Partial<CardInput> = {}): CardInput => ({
    uuid: '2d0c2b0e-4a7c-4d7e-9a43-6b1c1f0a9e11',
    suggestionUuid: '6c1b6a0f-3f7e-4d1e-8b2c-0e9d8f7a6b5c',
    item: item('CBC'),
    judged: {
      found: { resource: report('L1', { loinc: '58410-2', at, members: ['WBC', 'HGB'] }), hospitalId: 'zz-sy' },
      status: 'recognizable',
      validUntil: new Date('2026-12-03T01:42:00Z'),
      time: Date.parse(at),
    },
    orderRef: 'ServiceRequest/SR-CBC',
    hospital: { name: '漳州市医院', city: '350600' },
    observations: new Map(members.map((o) => [`Observation/${o.id}`, o])),
    publicBaseUrl: BASE,
    canonicalBase: CANONICAL,
    now,
    ...over,
  });

  test('a normal CBC: an info card, valid CDS Hooks 2.0, in the order screen\'s words', () => {
    const c = parseOrThrow(cardSchema, recognitionCard(input()), 'the card');
    expect(c.summary).toBe('血常规 3 天前已在 漳州市医院（漳州）完成，可互认');
    expect(c.indicator).toBe('info');
    expect(c.uuid).toBe(input().uuid);
    expect(c.selectionBehavior).toBe('at-most-one');
    expect(c.suggestions).toEqual([
      expect.objectContaining({ uuid: input().suggestionUuid, actions: [expect.objectContaining({ type: 'delete', resourceId: ['ServiceRequest/SR-CBC'] })] }),
    ]);
    expect(c.links).toEqual([expect.objectContaining({ type: 'absolute', url: `${BASE}/DiagnosticReport/L1` })]);
    expect(c.overrideReasons!.map((r) => r.code)).toEqual([...RETEST_REASONS]);
    expect(new Set(c.overrideReasons!.map((r) => r.system))).toEqual(new Set([`${CANONICAL}/CodeSystem/retest-reason`]));
    // the detail names the values and the window left
    expect(c.detail).toContain('5.95');
    expect(c.detail).toContain('169');
    expect(c.detail).toContain('2026-12-03');
  });

  test('an abnormal member makes it a warning', () => {
    const high = { ...members[1], interpretation: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'H' }] }] };
    const c = parseOrThrow(cardSchema, recognitionCard(input({ observations: new Map([['Observation/WBC', members[0]], ['Observation/HGB', high]]) })), 'the card');
    expect(c.indicator).toBe('warning');
  });

  test('an order without id: no suggestion, and so no selectionBehavior', () => {
    const c = parseOrThrow(cardSchema, recognitionCard(input({ orderRef: undefined })), 'the card');
    expect(c.suggestions).toBeUndefined();
    expect(c.selectionBehavior).toBeUndefined();
  });

  test('a very long hospital name: the summary still has at most 140 characters', () => {
    const c = parseOrThrow(cardSchema, recognitionCard(input({ hospital: { name: '很长的医院名称'.repeat(30), city: '350200' } })), 'the card');
    expect([...c.summary].length).toBeLessThanOrEqual(140);
  });

  test('text from a hospital cannot break the Markdown table of the detail', () => {
    const odd = { ...members[0], code: { text: 'A|B<script>' }, valueString: undefined };
    const c = recognitionCard(input({ observations: new Map([['Observation/WBC', odd], ['Observation/HGB', members[1]]]) }));
    const row = c.detail!.split('\n').find((l) => l.includes('A'))!;
    expect(row).not.toContain('<script>');
    expect(row.split(/(?<!\\)\|/).length).toBe(5); // 3 cells between 4 unescaped pipes
  });

  test('an imaging study: the link points to the study', () => {
    const c = parseOrThrow(
      cardSchema,
      recognitionCard(
        input({
          item: item('CT-CHEST'),
          judged: {
            found: { resource: { resourceType: 'ImagingStudy', id: 'CT1', status: 'available', subject: { reference: 'Patient/p1' }, started: at }, hospitalId: 'qz-dyyy' },
            status: 'recognizable',
            validUntil: new Date('2027-02-24T01:42:00Z'),
            time: Date.parse(at),
          },
          hospital: { name: '泉州市第一医院', city: '350500' },
          observations: new Map(),
        }),
      ),
      'the card',
    );
    expect(c.summary).toBe('胸部CT平扫 3 天前已在 泉州市第一医院（泉州）完成，可互认');
    expect(c.links![0].url).toBe(`${BASE}/ImagingStudy/CT1`);
  });
});
