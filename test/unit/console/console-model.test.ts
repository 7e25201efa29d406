import type { AuditEvent, DiagnosticReport, ImagingStudy, Observation, OperationOutcome, ParametersParameter } from '@medplum/fhirtypes';
import { accessedKind, accessReportPath, checkPeriod, cityCode, defaultPeriod, readAccessReport } from '../../../console/src/model/access-report';
import { decodeRequest, summariseAuditEvent } from '../../../console/src/model/audit';
import { localFilter, serverParams, EMPTY_CRITERIA, auditCsv } from '../../../console/src/model/audit-query';
import { csvField, toCsv } from '../../../console/src/model/csv';
import { chinaDate, chinaDateTime, percent, unitText, yuan } from '../../../console/src/model/format';
import { hospitalsFrom, sourceHospital } from '../../../console/src/model/hospitals';
import { checkNationalId } from '../../../console/src/model/national-id';
import { summariseOutcomes } from '../../../console/src/model/outcomes';
import { maskNationalId, summarisePatient } from '../../../console/src/model/patient';
import { parseStats } from '../../../console/src/model/stats';
import { buildTimeline, filterTimeline, itemsOf } from '../../../console/src/model/timeline';
import { dictionaries, label, MESSAGE_KEYS, translator } from '../../../console/src/i18n';

/**
 * The console's pure parts (console/src/model, i18n): what it reads out of the gateway's answers
 * and what it writes into a CSV. The views over them are driven in Chromium
 * (test/browser/console.test.ts).
 */

const BASE = 'http://127.0.0.1:8080';
const REC = 'https://hie.xzq.example/fhir/StructureDefinition/recognition';
const recognition = (status: string, item?: [string, string], validUntil?: string) => [
  {
    url: REC,
    extension: [
      { url: 'status', valueCode: status },
      ...(item ? [{ url: 'item', valueCoding: { system: 'x', code: item[0], display: item[1] } }] : []),
      ...(validUntil ? [{ url: 'validUntil', valueDateTime: validUntil }] : []),
    ],
  },
];

describe('CSV', () => {
  test.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['line\nbreak', '"line\nbreak"'],
    ['=HYPERLINK("http://x")', `"'=HYPERLINK(""http://x"")"`],
    ['+1', "'+1"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['-2', "'-2"],
    ['陈建国', '陈建国'],
  ])('%j → %s', (input, out) => expect(csvField(input)).toBe(out));

  test('rows end in CRLF; empty values stay empty', () => {
    expect(toCsv(['a', 'b'], [['1', undefined], [null, 'x,y']])).toBe('a,b\r\n1,\r\n,"x,y"\r\n');
  });
});

describe('national id', () => {
  test('a valid id passes, lower-case x is upper-cased', () => {
    expect(checkNationalId(' 350203196203151595 ')).toEqual({ ok: true, id: '350203196203151595' });
    expect(checkNationalId('35058219690930943x')).toEqual({ ok: true, id: '35058219690930943X' });
  });
  test.each(['', '12345', '35020319620315159', '3502031962031515950', '35020319620315159A', '<img src=x>'])('%j has the wrong form', (id) =>
    expect(checkNationalId(id)).toEqual({ ok: false, problem: 'format' }),
  );
  test('a wrong check digit is named', () => expect(checkNationalId('350203196203151596')).toEqual({ ok: false, problem: 'check-digit' }));
  test('masking keeps the region and the tail', () => expect(maskNationalId('350203196203151595')).toBe('350203********1595'));
});

describe('dates and money in China time', () => {
  test('instants are shown in UTC+8 whatever the zone they carry', () => {
    expect(chinaDateTime('2026-11-26T01:42:00Z')).toBe('2026-11-26 09:42');
    expect(chinaDateTime('2026-11-26T23:30:00+08:00')).toBe('2026-11-26 23:30');
    expect(chinaDate('2026-11-26T17:00:00Z')).toBe('2026-11-27');
    expect(chinaDateTime('1962-03-15')).toBe('1962-03-15');
    expect(chinaDateTime('not a date')).toBe('not a date');
    expect(chinaDateTime(undefined)).toBe('');
  });
  test('units as printed on a report', () => {
    expect(unitText('10*9/L')).toBe('10⁹/L');
    expect(unitText('10^12/L')).toBe('10¹²/L');
    expect(unitText('mmol/L')).toBe('mmol/L');
    expect(unitText(undefined)).toBe('');
  });
  test('yuan and percent', () => {
    expect(yuan(1234.5)).toBe('¥1,234.50');
    expect(yuan(0)).toBe('¥0.00');
    expect(percent(0.6667)).toBe('66.7%');
    expect(percent(undefined)).toBe('—');
  });
});

describe('timeline', () => {
  const obs = (id: string, flag?: string): Observation => ({
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { text: id },
    valueQuantity: { value: 1 },
    ...(flag ? { interpretation: [{ coding: [{ code: flag }] }] } : {}),
    meta: { source: `${BASE}/Organization/zz-syy` },
  });
  const cbc: DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    id: 'zz-syy.L1',
    status: 'final',
    category: [{ coding: [{ code: 'HM' }] }, { coding: [{ code: 'LAB' }] }],
    code: { text: 'Complete blood count', coding: [{ code: '58410-2' }] },
    effectiveDateTime: '2026-11-26T09:42:00+08:00',
    result: [{ reference: 'Observation/zz-syy.L1O1' }, { reference: 'Observation/zz-syy.L1O2' }, { reference: 'Observation/zz-syy.L1O3' }],
    meta: { source: `${BASE}/Organization/zz-syy` },
    extension: recognition('recognizable', ['CBC', '血常规'], '2026-12-03T01:42:00.000Z'),
  } as DiagnosticReport;
  const ct: DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    id: 'qz-fey.CT1.rad',
    status: 'final',
    category: [{ coding: [{ code: 'CT' }] }],
    code: { text: '胸部CT平扫' },
    effectiveDateTime: '2026-11-09T15:58:00+08:00',
    imagingStudy: [{ reference: 'ImagingStudy/qz-fey.CT1' }],
    meta: { source: `${BASE}/Organization/qz-fey` },
    extension: recognition('expired', ['CT-CHEST', '胸部CT平扫']),
  } as DiagnosticReport;
  const local: DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    id: 'xm-zyy.L9',
    status: 'preliminary',
    code: { text: '微量元素' },
    issued: '2026-11-27T08:00:00+08:00',
    extension: recognition('not-in-catalog'),
  } as DiagnosticReport;
  const linkedStudy: ImagingStudy = { resourceType: 'ImagingStudy', id: 'qz-fey.CT1', status: 'available', subject: {}, started: '2026-11-09T15:58:00+08:00', meta: { source: `${BASE}/Organization/qz-fey` } } as ImagingStudy;
  const loneStudy: ImagingStudy = {
    resourceType: 'ImagingStudy',
    id: 'xm-dyyy.MR1',
    status: 'available',
    subject: {},
    started: '2026-10-01T10:00:00+08:00',
    description: '头颅MR平扫',
    meta: { source: `${BASE}/Organization/xm-dyyy` },
    extension: recognition('grade-below', ['MR-HEAD', '头颅MR平扫']),
  } as ImagingStudy;
  const rows = buildTimeline([ct, cbc, local], [obs('zz-syy.L1O1', 'H'), obs('zz-syy.L1O2', 'N'), obs('zz-syy.L1O3', 'L')], [linkedStudy, loneStudy]);

  test('one row per report and per study no report points to, newest first', () => {
    expect(rows.map((r) => r.key)).toEqual(['DiagnosticReport/xm-zyy.L9', 'DiagnosticReport/zz-syy.L1', 'DiagnosticReport/qz-fey.CT1.rad', 'ImagingStudy/xm-dyyy.MR1']);
  });

  test('each row: the catalogue display, category, hospital, members, flags, recognition', () => {
    const [l, c, i, s] = rows;
    expect(c).toMatchObject({ itemName: '血常规', itemCode: 'CBC', category: 'lab', hospitalId: 'zz-syy', abnormal: 2, day: '2026-11-26' });
    expect(c!.observations).toHaveLength(3);
    expect(c!.recognition).toEqual({ status: 'recognizable', itemCode: 'CBC', itemDisplay: '血常规', validUntil: '2026-12-03T01:42:00.000Z' });
    expect(i).toMatchObject({ category: 'imaging', hospitalId: 'qz-fey', itemName: '胸部CT平扫' });
    expect(i!.studies.map((x) => x.id)).toEqual(['qz-fey.CT1']);
    expect(l).toMatchObject({ itemName: '微量元素', hospitalId: 'xm-zyy', category: 'lab', status: 'preliminary' });
    expect(l!.recognition.status).toBe('not-in-catalog');
    expect(s).toMatchObject({ category: 'imaging', hospitalId: 'xm-dyyy', itemName: '头颅MR平扫' });
  });

  test('filters by category, item, hospital and China-time dates (inclusive)', () => {
    const keys = (f: Parameters<typeof filterTimeline>[1]) => filterTimeline(rows, f).map((r) => r.key);
    expect(keys({ category: 'imaging' })).toEqual(['DiagnosticReport/qz-fey.CT1.rad', 'ImagingStudy/xm-dyyy.MR1']);
    expect(keys({ item: 'CBC' })).toEqual(['DiagnosticReport/zz-syy.L1']);
    expect(keys({ item: 'name:微量元素' })).toEqual(['DiagnosticReport/xm-zyy.L9']);
    expect(keys({ hospital: 'qz-fey' })).toEqual(['DiagnosticReport/qz-fey.CT1.rad']);
    expect(keys({ from: '2026-11-09', to: '2026-11-26' })).toEqual(['DiagnosticReport/zz-syy.L1', 'DiagnosticReport/qz-fey.CT1.rad']);
    expect(keys({ from: '2027-01-01' })).toEqual([]);
    expect(itemsOf(rows).map((i) => i.key).sort()).toEqual(['CBC', 'CT-CHEST', 'MR-HEAD', 'name:微量元素']);
  });

  test('the source hospital comes from meta.source, else from the gateway id', () => {
    expect(sourceHospital({ resourceType: 'Observation', id: 'a.b', meta: { source: `${BASE}/Organization/zz-syy` } } as Observation)).toBe('zz-syy');
    expect(sourceHospital({ resourceType: 'Observation', id: 'xm-zyy.L9' } as Observation)).toBe('xm-zyy');
  });
});

describe('outcome entries of a searchset', () => {
  const outcome = (issue: NonNullable<OperationOutcome['issue']>[number]): OperationOutcome => ({ resourceType: 'OperationOutcome', issue: [issue] });
  test('a hospital that did not answer is named by its id, once; suppressed and ignored are read', () => {
    const s = summariseOutcomes([
      outcome({ severity: 'warning', code: 'timeout', diagnostics: 'xm-dyyy', details: { coding: [{ code: 'hospital-timeout' }], text: 'Hospital xm-dyyy did not answer: no answer within 1500 ms' } }),
      outcome({ severity: 'warning', code: 'timeout', diagnostics: 'xm-dyyy' }),
      outcome({ severity: 'warning', code: 'transient', details: { text: 'Hospital zz-zyy did not answer: circuit open' } }),
      outcome({ severity: 'information', code: 'suppressed', details: { coding: [{ code: 'consent-suppressed' }] } }),
      outcome({ severity: 'warning', code: 'not-supported', details: { coding: [{ code: 'ignored-parameter' }], text: 'Ignored: foo' } }),
    ]);
    expect(s).toEqual({ failures: [{ hospitalId: 'xm-dyyy', kind: 'timeout' }, { hospitalId: 'zz-zyy', kind: 'transient' }], suppressed: true, ignored: ['Ignored: foo'] });
  });
});

describe('patient', () => {
  test('national id, sex, birth date and each hospital record number', () => {
    const s = summarisePatient({
      resourceType: 'Patient',
      id: 'p1',
      gender: 'male',
      birthDate: '1962-03-15',
      identifier: [
        { system: 'urn:oid:2.16.156.10011.1.3', value: '350203196203151595' },
        { system: 'https://hie.xzq.example/fhir/sid/mrn/qz-fey', value: 'FE1', assigner: { reference: 'Organization/qz-fey', display: '福建医科大学附属第二医院' } },
        { system: 'https://hie.xzq.example/fhir/sid/mrn/xm-zsh', value: 'ZS1' },
      ],
    });
    expect(s).toEqual({
      regionalId: 'p1',
      nationalId: '350203196203151595',
      gender: 'male',
      birthDate: '1962-03-15',
      records: [
        { hospitalId: 'qz-fey', hospitalName: '福建医科大学附属第二医院', value: 'FE1' },
        { hospitalId: 'xm-zsh', value: 'ZS1' },
      ],
    });
  });
  test('hospitals: name, city division and grade from GET /Organization', () => {
    const m = hospitalsFrom([
      {
        resourceType: 'Organization',
        id: 'xm-dyyy',
        name: '厦门大学附属第一医院',
        extension: [{ url: 'https://hie.xzq.example/fhir/StructureDefinition/hospital-grade', valueCode: '3A' }],
        address: [{ extension: [{ url: 'https://hie.xzq.example/fhir/StructureDefinition/division-code', valueCode: '350200' }] }],
      },
    ]);
    expect(m.get('xm-dyyy')).toEqual({ id: 'xm-dyyy', name: '厦门大学附属第一医院', cityCode: '350200', grade: '3A' });
  });
});

describe('audit events', () => {
  const requestLine = 'GET /DiagnosticReport?patient=p1&_include=DiagnosticReport%3Aresult&note=%E8%A1%80%E5%B8%B8%E8%A7%84';
  const event: AuditEvent = {
    resourceType: 'AuditEvent',
    id: 'e1',
    type: { code: 'rest' },
    subtype: [
      { system: 'http://hl7.org/fhir/restful-interaction', code: 'operation' },
      { system: 'https://hie.xzq.example/fhir/CodeSystem/gateway-operation', code: '$recognition-decision' },
    ],
    recorded: '2026-11-29T02:00:00.000Z',
    outcome: '0',
    outcomeDesc: 'HTTP 201',
    purposeOfEvent: [{ coding: [{ code: 'ETREAT' }] }, { coding: [{ code: 'BTG' }] }],
    agent: [
      { type: { coding: [{ code: '110153' }] }, who: { identifier: { value: 'xzq-console', assigner: { reference: 'Organization/xm-zsh' } }, display: 'XZQ 互认控制台' }, requestor: false, network: { address: '127.0.0.1' } },
      { type: { coding: [{ code: 'PROV' }] }, who: { reference: 'Organization/xm-zsh', display: '厦门大学附属中山医院' }, requestor: false },
      { type: { coding: [{ code: '110152' }] }, who: { identifier: { value: BASE } }, requestor: false },
      { type: { coding: [{ code: 'IRCP' }] }, who: { identifier: { value: 'D1029' } }, name: '林医生', requestor: true },
    ],
    source: { observer: {} },
    entity: [
      { what: { reference: 'Patient/p1' }, type: { code: '1' }, role: { code: '1' } },
      { type: { code: '2' }, role: { code: '24' }, query: Buffer.from(requestLine, 'utf8').toString('base64') },
      { what: { identifier: { value: 'rid-1' } }, type: { code: 'XrequestId' }, detail: [{ type: 'breakGlass', valueString: 'true' }, { type: 'breakGlassReason', valueString: '昏迷送医' }] },
      { what: { reference: 'Organization/zz-syy' }, type: { code: '3' }, role: { code: '3' } },
    ],
  } as AuditEvent;

  test('who, organisation, purpose, what, patient, hospitals, request line, marks', () => {
    expect(summariseAuditEvent(event)).toEqual({
      id: 'e1',
      recorded: '2026-11-29T02:00:00.000Z',
      outcome: '0',
      outcomeDesc: 'HTTP 201',
      action: '$recognition-decision',
      purposes: ['ETREAT', 'BTG'],
      breakGlass: true,
      suppressed: false,
      user: { id: 'D1029', name: '林医生' },
      client: { id: 'xzq-console', display: 'XZQ 互认控制台' },
      organization: { id: 'xm-zsh', display: '厦门大学附属中山医院' },
      network: '127.0.0.1',
      patients: ['p1'],
      hospitalsReturned: ['zz-syy'],
      resources: [],
      request: 'GET /DiagnosticReport?patient=p1&_include=DiagnosticReport:result&note=血常规',
      requestId: 'rid-1',
      breakGlassReason: '昏迷送医',
      details: [],
    });
  });

  test('a request that is not UTF-8 or not base64 does not crash', () => {
    expect(decodeRequest('!!!')).toBe('');
    expect(decodeRequest(Buffer.from('GET /x?a=%E0%A4%A').toString('base64'))).toBe('GET /x?a=%E0%A4%A');
  });

  test('criteria: only declared parameters go to the gateway; the rest filter the loaded events', () => {
    const c = { ...EMPTY_CRITERIA, user: 'D1029', client: 'xzq-console', hospital: 'xm-zsh', purpose: 'ETREAT,BTG', from: '2026-11-01', to: '2026-11-30', outcome: '0' };
    expect(serverParams(c, new Set(['agent', 'purpose']))).toEqual([
      ['_count', '50'],
      ['agent', 'D1029'],
      ['outcome', '0'],
      ['purpose', 'ETREAT,BTG'],
      ['date', 'ge2026-11-01'],
      ['date', 'le2026-11-30'],
    ]);
    expect(serverParams({ ...EMPTY_CRITERIA, client: 'xzq-console' }, new Set())).toEqual([
      ['_count', '50'],
      ['agent', 'xzq-console'],
    ]);
    const keep = localFilter(c, new Set())!;
    const s = summariseAuditEvent(event);
    expect(keep(s)).toBe(true);
    expect(keep({ ...s, client: { id: 'xm-zsh-his' } })).toBe(false);
    expect(keep({ ...s, organization: { id: 'qz-fey' }, hospitalsReturned: [] })).toBe(false);
    expect(localFilter({ ...EMPTY_CRITERIA, patient: 'p1' }, new Set())).toBeUndefined();
  });

  test('the CSV of a search holds one quoted line per event, the request line included', () => {
    const csv = auditCsv(translator('zh'), [summariseAuditEvent(event)], new Map());
    const [header, line] = csv.split('\r\n');
    expect(header!.split(',')[0]).toBe('时间');
    expect(line).toContain(',GET /DiagnosticReport?patient=p1&_include=DiagnosticReport:result&note=血常规,');
    expect(csvField('GET /x?a=1,2')).toBe('"GET /x?a=1,2"');
    expect(line).toContain('D1029,林医生,xzq-console,厦门大学附属中山医院,p1,zz-syy');
  });
});

describe('recognition statistics', () => {
  test('totals, reasons and groups are read from the Parameters', () => {
    const fig = (d: number, a: number, cost: number): ParametersParameter[] => [
      { name: 'decisions', valueInteger: d },
      { name: 'accepted', valueInteger: a },
      { name: 'retested', valueInteger: d - a },
      ...(d ? [{ name: 'recognitionRate', valueDecimal: a / d }] : []),
      { name: 'costAvoided', valueMoney: { value: cost, currency: 'CNY' as const } },
    ];
    const s = parseStats({
      resourceType: 'Parameters',
      parameter: [
        ...fig(4, 3, 80),
        { name: 'retestedReason', part: [{ name: 'reason', valueCode: 'emergency' }, { name: 'count', valueInteger: 1 }] },
        { name: 'byHospital', part: [{ name: 'hospital', valueReference: { reference: 'Organization/xm-zsh', display: '厦门大学附属中山医院' } }, ...fig(4, 3, 80)] },
        { name: 'byItem', part: [{ name: 'item', valueCoding: { code: 'CBC', display: '血常规' } }, ...fig(2, 2, 40)] },
        { name: 'byMonth', part: [{ name: 'month', valueString: '2026-11' }, ...fig(4, 3, 80)] },
      ],
    });
    expect(s).toMatchObject({ decisions: 4, accepted: 3, retested: 1, rate: 0.75, cost: 80, reasons: [{ reason: 'emergency', count: 1 }] });
    expect(s.byHospital).toEqual([{ key: 'xm-zsh', label: '厦门大学附属中山医院', decisions: 4, accepted: 3, retested: 1, rate: 0.75, cost: 80 }]);
    expect(s.byItem[0]).toMatchObject({ key: 'CBC', label: '血常规', rate: 1 });
    expect(s.byMonth[0]).toMatchObject({ key: '2026-11' });
    expect(parseStats({ resourceType: 'Parameters', parameter: fig(0, 0, 0) }).rate).toBeUndefined();
  });
});

describe("the resident's access report", () => {
  const access = (...part: ParametersParameter[]): ParametersParameter => ({ name: 'access', part });
  const answer = {
    resourceType: 'Parameters' as const,
    parameter: [
      { name: 'patient', valueReference: { reference: 'Patient/p-1' } },
      { name: 'period', valuePeriod: { start: '2026-11-01', end: '2026-11-30' } },
      { name: 'generated', valueInstant: '2026-11-29T02:00:00Z' },
      access(
        { name: 'when', valueInstant: '2026-11-29T01:00:00Z' },
        { name: 'organization', valueReference: { reference: 'Organization/qz-fey', display: '福建医科大学附属第二医院' } },
        { name: 'city', valueString: '泉州市' },
        { name: 'person', valueString: '蔡丽娟' },
        { name: 'staffId', valueString: 'D2005' },
        { name: 'role', valueString: 'clinician' },
        { name: 'purpose', valueCoding: { code: 'ETREAT' } },
        { name: 'breakGlass', valueBoolean: true },
        { name: 'breakGlassReason', valueString: '急诊' },
        { name: 'accessed', valueString: '检验检查报告' },
        { name: 'item', valueString: '血常规' },
        { name: 'item', valueString: '血脂' },
        { name: 'outcome', valueCode: 'permitted' },
      ),
      access({ name: 'when', valueInstant: '2026-11-28T01:00:00Z' }, { name: 'person', valueString: '王审计' }, { name: 'accessed', valueString: '查阅记录报告' }, { name: 'outcome', valueCode: 'permitted' }, { name: 'supervision', valueBoolean: true }),
      access({ name: 'when', valueInstant: '2026-11-27T01:00:00Z' }, { name: 'accessed', valueString: '影像检查' }, { name: 'outcome', valueCode: 'refused' }),
      access({ name: 'when', valueInstant: '2026-11-26T01:00:00Z' }, { name: 'outcome', valueCode: 'something-else' }),
    ],
  };

  test('each access part becomes a row, in the order sent; supervision keeps no name', () => {
    const r = readAccessReport(answer);
    expect(r).toMatchObject({ patientId: 'p-1', from: '2026-11-01', to: '2026-11-30', generated: '2026-11-29T02:00:00Z', truncated: false });
    expect(r.rows).toHaveLength(4);
    expect(r.rows[0]).toEqual({
      when: '2026-11-29T01:00:00Z',
      organization: { id: 'qz-fey', name: '福建医科大学附属第二医院' },
      city: '泉州市',
      person: '蔡丽娟',
      staffId: 'D2005',
      role: 'clinician',
      purpose: 'ETREAT',
      breakGlass: true,
      breakGlassReason: '急诊',
      accessed: '检验检查报告',
      items: ['血常规', '血脂'],
      outcome: 'permitted',
      supervision: false,
    });
    expect(r.rows[1]).toMatchObject({ supervision: true, breakGlass: false });
    expect(r.rows[1]!.person).toBeUndefined();
    expect(r.rows[2]).toMatchObject({ outcome: 'refused', items: [] });
    expect(r.rows[3]!.outcome).toBe('failed');
    expect(readAccessReport({ resourceType: 'Parameters', parameter: [...answer.parameter, { name: 'truncated', valueBoolean: true }] }).truncated).toBe(true);
  });

  test('the default period is the last 30 days in Beijing dates, today included', () => {
    // 23:30 UTC on 6 December is already 7 December in Beijing
    expect(defaultPeriod(Date.parse('2026-12-06T23:30:00Z'))).toEqual({ from: '2026-11-08', to: '2026-12-07' });
    expect(defaultPeriod(Date.parse('2026-03-01T04:00:00Z'))).toEqual({ from: '2026-01-31', to: '2026-03-01' });
  });

  test('a period is checked before it is sent', () => {
    expect(checkPeriod({ from: '2026-11-01', to: '2026-11-30' })).toBeUndefined();
    expect(checkPeriod({ from: '2026-11-30', to: '2026-11-30' })).toBeUndefined();
    expect(checkPeriod({ from: '', to: '2026-11-30' })).toBe('missing');
    expect(checkPeriod({ from: '2026-02-30', to: '2026-03-01' })).toBe('format');
    expect(checkPeriod({ from: '2026/11/01', to: '2026-11-30' })).toBe('format');
    expect(checkPeriod({ from: '2026-12-01', to: '2026-11-30' })).toBe('inverted');
  });

  test('the report URL carries the regional id and the two days only', () => {
    expect(accessReportPath('51aa191b-2a03', { from: '2026-11-01', to: '2026-11-30' })).toBe('/Patient/51aa191b-2a03/$access-report?from=2026-11-01&to=2026-11-30');
    expect(accessReportPath('p.1', { from: '2026-11-01', to: '2026-11-30' }, 'pdf')).toBe('/Patient/p.1/$access-report?from=2026-11-01&to=2026-11-30&_format=pdf');
  });

  test("the gateway's words for what was accessed and for the city have dictionary entries", () => {
    const en = translator('en');
    expect(label(en, 'report.kind', accessedKind('检验检查报告'))).toBe('Lab and imaging reports');
    expect(accessedKind('新的种类')).toBeUndefined();
    expect(label(en, 'city', cityCode('泉州市'))).toBe('Quanzhou');
    expect(cityCode('福州市')).toBeUndefined();
  });
});

describe('the dictionary', () => {
  test('both languages have every key, and no entry is empty', () => {
    for (const lang of ['zh', 'en'] as const) {
      expect(Object.keys(dictionaries[lang]).sort()).toEqual([...MESSAGE_KEYS].sort());
      for (const k of MESSAGE_KEYS) expect(dictionaries[lang][k].length).toBeGreaterThan(0);
    }
  });
  test('placeholders are the same in both languages', () => {
    const vars = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const k of MESSAGE_KEYS) expect([k, vars(dictionaries.en[k])]).toEqual([k, vars(dictionaries.zh[k])]);
  });
  test('values are put in as text; an unknown code shows as itself', () => {
    const t = translator('zh');
    expect(t('search.criteria', { name: '<img src=x onerror=alert(1)>', birthDate: '2000-01-01' })).toBe('查询条件：姓名“<img src=x onerror=alert(1)>”，出生日期 2000-01-01');
    expect(label(t, 'recog', 'expired')).toBe('过期');
    expect(label(t, 'recog', 'grade-below')).toBe('等级不足');
    expect(label(t, 'city', '350500')).toBe('泉州市');
    expect(label(t, 'recog', 'something-new')).toBe('something-new');
  });
});
