import type { AuditEvent } from '@medplum/fhirtypes';
import { reportEntry, reportPeriod, type ReportContext } from '../../../../gateway/audit/access-report';
import { isOperationOutcomeError } from '../../../../gateway/fhir/outcomes';

/**
 * The resident's access report (docs/audit.md §6), without a database: what each kind of audit
 * event becomes in the report, and which periods are refused.
 */
const ctx: ReportContext = {
  hospitalName: (id) => ({ 'xm-zsh': '厦门大学附属中山医院', 'qz-dyyy': '泉州市第一医院' })[id],
  hospitalCity: (id) => ({ 'xm-zsh': '厦门市', 'qz-dyyy': '泉州市' })[id],
  itemName: (code) => ({ CBC: '血常规', LIPID: '血脂' })[code],
  isSupervisor: (clientId) => clientId === 'audit-office',
};
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const line = (s: string) => ({ query: Buffer.from(s).toString('base64') });

function event(o: { path: string; outcome?: AuditEvent['outcome']; hospital?: string; client?: string; person?: { name: string; id: string; roles: string[] }; purpose?: string; reason?: string; details?: Record<string, string>; type?: string }): AuditEvent {
  const agent: AuditEvent['agent'] = [{ requestor: !o.person, who: { identifier: { system: 'https://x/sid/client-id', value: o.client ?? 'xm-zsh-his' } } }];
  if (o.hospital) agent.push({ requestor: false, type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleClass', code: 'PROV' }] }, who: { reference: `Organization/${o.hospital}` } });
  if (o.person) {
    agent.push({
      requestor: true,
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] },
      who: { identifier: { system: 'https://x/sid/subject-id', value: o.person.id } },
      name: o.person.name,
      role: o.person.roles.map((code) => ({ coding: [{ code }] })),
    });
  }
  const details = Object.entries(o.details ?? {}).map(([type, valueString]) => ({ type, valueString }));
  return {
    resourceType: 'AuditEvent',
    type: { system: o.type ? DCM : 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: o.type ?? 'rest' },
    recorded: '2026-11-29T02:00:00.000Z',
    outcome: o.outcome ?? '0',
    ...(o.purpose ? { purposeOfEvent: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: o.purpose }], ...(o.reason ? { text: o.reason } : {}) }] } : {}),
    agent,
    source: { observer: { display: 'gw' } },
    entity: [{ ...line(`GET ${o.path}`) }, { detail: details }],
  };
}

describe('reportEntry', () => {
  const doctor = { name: '林医生', id: 'D1029', roles: ['doctor', 'clinician'] };
  test.each<[string, AuditEvent, Record<string, unknown>]>([
    ['a clinician reads reports: organisation, city, person, role, items by name', event({ path: '/DiagnosticReport?patient=x', hospital: 'xm-zsh', person: doctor, purpose: 'TREAT', details: { items: 'CBC,LIPID' } }),
      { organization: { id: 'xm-zsh', name: '厦门大学附属中山医院', city: '厦门市' }, person: { name: '林医生', staffId: 'D1029', role: 'clinician' }, purpose: 'TREAT', accessed: '检验检查报告', items: ['血常规', '血脂'], outcome: 'permitted', supervision: false }],
    ['a refusal', event({ path: '/DiagnosticReport?patient=x', hospital: 'qz-dyyy', person: doctor, outcome: '4' }), { outcome: 'refused', accessed: '检验检查报告' }],
    ['a failure', event({ path: '/ImagingStudy?patient=x', hospital: 'qz-dyyy', outcome: '8' }), { outcome: 'failed', accessed: '影像检查' }],
    ['break-glass with its typed reason', event({ path: '/DiagnosticReport?patient=x', hospital: 'qz-dyyy', person: doctor, purpose: 'ETREAT', reason: '急诊', details: { breakGlass: 'true', breakGlassReason: '急诊抢救' } }), { purpose: 'ETREAT', breakGlassReason: '急诊抢救' }],
    ['break-glass without a recorded reason', event({ path: '/DiagnosticReport?patient=x', hospital: 'qz-dyyy', person: doctor, purpose: 'TREAT', details: { breakGlass: 'true' } }), { breakGlassReason: '（未填写）' }],
    ['an auditor client: supervision, no person, no client', event({ path: '/AuditEvent?patient=x', client: 'audit-office', person: { name: '王审计', id: 'A0001', roles: [] } }), { supervision: true, accessed: '访问记录（审计）' }],
    ['a person with the auditor role: supervision', event({ path: '/Patient/x/$access-report', client: 'xzq-console', person: { name: '王审计', id: 'A0001', roles: ['auditor'] } }), { supervision: true, accessed: '查阅记录报告' }],
    ['a machine client without a person: the client', event({ path: '/Patient?identifier=x', client: 'xm-zsh-his', hospital: 'xm-zsh' }), { client: 'xm-zsh-his', accessed: '身份信息' }],
    ['a merge', event({ path: '/Patient/$merge', hospital: 'xm-zsh', person: doctor }), { accessed: '身份合并/撤销合并' }],
    ['a sign-in', event({ path: '/auth/authorize', type: '110114', hospital: 'xm-zsh', person: doctor }), { accessed: '登录/退出' }],
  ])('%s', (_what, e, expected) => {
    const entry = reportEntry(e, ctx);
    expect(entry).toMatchObject(expected);
    if (entry.supervision) {
      expect(entry.person).toBeUndefined();
      expect(entry.client).toBeUndefined();
    }
  });
});

describe('reportPeriod', () => {
  const now = new Date('2026-11-29T02:00:00Z');
  test('Beijing days, both included', () => {
    expect(reportPeriod('2026-11-01', '2026-11-29', now, 1095)).toEqual({ start: new Date('2026-10-31T16:00:00Z'), end: new Date('2026-11-29T16:00:00Z') });
    expect(reportPeriod('2026-11-29', '2026-11-29', now, 1095).end.getTime() - reportPeriod('2026-11-29', '2026-11-29', now, 1095).start.getTime()).toBe(86_400_000);
  });
  test.each<[string, string | undefined, string | undefined, string]>([
    ['no from', undefined, '2026-11-29', 'parameter-required'],
    ['no to', '2026-11-01', undefined, 'parameter-required'],
    ['not a date', '2026-11', '2026-11-29', 'invalid-date'],
    ['no such day', '2026-02-30', '2026-11-29', 'invalid-date'],
    ['inverted', '2026-11-29', '2026-11-01', 'invalid-period'],
    ['before the retention window', '2023-11-01', '2026-11-29', 'period-beyond-retention'],
  ])('%s → %s', (_what, from, to, code) => {
    try {
      reportPeriod(from, to, now, 1095);
      throw new Error('not refused');
    } catch (e) {
      expect(isOperationOutcomeError(e)).toBe(true);
      expect((e as { outcome: { issue: Array<{ details?: { coding?: Array<{ code?: string }> } }> } }).outcome.issue[0]!.details?.coding?.[0]?.code).toBe(code);
    }
  });
});
