import { parseCodeMap } from '../../../../adapters/common/code-map';
import { groupStatus, imagingRowToFhir, type LabRow, labRowsToFhir } from '../../../../adapters/sql/sql-rows';
import { expectValidFhir } from '../../../support/fhir-validation';

const NID = '350602197703080033';
const ctx = { hospitalId: 'zz-hosp', codeMap: parseCodeMap({ K: { loinc: '2823-3', display: 'Potassium' }, 'US-ABD': { loinc: '24558-9', display: 'US Abdomen' } }) };

const row = (over: Partial<LabRow>): LabRow => ({
  national_id: NID, mrn: 'Z001', report_no: 'R-1', item_code: 'K', item_name: '钾', loinc: null, value: '4.1', unit: 'mmol/L',
  ref_low: '3.5', ref_high: '5.3', flag: null, status: 'final', specimen: '血清', collected_at: '2024-03-01 08:00:00', reported_at: '2024-03-01 11:00:00',
  ...over,
});

describe('lab rows → DiagnosticReport + Observations', () => {
  const rows = [
    row({}),
    row({ report_no: 'R-2', item_code: 'HBSAG', item_name: '乙肝表面抗原', value: '阳性', unit: null, ref_low: '阴性', ref_high: null, flag: 'A' }),
    row({ item_code: 'NA', item_name: '钠', loinc: '2951-2', value: 150, ref_low: 137, ref_high: 147, flag: '↑', reported_at: '2024-03-01T12:00:00+08:00' }),
    row({ item_code: 'GLU', item_name: '葡萄糖', loinc: '14749-6', value: '5.2', unit: 'mmol/L', collected_at: '2024-03-01 07:30:00' }),
  ];
  const { reports, observations } = labRowsToFhir(rows, ctx);
  for (const r of [...reports, ...observations]) expectValidFhir(r);

  test('rows are grouped by report_no (not necessarily adjacent)', () => {
    expect(reports.map((r) => r.id)).toEqual(['R-2D1', 'R-2D2']);
    expect(reports[0].result).toHaveLength(3);
    expect(observations).toHaveLength(4);
  });

  test('report: LOINC 11502-2 with the item names, LAB category, earliest collection, latest report time', () => {
    expect(reports[0]).toMatchObject({
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '11502-2' }], text: '钾、钠、葡萄糖' },
      category: [{ coding: [{ code: 'LAB' }] }],
      effectiveDateTime: '2024-03-01T07:30:00+08:00',
      issued: '2024-03-01T12:00:00+08:00',
      identifier: [{ system: 'urn:xzq:report-no:zz-hosp', value: 'R-1' }],
      subject: { reference: `Patient/${NID}` },
    });
  });

  test('the loinc column wins, else the code map by item_code, the local coding beside', () => {
    const [k, na] = observations.filter((o) => o.id?.startsWith('R-2D1'));
    expect(k.code.coding?.map((c) => `${c.system}|${c.code}`)).toEqual(['http://loinc.org|2823-3', 'urn:xzq:local-code:zz-hosp|K']);
    expect(na.code.coding?.[0]).toMatchObject({ system: 'http://loinc.org', code: '2951-2' });
    expect(na.valueQuantity).toEqual({ value: 150, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' });
    expect(na.referenceRange?.[0]).toMatchObject({ low: { value: 137 }, high: { value: 147 } });
    expect(na.interpretation?.[0].coding?.[0].code).toBe('H');
    expect(k.specimen).toEqual({ display: '血清' });
  });

  test('qualitative value and text reference', () => {
    const hbs = observations.find((o) => o.id?.startsWith('R-2D2'))!;
    expect(hbs.valueCodeableConcept?.coding?.[0].code).toBe('10828004');
    expect(hbs.referenceRange).toEqual([{ text: '阴性' }]);
    expect(hbs.interpretation?.[0].coding?.[0].code).toBe('A');
  });

  test('repeated item codes get distinct ids', () => {
    const { observations: obs } = labRowsToFhir([row({}), row({ value: '4.3' })], ctx);
    expect(new Set(obs.map((o) => o.id)).size).toBe(2);
  });

  test.each([
    [['final', 'final'], 'final'],
    [['corrected', 'final'], 'corrected'],
    [['final', 'preliminary'], 'partial'],
    [['preliminary', 'preliminary'], 'preliminary'],
    [['cancelled', 'cancelled'], 'cancelled'],
    [['final', 'cancelled'], 'final'],
  ])('report status from row statuses %j → %s', (statuses, status) => expect(groupStatus(statuses)).toBe(status));
});

describe('imaging rows → ImagingStudy + DiagnosticReport (RAD)', () => {
  const img = imagingRowToFhir(
    {
      national_id: NID, mrn: 'Z001', accession_no: 'US-0042', study_uid: '1.2.156.112605.1.2024.42', modality: 'US', body_part: '腹部',
      exam_code: 'US-ABD', exam_name: '腹部彩超', findings: '肝脏大小形态正常。', conclusion: '腹部超声未见明显异常', status: 'final',
      study_at: '2024-03-04 09:10:00', reported_at: '2024-03-04 09:40:00',
    },
    ctx,
  )!;

  test('valid FHIR', () => {
    for (const r of [img.study, img.report, ...img.observations]) expectValidFhir(r);
  });

  test('study', () => {
    expect(img.study).toMatchObject({
      id: 'US-2D0042',
      status: 'available',
      modality: [{ code: 'US' }],
      started: '2024-03-04T09:10:00+08:00',
      description: '腹部彩超',
      procedureCode: [{ coding: [{ system: 'http://loinc.org', code: '24558-9' }, { code: 'US-ABD' }] }],
      series: [{ modality: { code: 'US' }, bodySite: { display: '腹部' } }],
    });
    expect(img.study.identifier?.[1]).toEqual({ system: 'urn:dicom:uid', value: 'urn:oid:1.2.156.112605.1.2024.42' });
  });

  test('report', () => {
    expect(img.report).toMatchObject({
      id: 'US-2D0042.rad',
      status: 'final',
      conclusion: '腹部超声未见明显异常',
      imagingStudy: [{ reference: 'ImagingStudy/US-2D0042' }],
      issued: '2024-03-04T09:40:00+08:00',
    });
    expect(img.report.category?.map((c) => c.coding?.[0].code)).toEqual(['RUS', 'RAD']);
    expect(img.observations[0]).toMatchObject({ id: 'US-2D0042.rad.findings', valueString: '肝脏大小形态正常。' });
  });

  test('cancelled study, invalid UID left out, no accession → nothing', () => {
    const c = imagingRowToFhir({ national_id: NID, accession_no: 'A1', study_uid: 'not-a-uid', modality: 'CT', status: 'cancelled' }, ctx)!;
    expectValidFhir(c.study);
    expectValidFhir(c.report);
    expect(c.study.status).toBe('cancelled');
    expect(c.report.status).toBe('cancelled');
    expect(c.study.identifier?.map((i) => i.system)).toEqual(['urn:xzq:accession-no:zz-hosp']);
    expect(imagingRowToFhir({ national_id: NID, accession_no: null }, ctx)).toBeUndefined();
  });
});
