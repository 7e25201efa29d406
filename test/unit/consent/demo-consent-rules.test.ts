import fc from 'fast-check';
import type { Consent } from '@medplum/fhirtypes';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { decideConsent, type ConsentDefault, type DecisionRequester, type ResultReason } from '../../../consent/consent-decision';
import type { ResultFacts } from '../../../consent/contract';
import { CANONICAL, NOW, actors, clinician, consent, permit, result } from '../../support/consent-builders';

/**
 * The consent rule of API.md §5 on the demo consents themselves (fixtures/consents.json), the ones
 * docs/consent.md shows a registrar, plus the rules the main table (consent-decision.test.ts) does
 * not spell out: recipients other than IRCP, the label-only consent beside a full one, and what an
 * empty consent list can never do. `now` is 2026-11-29 12:00 China time.
 */

const FIXTURE = path.resolve(__dirname, '..', '..', '..', 'fixtures', 'consents.json');

/** The demo consents by their identifier (DC001 …), patient named by reference as the store keeps them. */
const demo: Record<string, Consent> = Object.fromEntries(
  (JSON.parse(readFileSync(FIXTURE, 'utf8')) as Consent[]).map((c) => {
    const id = c.identifier![0].value!;
    return [id, { ...c, id, patient: { reference: 'Patient/p1' } }];
  }),
);

interface Row {
  consents: string[];
  requester?: Partial<DecisionRequester>;
  facts?: Partial<ResultFacts>;
  now?: string;
  access: boolean;
  permit: boolean;
  reason: ResultReason;
  /** the consent whose provision decided */
  by?: string;
  breakGlass?: boolean;
}

function check(row: Row, policyDefault: ConsentDefault = 'deny') {
  const { access, results } = decideConsent(
    {
      consents: row.consents.map((id) => demo[id]),
      requester: clinician(row.requester),
      policy: { default: policyDefault, canonicalBase: CANONICAL },
      now: row.now ? new Date(row.now) : NOW,
    },
    [result(row.facts)],
  );
  const [d] = results;
  expect(access.permit).toBe(row.access);
  expect(d.permit).toBe(row.permit);
  expect(d.reason).toBe(row.reason);
  expect(d.breakGlass).toBe(row.breakGlass ?? false);
  if (row.by) expect(d.consentId).toBe(row.by);
}

const table = (rows: Record<string, Row>) => Object.entries(rows);
const R = { securityLabels: ['R'] };

describe('the demo consents, judged', () => {
  it('the fixture holds the kinds the demo shows', () => {
    expect(Object.keys(demo)).toEqual(expect.arrayContaining(['DC001', 'DC004', 'DC005', 'DC006', 'DC007', 'DC008', 'DC009', 'DC015', 'DC019']));
    expect(demo.DC005.status).toBe('inactive');
  });

  it.each(table({
    'DC001 full: any member hospital, any result': { consents: ['DC001'], requester: { hospitalId: 'zz-lhq' }, access: true, permit: true, reason: 'consent-permit', by: 'DC001' },
    'DC004 Xiamen only: a Xiamen hospital': { consents: ['DC004'], requester: { hospitalId: 'xm-tagq' }, access: true, permit: true, reason: 'consent-permit' },
    'DC004 Xiamen only: results of a Quanzhou hospital still go to Xiamen': {
      consents: ['DC004'], facts: { hospitalId: 'qz-fey' }, access: true, permit: true, reason: 'consent-permit',
    },
    'DC004 Xiamen only: a Quanzhou hospital is refused': { consents: ['DC004'], requester: { hospitalId: 'qz-dyyy' }, access: false, permit: false, reason: 'no-access' },
    'DC005 withdrawn: as if none': { consents: ['DC005'], access: false, permit: false, reason: 'no-access' },
    'DC005 withdrawn: break-glass passes, marked': {
      consents: ['DC005'], requester: { purposeOfUse: 'ETREAT' }, access: true, permit: true, reason: 'break-glass', breakGlass: true,
    },
    'DC006 + DC007: the R result to xm-dyyy, released by the label-naming consent': {
      consents: ['DC006', 'DC007'], requester: { hospitalId: 'xm-dyyy' }, facts: R, access: true, permit: true, reason: 'consent-permit', by: 'DC007',
    },
    'DC006 + DC007: the R result to qz-dyyy, which DC007 does not name': {
      consents: ['DC006', 'DC007'], requester: { hospitalId: 'qz-dyyy' }, facts: R, access: true, permit: false, reason: 'sensitive-label',
    },
    'DC006 + DC007: a normal result to xm-dyyy, released by the full consent': {
      consents: ['DC006', 'DC007'], requester: { hospitalId: 'xm-dyyy' }, access: true, permit: true, reason: 'consent-permit', by: 'DC006',
    },
    'DC007 alone: a normal result is not covered by a label-only provision': {
      consents: ['DC007'], requester: { hospitalId: 'xm-dyyy' }, access: true, permit: false, reason: 'not-covered',
    },
    'DC007 alone, before its period (from 2026-11-17)': {
      consents: ['DC007'], requester: { hospitalId: 'xm-dyyy' }, facts: R, now: '2026-11-16T12:00:00+08:00', access: false, permit: false, reason: 'no-access',
    },
    'DC006 + DC007: break-glass by qz-dyyy does not release the R result': {
      consents: ['DC006', 'DC007'], requester: { hospitalId: 'qz-dyyy', purposeOfUse: 'ETREAT' }, facts: R, access: true, permit: false, reason: 'sensitive-label',
    },
    'DC008 full without a label: the HCV result (R) withheld': { consents: ['DC008'], facts: R, access: true, permit: false, reason: 'sensitive-label' },
    'DC009 nested deny: imaging to zz-lhq withheld': {
      consents: ['DC009'], requester: { hospitalId: 'zz-lhq' }, facts: { resourceType: 'ImagingStudy' }, access: true, permit: false, reason: 'consent-deny', by: 'DC009',
    },
    'DC009 nested deny: reports to zz-lhq released': { consents: ['DC009'], requester: { hospitalId: 'zz-lhq' }, access: true, permit: true, reason: 'consent-permit' },
    'DC009 nested deny: imaging to zz-syy released': {
      consents: ['DC009'], requester: { hospitalId: 'zz-syy' }, facts: { resourceType: 'ImagingStudy' }, access: true, permit: true, reason: 'consent-permit',
    },
    'DC009 nested deny: break-glass by zz-lhq does not pass it': {
      consents: ['DC009'], requester: { hospitalId: 'zz-lhq', purposeOfUse: 'BTG' }, facts: { resourceType: 'ImagingStudy' },
      access: true, permit: false, reason: 'consent-deny',
    },
    'DC015 period 2026-05-13 … 2027-05-13: within': { consents: ['DC015'], access: true, permit: true, reason: 'consent-permit' },
    'DC015: the day before it starts': { consents: ['DC015'], now: '2026-05-12T23:59:59+08:00', access: false, permit: false, reason: 'no-access' },
    'DC015: the first minute of its first day': { consents: ['DC015'], now: '2026-05-13T00:00:00+08:00', access: true, permit: true, reason: 'consent-permit' },
    'DC015: the last minute of its date-only end day': { consents: ['DC015'], now: '2027-05-13T23:59:00+08:00', access: true, permit: true, reason: 'consent-permit' },
    'DC015: the day after it ends': { consents: ['DC015'], now: '2027-05-14T00:00:00+08:00', access: false, permit: false, reason: 'no-access' },
    'DC019 reports and observations: an observation': {
      consents: ['DC019'], facts: { resourceType: 'Observation' }, access: true, permit: true, reason: 'consent-permit',
    },
    'DC019 reports and observations: an imaging study is not covered': {
      consents: ['DC019'], facts: { resourceType: 'ImagingStudy' }, access: true, permit: false, reason: 'not-covered',
    },
  }))('%s', (_n, row) => check(row));
});

describe('recipients: only IRCP actors name who may receive', () => {
  const withRole = (code: string, hospital: string) => ({
    role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code }] },
    reference: { reference: `Organization/${hospital}` },
  });
  const ids = (cs: Consent[]) => cs.map((c) => c.id!);
  it.each<[string, Consent, boolean]>([
    ['an IRCP actor naming the requester', consent(permit({ actor: [withRole('IRCP', 'xm-zsh')] })), true],
    ['an author (AUT) actor naming the requester does not make it a recipient', consent(permit({ actor: [withRole('IRCP', 'xm-dyyy'), withRole('AUT', 'xm-zsh')] })), false],
    ['beside an IRCP actor naming the requester, another role is ignored', consent(permit({ actor: [withRole('IRCP', 'xm-zsh'), withRole('AUT', 'xm-dyyy')] })), true],
    ['a provision whose actors are none of them IRCP names no recipient (the safe side)', consent(permit({ actor: [withRole('CST', 'xm-zsh')] })), false],
    ['an IRCP actor by absolute reference', consent(permit({ actor: [{ ...withRole('IRCP', 'x'), reference: { reference: 'https://hie.xzq.example/fhir/Organization/xm-zsh' } }] })), true],
  ])('%s', (_n, c, admitted) => {
    const { access } = decideConsent({ consents: [c], requester: clinician(), policy: { default: 'deny', canonicalBase: CANONICAL }, now: NOW }, []);
    expect(access.permit).toBe(admitted);
    expect(access.consentIds).toEqual(admitted ? ids([c]) : []);
  });

  it('a requester without a hospital is refused even by a consent naming every hospital', () => {
    const { access } = decideConsent(
      { consents: [consent(permit())], requester: { hospitalId: undefined, roles: ['clinician'], purposeOfUse: 'ETREAT' }, policy: { default: 'permit', canonicalBase: CANONICAL }, now: NOW },
      [],
    );
    expect(access).toMatchObject({ permit: false, reason: 'no-hospital' });
  });

  it('an actor list naming several hospitals admits each of them and no other', () => {
    const c = consent(permit(actors('qz-dyyy', 'qz-fey', 'qz-zyy')));
    for (const [hospitalId, admitted] of [['qz-dyyy', true], ['qz-fey', true], ['qz-zyy', true], ['xm-zsh', false], ['zz-syy', false]] as const) {
      const { access } = decideConsent({ consents: [c], requester: clinician({ hospitalId }), policy: { default: 'deny', canonicalBase: CANONICAL }, now: NOW }, []);
      expect([hospitalId, access.permit]).toEqual([hospitalId, admitted]);
    }
  });
});

describe('what nothing can do (properties)', () => {
  const HOSPITALS = ['xm-zsh', 'xm-dyyy', 'qz-dyyy', undefined];
  const requesters: fc.Arbitrary<DecisionRequester> = fc.record({
    hospitalId: fc.constantFrom(...HOSPITALS),
    roles: fc.constantFrom<DecisionRequester['roles']>(['clinician'], ['registrar'], ['auditor'], ['clinician', 'registrar']),
    purposeOfUse: fc.constantFrom('TREAT', 'ETREAT', 'BTG', 'HRESCH', 'HPAYMT'),
  });
  const facts: fc.Arbitrary<ResultFacts> = fc.record({
    resourceType: fc.constantFrom('DiagnosticReport' as const, 'Observation' as const, 'ImagingStudy' as const),
    hospitalId: fc.constantFrom('xm-zsh', 'qz-fey'),
    date: fc.option(fc.constantFrom('2020-01-01', '2026-11-28T08:00:00+08:00'), { nil: undefined }),
    catalogItem: fc.option(fc.constantFrom('CBC', 'HCV', 'CT-CHEST'), { nil: undefined }),
    securityLabels: fc.subarray(['R', 'N', 'HIV', 'PSY']),
  });
  const emergencyClinician = (r: DecisionRequester) => r.roles.includes('clinician') && (r.purposeOfUse === 'ETREAT' || r.purposeOfUse === 'BTG');

  it('under default deny, no consent releases nothing to anyone but an emergency clinician, and then only by break-glass', () => {
    fc.assert(
      fc.property(requesters, facts, (who, f) => {
        const { access, results } = decideConsent({ consents: [], requester: who, policy: { default: 'deny', canonicalBase: CANONICAL }, now: NOW }, [f]);
        if (!emergencyClinician(who) || !who.hospitalId) {
          expect(access.permit).toBe(false);
          expect(results[0].permit).toBe(false);
        } else if (results[0].permit) {
          expect(results[0]).toMatchObject({ reason: 'break-glass', breakGlass: true });
          expect(access.breakGlassOnly).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('withdrawn (inactive) consents change nothing: the verdict is that of the active ones alone', () => {
    const anyConsent = fc.constantFrom(...Object.values(demo).filter((c) => c.status === 'active'));
    fc.assert(
      fc.property(fc.array(anyConsent, { maxLength: 3 }), fc.array(anyConsent, { minLength: 1, maxLength: 3 }), requesters, facts, (active, withdrawn, who, f) => {
        const inactive = withdrawn.map((c, i) => ({ ...c, id: `w${i}`, status: 'inactive' as const }));
        const input = (cs: Consent[]) => ({ consents: cs, requester: who, policy: { default: 'deny' as const, canonicalBase: CANONICAL }, now: NOW });
        expect(decideConsent(input([...active, ...inactive]), [f])).toEqual(decideConsent(input(active), [f]));
      }),
      { numRuns: 500 },
    );
  });
});
