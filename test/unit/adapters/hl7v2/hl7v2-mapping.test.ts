import type { Observation } from '@medplum/fhirtypes';
import { parseCodeMap } from '../../../../adapters/common/code-map';
import { type Candidate, InboxIndex, supersedes } from '../../../../adapters/hl7v2/inbox-index';
import { decodeHl7File, Hl7ParseError, parseOruFile, splitMessages, unescapeHl7 } from '../../../../adapters/hl7v2/oru-parser';
import { oruReportToFhir } from '../../../../adapters/hl7v2/oru-to-fhir';
import { expectValidFhir } from '../../../support/fhir-validation';
import { cbcV251, chemV23, ctV24, join, NID, NID2 } from '../../../support/hl7-samples';

const ctx = {
  hospitalId: 'xm-zsh',
  codeMap: parseCodeMap({
    WBC: { loinc: '6690-2', display: 'Leukocytes [#/volume] in Blood', unit: '10*9/L' },
    PLT: { loinc: '777-3', display: 'Platelets [#/volume] in Blood' },
    CREA: { loinc: '14682-9', display: 'Creatinine [Moles/volume] in Serum or Plasma' },
    ALT: { loinc: '1742-6', display: 'ALT' },
    'CT-CHEST': { loinc: '24627-2', display: 'CT Chest' },
  }),
};

function mapFile(text: string) {
  return parseOruFile(text).map((r) => {
    const m = oruReportToFhir(r, ctx);
    for (const res of [m.report, ...m.observations, ...(m.study ? [m.study] : [])]) expectValidFhir(res);
    return { source: r, ...m };
  });
}

const obsByCode = (obs: Observation[], local: string) =>
  obs.find((o) => o.code.coding?.some((c) => c.code === local))!;

describe('segment ends and message splitting', () => {
  test.each([
    ['CR', '\r'],
    ['LF', '\n'],
    ['CRLF', '\r\n'],
  ])('%s', (_name, end) => {
    const mapped = mapFile(join(cbcV251(), end));
    expect(mapped).toHaveLength(1);
    expect(mapped[0].observations).toHaveLength(7);
  });

  test('several messages per file, mixed endings, versions 2.5.1, 2.3 and 2.4', () => {
    const mapped = mapFile(join(cbcV251(), '\r\n') + join(chemV23(), '\n') + join(ctV24(), '\r'));
    expect(mapped.map((m) => m.report.id)).toEqual(['L2024030100012', '20240302-2D0007', 'RIS77001.rad']);
    expect(mapped.map((m) => m.source.messageIndex)).toEqual([0, 1, 2]);
  });

  test('MLLP framing and blank lines are tolerated', () => {
    expect(splitMessages(`\u000b${join(cbcV251())}\u001c\r\n\r\n`)).toHaveLength(1);
  });

  test('escape sequences are resolved', () => {
    expect(unescapeHl7('a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\.br\\g')).toBe('a|b^c&d~e\\f\ng');
    expect(unescapeHl7('\\X41\\')).toBe('A');
  });

  test('GB18030 files are decoded when they are not UTF-8', () => {
    const gbk = Buffer.from([0xd1, 0xaa, 0xb3, 0xa3, 0xb9, 0xe6]); // 血常规
    expect(decodeHl7File(gbk)).toBe('血常规');
    expect(decodeHl7File(Buffer.from('\uFEFF血常规', 'utf8'))).toBe('血常规');
  });
});

describe('patient identifiers (PID-3)', () => {
  test('NI is the national id, MR repetitions are record numbers', () => {
    const [m] = mapFile(join(cbcV251()));
    expect(m.source.patient).toEqual({ nationalId: NID, mrns: ['M000123', 'M000999'] });
    expect(m.report.subject).toEqual({ reference: `Patient/${NID}` });
  });

  test('v2.3 message without assigning authority', () => {
    const [m] = mapFile(join(chemV23()));
    expect(m.source.patient).toEqual({ nationalId: NID2, mrns: ['Q55667'] });
  });

  test('MR only: the first MR is the local id', () => {
    const segs = cbcV251();
    segs[1] = 'PID|1||M42^^^XMZSH^MR~M43^^^XMZSH^MR||林^小明';
    const [m] = mapFile(join(segs));
    expect(m.source.patient).toEqual({ mrns: ['M42', 'M43'] });
    expect(m.report.subject?.reference).toBe('Patient/M42');
  });
});

describe('lab report mapping', () => {
  const [m] = mapFile(join(cbcV251()));

  test('DiagnosticReport: identifier, section + LAB, code, times, status, results', () => {
    expect(m.report).toMatchObject({
      resourceType: 'DiagnosticReport',
      id: 'L2024030100012',
      status: 'final',
      identifier: [{ system: 'urn:xzq:report-no:xm-zsh', value: 'L2024030100012' }],
      code: { coding: [{ system: 'urn:xzq:local-code:xm-zsh', code: 'CBC001', display: '血常规' }], text: '血常规' },
      effectiveDateTime: '2024-03-01T08:30:00+08:00',
      issued: '2024-03-01T10:25:00+08:00',
    });
    expect(m.report.category?.map((c) => c.coding?.[0].code)).toEqual(['HM', 'LAB']);
    expect(m.report.result?.map((r) => r.reference)).toEqual(m.observations.map((o) => `Observation/${o.id}`));
    expect(m.report.meta).toBeUndefined();
  });

  test('numeric value with LOINC from OBX-3 (LN)', () => {
    const hb = obsByCode(m.observations, '718-7');
    expect(hb.code.coding).toEqual([{ system: 'http://loinc.org', code: '718-7', display: '血红蛋白' }]);
    expect(hb.valueQuantity).toEqual({ value: 135, unit: 'g/L', system: 'http://unitsofmeasure.org', code: 'g/L' });
    expect(hb.referenceRange?.[0]).toMatchObject({ low: { value: 130 }, high: { value: 175 }, text: '130-175' });
    expect(hb.interpretation?.[0].coding?.[0].code).toBe('N');
    expect(hb.category?.[0].coding?.[0].code).toBe('laboratory');
    expect(hb.status).toBe('final');
  });

  test('local code mapped to LOINC, code map unit used for UCUM, flag H', () => {
    const wbc = obsByCode(m.observations, 'WBC');
    expect(wbc.code.coding?.map((c) => c.system)).toEqual(['http://loinc.org', 'urn:xzq:local-code:xm-zsh']);
    expect(wbc.code.coding?.[0].code).toBe('6690-2');
    expect(wbc.valueQuantity).toEqual({ value: 11.2, unit: '×10^9/L', system: 'http://unitsofmeasure.org', code: '10*9/L' });
    expect(wbc.interpretation?.[0].coding?.[0].code).toBe('H');
  });

  test('comparator value, unescaped ^ in units and ~ in range, Chinese ↓ flag', () => {
    const plt = obsByCode(m.observations, 'PLT');
    expect(plt.valueQuantity).toEqual({ value: 5, comparator: '<', unit: '10^9/L', system: 'http://unitsofmeasure.org', code: '10*9/L' });
    expect(plt.referenceRange?.[0]).toMatchObject({ low: { value: 125 }, high: { value: 350 }, text: '125~350' });
    expect(plt.interpretation?.[0].coding?.[0].code).toBe('L');
  });

  test('ordinal ST value 阴性 → SNOMED concept with the text', () => {
    const hbs = obsByCode(m.observations, 'HBSAG');
    expect(hbs.valueCodeableConcept).toEqual({ coding: [{ system: 'http://snomed.info/sct', code: '260385009', display: 'Negative' }], text: '阴性' });
    expect(hbs.referenceRange).toEqual([{ text: '阴性' }]);
  });

  test('TX value keeps line breaks', () => {
    expect(obsByCode(m.observations, 'NOTE').valueString).toBe('标本轻度溶血\n结果仅供参考');
  });

  test('CE value → CodeableConcept in the local system', () => {
    expect(obsByCode(m.observations, 'ABO').valueCodeableConcept).toEqual({
      coding: [{ system: 'urn:xzq:local-code:xm-zsh', code: 'A', display: 'A型' }],
      text: 'A型',
    });
  });

  test('">1.0" range and HH flag', () => {
    const crp = obsByCode(m.observations, 'CRP');
    expect(crp.referenceRange?.[0]).toEqual({ low: { value: 1, unit: 'mg/L', system: 'http://unitsofmeasure.org', code: 'mg/L' }, text: '>1.0' });
    expect(crp.interpretation?.[0].coding?.[0].code).toBe('HH');
  });

  test('v2.3: μmol/L and IU/L to UCUM, section CH', () => {
    const [chem] = mapFile(join(chemV23()));
    expect(chem.report.category?.map((c) => c.coding?.[0].code)).toEqual(['CH', 'LAB']);
    expect(obsByCode(chem.observations, 'CREA').valueQuantity).toMatchObject({ unit: 'μmol/L', code: 'umol/L' });
    expect(obsByCode(chem.observations, 'ALT').valueQuantity).toMatchObject({ unit: 'IU/L', code: 'U/L' });
    expect(obsByCode(chem.observations, 'CREA').specimen).toEqual({ display: 'SER' });
    expect(chem.report.effectiveDateTime).toBe('2024-03-02T08:00:00+08:00');
  });
});

describe('imaging report mapping', () => {
  const [m] = mapFile(join(ctV24()));

  test('ImagingStudy: status, modality, started, identifiers, procedure, series', () => {
    expect(m.study).toMatchObject({
      resourceType: 'ImagingStudy',
      id: 'ACC77001',
      status: 'available',
      modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'CT' }],
      started: '2024-03-05T14:00:00+08:00',
      description: '胸部CT平扫',
      subject: { reference: `Patient/${NID}` },
    });
    expect(m.study?.identifier).toEqual([
      expect.objectContaining({ system: 'urn:xzq:accession-no:xm-zsh', value: 'ACC77001' }),
      { system: 'urn:dicom:uid', value: 'urn:oid:1.2.840.113619.2.55.3.604688119.971.1709622000.1' },
    ]);
    expect(m.study?.procedureCode?.[0].coding?.map((c) => c.code)).toEqual(['24627-2', 'CT-CHEST']);
    expect(m.study?.series?.[0]).toMatchObject({ modality: { code: 'CT' }, bodySite: { display: '胸部' } });
    expect(m.study?.series?.[0].uid).toMatch(/^2\.25\.\d+$/);
  });

  test('DiagnosticReport: RAD + CT categories, conclusion, imagingStudy, findings Observation', () => {
    expect(m.report.category?.map((c) => c.coding?.[0].code)).toEqual(['CT', 'RAD']);
    expect(m.report.conclusion).toBe('胸部CT平扫未见异常');
    expect(m.report.imagingStudy).toEqual([{ reference: 'ImagingStudy/ACC77001' }]);
    expect(m.observations).toHaveLength(1);
    expect(m.observations[0]).toMatchObject({ valueString: '双肺纹理清晰\n未见明确结节', code: { coding: [{ code: '18782-3' }] } });
    expect(m.report.result).toEqual([{ reference: `Observation/${m.observations[0].id}` }]);
  });

  test('MR section without modality OBX: modality from the section, category NMR (text MR)', () => {
    const segs = ctV24().filter((s) => !s.includes('121139'));
    segs[2] = segs[2].replace('||CT|F', '||MR|F').replace('CT-CHEST^胸部CT平扫', 'MR-HEAD^头颅MR平扫');
    const [mr] = mapFile(join(segs));
    expect(mr.study?.modality?.[0].code).toBe('MR');
    expect(mr.report.category).toEqual([
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'NMR', display: 'Nuclear Magnetic Resonance' }], text: 'MR' },
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'RAD', display: 'Radiology' }] },
    ]);
  });
});

describe('files that do not parse', () => {
  test.each([
    ['empty file', '', 'no MSH segment'],
    ['text before MSH', 'hello\r' + join(cbcV251()), 'content before the first MSH segment'],
    ['not ORU', join(cbcV251()).replace('ORU^R01^ORU_R01', 'ADT^A01'), 'not an ORU^R01 message'],
    ['no NI/MR', join(cbcV251().map((s) => (s.startsWith('PID') ? 'PID|1||X1^^^H^PI' : s))), 'PID-3 has no NI or MR identifier'],
    ['OBX before OBR', join(cbcV251().filter((s) => !s.startsWith('OBR'))), 'OBX before OBR'],
    ['no filler/placer', join(cbcV251().map((s) => (s.startsWith('OBR') ? s.replace('|P998|L2024030100012|', '|||') : s))), 'OBR-3 filler order number missing'],
    ['binary junk', 'MSH|^~\\&|\u0000\u0001', 'MSH segment incomplete'],
    ['one bad message among good ones', join(cbcV251()) + join(chemV23()).replace('ORU^R01', 'ORM^O01'), 'not an ORU^R01 message'],
  ])('%s', (_name, text, reason) => {
    expect(() => parseOruFile(text)).toThrow(Hl7ParseError);
    expect(() => parseOruFile(text)).toThrow(reason);
  });

  test('errors never quote the content', () => {
    try {
      parseOruFile(join(cbcV251()).replace(`~${NID}^^^CHN&2.16.156.10011.1.3&ISO^NI~M000999^^^XMZSH^MR`, '').replace('M000123^^^XMZSH^MR', 'M000123^^^XMZSH^XX'));
      throw new Error('should not parse');
    } catch (e) {
      expect((e as Error).message).not.toContain(NID);
      expect((e as Error).message).not.toContain('M000123');
    }
  });
});

describe('corrected reports replace earlier ones (regardless of file order)', () => {
  const candidate = (file: string, status: string, reportedAt: string, mtime = 1, hb = '135'): Candidate => {
    const [source] = parseOruFile(join(cbcV251({ status, reportedAt, hb })));
    return { file, fileMtimeMs: mtime, source, mapped: oruReportToFhir(source, ctx), patientId: NID };
  };

  test.each([
    ['C beats F even when older', ['C', '20240301100000'], ['F', '20240301120000'], true],
    ['F beats P', ['F', '20240301100000'], ['P', '20240301120000'], true],
    ['C beats P', ['C', '20240301100000'], ['P', '20240301090000'], true],
    ['newer C beats older C', ['C', '20240302100000'], ['C', '20240301100000'], true],
    ['older F loses to newer F', ['F', '20240301100000'], ['F', '20240301110000'], false],
    ['X (cancel) beats F', ['X', '20240301130000'], ['F', '20240301120000'], true],
  ])('%s', (_name, [sa, ta], [sb, tb], wins) => {
    expect(supersedes(candidate('a.hl7', sa as string, ta as string), candidate('b.hl7', sb as string, tb as string))).toBe(wins);
  });

  test('the index serves the winner whichever file is loaded first', () => {
    for (const order of [['final.hl7', 'corr.hl7'], ['corr.hl7', 'final.hl7']]) {
      const index = new InboxIndex();
      const byFile: Record<string, Candidate> = {
        'final.hl7': candidate('final.hl7', 'F', '20240301102500', 2, '135'),
        'corr.hl7': candidate('corr.hl7', 'C', '20240301150000', 1, '128'),
      };
      for (const f of order) index.replaceFile(f, [byFile[f]]);
      index.rebuildPatients();
      const reports = index.reportsOf(NID);
      expect(reports).toHaveLength(1);
      expect(reports[0].mapped.report.status).toBe('corrected');
      expect(obsByCode(reports[0].mapped.observations, '718-7').valueQuantity?.value).toBe(128);
      // removing the correction brings the final back
      index.replaceFile('corr.hl7', []);
      expect(index.reportsOf(NID)[0].mapped.report.status).toBe('final');
      expect(index.get('DiagnosticReport', 'L2024030100012')?.winner.file).toBe('final.hl7');
    }
  });

  test('patients: national id → local id and every MR', () => {
    const index = new InboxIndex();
    index.replaceFile('a.hl7', [candidate('a.hl7', 'F', '20240301102500')]);
    index.rebuildPatients();
    expect(index.patient(NID)).toEqual({ localId: NID, mrns: ['M000123', 'M000999'] });
    expect(index.patient(NID2)).toBeUndefined();
  });
});
