import type { DiagnosticReport, Observation } from '@medplum/fhirtypes';
import { CdaParseError, decodeCda, parseCdaDocument, type CdaExamReport, type CdaLabReport } from '../../../../adapters/cda/cda-parser';
import { cdaReportToFhir, sourceDocumentOf } from '../../../../adapters/cda/cda-to-fhir';
import { parseCodeMap } from '../../../../adapters/common/code-map';
import { expectValidFhir } from '../../../support/fhir-validation';
import { CDA_CODE_MAP, CDA_FILES, CDA_NID, cdaBytes, cdaText } from '../../../support/cda-samples';

const BASE = 'https://hie.xzq.example/fhir';
const ctx = { hospitalId: 'zz-xcq', codeMap: parseCodeMap(CDA_CODE_MAP), canonicalBase: BASE };
const loincOf = (o: Observation) => o.code.coding?.find((c) => c.system === 'http://loinc.org')?.code;

describe('WS/T 500 检验报告 (C0007) → DiagnosticReport + Observations', () => {
  const parsed = parseCdaDocument(cdaText(CDA_FILES.lab)) as CdaLabReport;
  const { report, observations } = cdaReportToFhir(parsed, ctx);

  test('the header: report number, resident id under 2.16.156.10011.1.3, record numbers, times, signature', () => {
    expect(parsed).toMatchObject({
      kind: 'lab',
      fillerOrderNumber: 'L20261120001',
      documentId: 'DOC-ZZX-L20261120001-1',
      setId: 'L20261120001',
      version: 1,
      patient: { nationalId: CDA_NID, mrns: ['MZ0098123'] },
      reportedAt: '2026-11-20T10:25:00+08:00',
      status: 'final',
      category: 'HM',
      signature: { time: '2026-11-20T10:28:00+08:00', code: 'S', role: '审核医师' },
    });
  });

  test('valid R4, in the form every adapter gives (API.md §4)', () => {
    for (const r of [report, ...observations]) expectValidFhir(r);
    expect(report.id).toBe('L20261120001');
    expect(report.subject?.reference).toBe(`Patient/${CDA_NID}`);
    expect(report.category?.map((c) => c.coding?.[0].code)).toEqual(['HM', 'LAB']);
    expect(report.issued).toBe('2026-11-20T10:25:00+08:00');
    expect(report.effectiveDateTime).toBe('2026-11-20T08:15:00+08:00'); // the specimen's collection
    expect(report.conclusion).toBe('血红蛋白偏低，白细胞偏高');
    expect(report.result?.map((r) => r.reference)).toEqual(observations.map((o) => `Observation/${o.id}`));
  });

  test('LOINC through the code map beside the local coding, UCUM units, ranges and flags', () => {
    const [hb, wbc, plt, hbsag] = observations;
    expect(loincOf(hb)).toBe('718-7'); // coded in LOINC by the hospital
    expect(hb.valueQuantity).toEqual({ value: 118, unit: 'g/L', system: 'http://unitsofmeasure.org', code: 'g/L' });
    expect(hb.interpretation?.[0].coding?.[0].code).toBe('L');
    expect(hb.referenceRange?.[0]).toMatchObject({ low: { value: 130 }, high: { value: 175 }, text: '130-175' });
    expect(hb.specimen).toEqual({ display: '静脉血' });
    expect(wbc.code.coding).toEqual([
      { system: 'http://loinc.org', code: '6690-2', display: CDA_CODE_MAP.WBC.display },
      { system: 'urn:xzq:local-code:zz-xcq', code: 'WBC', display: '白细胞计数' },
    ]);
    expect(wbc.valueQuantity).toMatchObject({ value: 11.2, unit: '×10^9/L', code: '10*9/L' });
    expect(wbc.interpretation?.[0].coding?.[0].code).toBe('H');
    expect(plt.referenceRange?.[0]).toMatchObject({ low: { value: 125 }, high: { value: 350 } });
    expect(hbsag.valueCodeableConcept?.coding?.[0]).toMatchObject({ system: 'http://snomed.info/sct', code: '260385009' });
    expect(hbsag.referenceRange?.[0]).toEqual({ text: '阴性' });
  });

  test('the source document and its legal authentication ride on the report', () => {
    const ext = sourceDocumentOf(report, BASE)!;
    const part = (u: string) => ext.extension?.find((e) => e.url === u);
    expect(part('identifier')?.valueIdentifier).toEqual({ system: 'urn:oid:2.16.156.10011.1.1', value: 'DOC-ZZX-L20261120001-1' });
    expect(part('type')?.valueCoding?.code).toBe('C0007');
    expect(part('legalAuthenticationTime')?.valueDateTime).toBe('2026-11-20T10:28:00+08:00');
    expect(part('signatureCode')?.valueCode).toBe('S');
  });

  test('a version that replaces the earlier one (RPLC) is a correction', () => {
    const v2 = parseCdaDocument(cdaText(CDA_FILES.labCorrected));
    expect(v2).toMatchObject({ fillerOrderNumber: 'L20261120001', version: 2, replaces: 'DOC-ZZX-L20261120001-1', status: 'corrected' });
    const mapped = cdaReportToFhir(v2, ctx);
    expect(mapped.report.status).toBe('corrected');
    expect(mapped.observations[0].valueQuantity?.value).toBe(128);
  });

  test('an item code no code map knows keeps its local coding only (it matches no catalog item)', () => {
    const { observations: obs } = cdaReportToFhir(parseCdaDocument(cdaText(CDA_FILES.unknownCode)), ctx);
    const unknown = obs.find((o) => o.code.text === '新冠抗原（试剂批次）')!;
    expect(unknown.code.coding).toEqual([{ system: 'urn:xzq:local-code:zz-xcq', code: 'ZX-NEW-0097', display: '新冠抗原（试剂批次）' }]);
    expectValidFhir(unknown);
  });
});

describe('WS/T 500 检查报告 (C0006) → ImagingStudy + DiagnosticReport', () => {
  const parsed = parseCdaDocument(cdaText(CDA_FILES.exam)) as CdaExamReport;
  const { report, observations, study } = cdaReportToFhir(parsed, ctx);

  test('exam code, modality, body site, study UID, findings and impression', () => {
    expect(parsed).toMatchObject({
      kind: 'exam',
      fillerOrderNumber: 'E20261121007',
      exam: { code: 'CT-CHEST', display: '胸部CT平扫' },
      modality: 'CT',
      bodySite: '胸部',
      studyUid: '1.2.156.112606.3.20261121.7',
      performedAt: '2026-11-21T14:30:00+08:00',
    });
    expect(parsed.findings).toMatch(/^双肺纹理清晰/);
    expect(parsed.impression).toMatch(/^右肺上叶微小磨玻璃结节/);
  });

  test('valid R4 in the imaging form of API.md §4', () => {
    for (const r of [report, ...observations, study!]) expectValidFhir(r);
    expect(study).toMatchObject({ id: 'E20261121007', status: 'available', modality: [{ code: 'CT' }], started: '2026-11-21T14:30:00+08:00' });
    expect(study!.identifier).toContainEqual({ system: 'urn:dicom:uid', value: 'urn:oid:1.2.156.112606.3.20261121.7' });
    expect(study!.procedureCode?.[0].coding?.[0]).toMatchObject({ system: 'http://loinc.org', code: '24627-2' });
    expect(study!.series?.[0].bodySite).toEqual({ display: '胸部' });
    const dr = report as DiagnosticReport;
    expect(dr.id).toBe('E20261121007.rad');
    expect(dr.category?.map((c) => c.coding?.[0].code)).toEqual(['CT', 'RAD']);
    expect(dr.conclusion).toMatch(/^右肺上叶/);
    expect(dr.imagingStudy).toEqual([{ reference: 'ImagingStudy/E20261121007' }]);
    expect(observations[0]).toMatchObject({ id: 'E20261121007.rad.findings', code: { coding: [{ code: '18782-3' }] } });
  });
});

describe('documents the adapter refuses, each with the rule it broke', () => {
  test.each([
    [CDA_FILES.malformed, 'not well-formed XML'],
    [CDA_FILES.wrongTemplate, 'not a WS/T 500 lab (C0007) or exam (C0006) report template'],
    [CDA_FILES.noResidentId, 'recordTarget has no resident id under OID 2.16.156.10011.1.3'],
    [CDA_FILES.xxe, 'a DOCTYPE is not allowed (no DTD, no entities)'],
    [CDA_FILES.entityExpansion, 'a DOCTYPE is not allowed (no DTD, no entities)'],
  ])('%s: %s', (file, rule) => {
    expect(() => parseCdaDocument(decodeCda(cdaBytes(file)))).toThrow(new CdaParseError(rule));
  });

  test('not XML at all (a PDF): refused; the message never quotes the content', () => {
    let err: unknown;
    try {
      parseCdaDocument(decodeCda(cdaBytes(CDA_FILES.notXml)));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CdaParseError);
    expect((err as Error).message).not.toMatch(/PDF|Catalog/);
  });

  test('an entity hidden without a DOCTYPE line is refused too, and nothing is ever fetched', () => {
    const sneaky = cdaText(CDA_FILES.lab).replace('<ClinicalDocument', '<!ENTITY x SYSTEM "http://127.0.0.1:9/x"><ClinicalDocument');
    expect(() => parseCdaDocument(sneaky)).toThrow(CdaParseError);
  });
});
