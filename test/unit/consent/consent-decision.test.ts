import type { Consent } from '@medplum/fhirtypes';
import { decideConsent, type ConsentDefault, type DecisionRequester, type ResultReason } from '../../../consent/consent-decision';
import type { ResultFacts } from '../../../consent/contract';
import {
  CANONICAL, NOW, actors, classes, clinician, codes, consent, dataPeriod, deny, labels, nested, period, permit, purposes, result,
} from '../../support/consent-builders';

/**
 * The consent rule of API.md §5, one row a case. Columns: the patient's consents, who asks, the
 * gateway default, the result → may the requester in at all, is this result released, and why.
 * `now` is 2026-11-29 12:00 China time; the requester is a clinician of xm-zsh asking for TREAT;
 * the result a CBC DiagnosticReport of 2026-10-01 from qz-dyyy, with no labels, unless a row says so.
 */
interface Row {
  consents: Consent[];
  requester?: Partial<DecisionRequester>;
  default?: ConsentDefault;
  facts?: Partial<ResultFacts>;
  access: boolean;
  permit: boolean;
  reason: ResultReason;
  breakGlass?: boolean;
}

function judge(row: Row) {
  const { access, results } = decideConsent(
    { consents: row.consents, requester: clinician(row.requester), policy: { default: row.default ?? 'deny', canonicalBase: CANONICAL }, now: NOW },
    [result(row.facts)],
  );
  return { access, decision: results[0] };
}

function check(row: Row) {
  const { access, decision } = judge(row);
  expect(access.permit).toBe(row.access);
  expect(decision.permit).toBe(row.permit);
  expect(decision.reason).toBe(row.reason);
  expect(decision.breakGlass).toBe(row.breakGlass ?? false);
}

const table = (rows: Record<string, Row>) => Object.entries(rows);

describe('provision nesting', () => {
  it.each(table({
    'a plain permit releases everything': { consents: [consent(permit())], access: true, permit: true, reason: 'consent-permit' },
    'permit with a nested deny of imaging: a lab report is released': {
      consents: [consent(permit(nested(deny(classes('ImagingStudy')))))], access: true, permit: true, reason: 'consent-permit',
    },
    'permit with a nested deny of imaging: a study is withheld': {
      consents: [consent(permit(nested(deny(classes('ImagingStudy')))))], facts: { resourceType: 'ImagingStudy' },
      access: true, permit: false, reason: 'consent-deny',
    },
    'deny of all lab reports with a nested permit for CBC: CBC re-permitted': {
      consents: [consent(permit(nested(deny(classes('DiagnosticReport'), nested(permit(codes('CBC')))))))],
      access: true, permit: true, reason: 'consent-permit',
    },
    'deny of all lab reports with a nested permit for CBC: LFT stays withheld': {
      consents: [consent(permit(nested(deny(classes('DiagnosticReport'), nested(permit(codes('CBC')))))))],
      facts: { catalogItem: 'LFT' }, access: true, permit: false, reason: 'consent-deny',
    },
    'three levels: permit > deny reports > permit CBC > deny CBC before 2026': {
      consents: [consent(permit(nested(deny(classes('DiagnosticReport'), nested(permit(codes('CBC'), nested(deny(dataPeriod(undefined, '2025-12-31'))))))))) ],
      facts: { date: '2025-06-01' }, access: true, permit: false, reason: 'consent-deny',
    },
    'three levels, the CBC of 2026 passes all of them': {
      consents: [consent(permit(nested(deny(classes('DiagnosticReport'), nested(permit(codes('CBC'), nested(deny(dataPeriod(undefined, '2025-12-31'))))))))) ],
      access: true, permit: true, reason: 'consent-permit',
    },
    'sibling deny wins over a sibling permit': {
      consents: [consent(permit(nested(permit(codes('CBC')), deny(classes('DiagnosticReport')))))],
      access: true, permit: false, reason: 'consent-deny',
    },
    'a nested deny for another hospital does not touch this one': {
      consents: [consent(permit(nested(deny(actors('zz-lhq')))))], access: true, permit: true, reason: 'consent-permit',
    },
    'a nested deny for this hospital withholds': {
      consents: [consent(permit(nested(deny(actors('xm-zsh')))))], access: true, permit: false, reason: 'consent-deny',
    },
    'a nested deny outside its own period does not apply': {
      consents: [consent(permit(nested(deny(period('2027-01-01')))))], access: true, permit: true, reason: 'consent-permit',
    },
  }))('%s', (_n, row) => check(row));
});

describe('actors: who may receive', () => {
  it.each(table({
    'no actor = every member hospital': { consents: [consent(permit())], access: true, permit: true, reason: 'consent-permit' },
    'one actor, the requester': { consents: [consent(permit(actors('xm-zsh')))], access: true, permit: true, reason: 'consent-permit' },
    'a city-limited list naming the requester': {
      consents: [consent(permit(actors('xm-dyyy', 'xm-zsh', 'xm-zyy', 'xm-tagq')))], access: true, permit: true, reason: 'consent-permit',
    },
    'a city-limited list of another city': {
      consents: [consent(permit(actors('qz-dyyy', 'qz-fey', 'qz-zyy')))], access: false, permit: false, reason: 'no-access',
    },
    'another hospital only': { consents: [consent(permit(actors('xm-dyyy')))], access: false, permit: false, reason: 'no-access' },
    'a requester without a hospital (auditor) is never a recipient': {
      consents: [consent(permit())], requester: { hospitalId: undefined, roles: ['auditor'] }, access: false, permit: false, reason: 'no-access',
    },
    'a purpose-limited consent (TREAT) for a TREAT request': {
      consents: [consent(permit(purposes('TREAT')))], access: true, permit: true, reason: 'consent-permit',
    },
    'a purpose-limited consent (TREAT) for a research request': {
      consents: [consent(permit(purposes('TREAT')))], requester: { purposeOfUse: 'HRESCH' }, access: false, permit: false, reason: 'no-access',
    },
  }))('%s', (_n, row) => check(row));
});

describe('periods: when the consent is in force', () => {
  it.each(table({
    'before the period': { consents: [consent(permit(period('2026-12-01', '2027-12-01')))], access: false, permit: false, reason: 'no-access' },
    'within the period': { consents: [consent(permit(period('2026-01-01', '2026-12-31')))], access: true, permit: true, reason: 'consent-permit' },
    'after the period': { consents: [consent(permit(period('2025-01-01', '2025-12-31')))], access: false, permit: false, reason: 'no-access' },
    'open-ended start only': { consents: [consent(permit(period('2026-01-01')))], access: true, permit: true, reason: 'consent-permit' },
    'open-ended end only': { consents: [consent(permit(period(undefined, '2027-01-01')))], access: true, permit: true, reason: 'consent-permit' },
    'a date-only end covers its whole last day (China time)': {
      consents: [consent(permit(period('2026-01-01', '2026-11-29')))], access: true, permit: true, reason: 'consent-permit',
    },
    'an end with a time before now': {
      consents: [consent(permit(period('2026-01-01', '2026-11-29T11:59:59+08:00')))], access: false, permit: false, reason: 'no-access',
    },
  }))('%s', (_n, row) => check(row));
});

describe('dataPeriod, class and code: which results', () => {
  it.each(table({
    'result date inside the data period': { consents: [consent(permit(dataPeriod('2026-01-01', '2026-12-31')))], access: true, permit: true, reason: 'consent-permit' },
    'result date before the data period': {
      consents: [consent(permit(dataPeriod('2026-10-02')))], access: true, permit: false, reason: 'not-covered',
    },
    'result date after the data period': {
      consents: [consent(permit(dataPeriod(undefined, '2026-09-30')))], access: true, permit: false, reason: 'not-covered',
    },
    'an undated result is not inside a permitted data period': {
      consents: [consent(permit(dataPeriod('2020-01-01')))], facts: { date: undefined }, access: true, permit: false, reason: 'not-covered',
    },
    'an undated result is not let out of a denied data period': {
      consents: [consent(permit(nested(deny(dataPeriod(undefined, '2020-01-01')))))], facts: { date: undefined },
      access: true, permit: false, reason: 'consent-deny',
    },
    'class names the result type': { consents: [consent(permit(classes('DiagnosticReport', 'Observation')))], access: true, permit: true, reason: 'consent-permit' },
    'class names other types only': {
      consents: [consent(permit(classes('DiagnosticReport', 'Observation')))], facts: { resourceType: 'ImagingStudy' },
      access: true, permit: false, reason: 'not-covered',
    },
    'code names the catalog item': { consents: [consent(permit(codes('CBC', 'LFT')))], access: true, permit: true, reason: 'consent-permit' },
    'code names other items only': { consents: [consent(permit(codes('LFT')))], access: true, permit: false, reason: 'not-covered' },
    'a result matching no catalog item is outside a code-limited consent': {
      consents: [consent(permit(codes('CBC')))], facts: { catalogItem: undefined }, access: true, permit: false, reason: 'not-covered',
    },
  }))('%s', (_n, row) => check(row));
});

describe('security labels: sensitive results', () => {
  it.each(table({
    'a restricted (R) result under a plain permit stays withheld': {
      consents: [consent(permit())], facts: { securityLabels: ['R'] }, access: true, permit: false, reason: 'sensitive-label',
    },
    'a restricted result under a nested permit naming R': {
      consents: [consent(permit(nested(permit(labels('R')))))], facts: { securityLabels: ['R'] }, access: true, permit: true, reason: 'consent-permit',
    },
    'a root permit naming N and R releases normal and restricted alike (normal)': {
      consents: [consent(permit(labels('N', 'R')))], access: true, permit: true, reason: 'consent-permit',
    },
    'a root permit naming N and R releases normal and restricted alike (restricted)': {
      consents: [consent(permit(labels('N', 'R')))], facts: { securityLabels: ['R'] }, access: true, permit: true, reason: 'consent-permit',
    },
    'a root permit naming R only covers restricted results only': {
      consents: [consent(permit(labels('R')))], access: true, permit: false, reason: 'not-covered',
    },
    'an HIV-labelled result needs HIV named, R is not enough': {
      consents: [consent(permit(labels('N', 'R')))], facts: { securityLabels: ['R', 'HIV'] }, access: true, permit: false, reason: 'sensitive-label',
    },
    'an HIV-labelled result with R and HIV named': {
      consents: [consent(permit(labels('N', 'R', 'HIV')))], facts: { securityLabels: ['R', 'HIV'] }, access: true, permit: true, reason: 'consent-permit',
    },
    'a label named only by a deny provision releases nothing': {
      consents: [consent(permit(nested(deny(labels('PSY'), nested(permit(codes('CBC')))))))], facts: { securityLabels: ['PSY'] },
      access: true, permit: false, reason: 'sensitive-label',
    },
    'a non-sensitive label (N) needs no naming': {
      consents: [consent(permit())], facts: { securityLabels: ['N'] }, access: true, permit: true, reason: 'consent-permit',
    },
    'default permit never releases a sensitive result': {
      consents: [], default: 'permit', facts: { securityLabels: ['PSY'] }, access: true, permit: false, reason: 'sensitive-label',
    },
  }))('%s', (_n, row) => check(row));
});

describe('default deny (opt-in) vs default permit (opt-out)', () => {
  it.each(table({
    'opt-in, no consent: 403': { consents: [], access: false, permit: false, reason: 'no-access' },
    'opt-out, no consent: non-sensitive released': { consents: [], default: 'permit', access: true, permit: true, reason: 'default-permit' },
    'opt-out, a consent for another hospital only: its root does not refuse this one': {
      consents: [consent(permit(actors('xm-dyyy')))], default: 'permit', access: true, permit: true, reason: 'default-permit',
    },
    'opt-out, an active consent still applies its denies': {
      consents: [consent(permit(nested(deny(classes('DiagnosticReport')))))], default: 'permit', access: true, permit: false, reason: 'consent-deny',
    },
    'opt-out, a deny inside a consent for another hospital still holds (explicit deny)': {
      consents: [consent(permit(actors('xm-dyyy'), nested(deny(codes('CBC')))))], default: 'permit', access: true, permit: false, reason: 'explicit-deny',
    },
    'opt-in, consent covers other types only: result withheld, access allowed': {
      consents: [consent(permit(classes('ImagingStudy')))], access: true, permit: false, reason: 'not-covered',
    },
  }))('%s', (_n, row) => check(row));
});

describe('withdrawn and several consents', () => {
  it.each(table({
    'only a withdrawn consent = none': { consents: [consent(permit(), { status: 'inactive' })], access: false, permit: false, reason: 'no-access' },
    'a withdrawn consent beside an active one': {
      consents: [consent(permit(), { status: 'inactive' }), consent(permit(actors('xm-zsh')))], access: true, permit: true, reason: 'consent-permit',
    },
    'a draft or rejected consent does not count': {
      consents: [consent(permit(), { status: 'draft' }), consent(permit(), { status: 'rejected' })], access: false, permit: false, reason: 'no-access',
    },
    'any permitting consent: the second names this hospital': {
      consents: [consent(permit(actors('xm-dyyy'))), consent(permit(actors('xm-zsh')))], access: true, permit: true, reason: 'consent-permit',
    },
    'any permitting consent: one covers reports, the other imaging (report asked)': {
      consents: [consent(permit(classes('ImagingStudy'))), consent(permit(classes('DiagnosticReport')))], access: true, permit: true, reason: 'consent-permit',
    },
    'a deny in one applicable consent wins over a permit in another': {
      consents: [consent(permit()), consent(permit(nested(deny(codes('CBC')))))], access: true, permit: false, reason: 'consent-deny',
    },
    'a consent limited to Xiamen with a deny does not limit a Quanzhou consent': {
      consents: [consent(permit(actors('xm-zsh'), nested(deny(classes('ImagingStudy'))))), consent(permit(actors('qz-dyyy')))],
      requester: { hospitalId: 'qz-dyyy' }, facts: { resourceType: 'ImagingStudy' }, access: true, permit: true, reason: 'consent-permit',
    },
  }))('%s', (_n, row) => check(row));
});

describe('break-glass', () => {
  const emergency = { purposeOfUse: 'ETREAT' };
  it.each(table({
    'no consent, ETREAT clinician: non-sensitive released, marked': {
      consents: [], requester: emergency, access: true, permit: true, reason: 'break-glass', breakGlass: true,
    },
    'no consent, BTG clinician: released, marked': {
      consents: [], requester: { purposeOfUse: 'BTG' }, access: true, permit: true, reason: 'break-glass', breakGlass: true,
    },
    'explicit deny in a consent for another hospital: refused': {
      consents: [consent(permit(actors('xm-dyyy'), nested(deny(classes('DiagnosticReport')))))], requester: emergency,
      access: true, permit: false, reason: 'explicit-deny',
    },
    'explicit deny in an applicable consent: refused': {
      consents: [consent(permit(nested(deny(codes('CBC')))))], requester: emergency, access: true, permit: false, reason: 'consent-deny',
    },
    'sensitive result: refused': {
      consents: [], requester: emergency, facts: { securityLabels: ['R'] }, access: true, permit: false, reason: 'sensitive-label',
    },
    'a non-clinician (registrar) gets no break-glass': {
      consents: [], requester: { ...emergency, roles: ['registrar'] }, access: false, permit: false, reason: 'no-access',
    },
    'TREAT is not break-glass': { consents: [], access: false, permit: false, reason: 'no-access' },
    'consent covers reports only; the emergency also sees imaging, marked': {
      consents: [consent(permit(classes('DiagnosticReport')))], requester: emergency, facts: { resourceType: 'ImagingStudy' },
      access: true, permit: true, reason: 'break-glass', breakGlass: true,
    },
    'consent covers it: consent decides, not break-glass': {
      consents: [consent(permit())], requester: emergency, access: true, permit: true, reason: 'consent-permit',
    },
    'an expired consent\'s denies no longer hold': {
      consents: [consent(permit(period('2020-01-01', '2020-12-31'), nested(deny(codes('CBC')))))], requester: emergency,
      access: true, permit: true, reason: 'break-glass', breakGlass: true,
    },
  }))('%s', (_n, row) => check(row));

  it('marks the access as break-glass only when no consent applies', () => {
    const none = judge({ consents: [], requester: emergency, access: true, permit: true, reason: 'break-glass' });
    expect(none.access).toMatchObject({ permit: true, breakGlassOnly: true, reason: 'break-glass' });
    const some = judge({ consents: [consent(permit())], requester: emergency, access: true, permit: true, reason: 'consent-permit' });
    expect(some.access).toMatchObject({ permit: true, breakGlassOnly: false, reason: 'consent' });
  });
});

describe('the decision explains itself', () => {
  it('names the consent and the provision that decided', () => {
    const c = consent(permit(nested(permit(codes('LFT')), deny(classes('DiagnosticReport')))), { id: 'cx' });
    const { access, results } = decideConsent(
      { consents: [c], requester: clinician(), policy: { default: 'deny', canonicalBase: CANONICAL }, now: NOW },
      [result(), result({ resourceType: 'Observation' })],
    );
    expect(access).toEqual({ permit: true, breakGlassOnly: false, reason: 'consent', consentIds: ['cx'] });
    expect(results[0]).toEqual({ permit: false, reason: 'consent-deny', consentId: 'cx', provision: 'provision.provision[1]', breakGlass: false });
    expect(results[1]).toEqual({ permit: true, reason: 'consent-permit', consentId: 'cx', provision: 'provision', breakGlass: false });
  });
});
