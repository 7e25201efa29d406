import fc from 'fast-check';
import type { Consent, ConsentProvision } from '@medplum/fhirtypes';
import { decideConsent, type ConsentDefault, type DecisionRequester } from '../../../consent/consent-decision';
import type { ResultFacts } from '../../../consent/contract';
import { CANONICAL, NOW, actors, classes, codes, consent, dataPeriod, labels, period, purposes } from '../../support/consent-builders';

/**
 * Invariants of the consent decision over random consents, requesters and results:
 * - adding a deny provision anywhere never releases more, and never changes who gets in;
 * - a sensitive result is released only when some permit provision names each of its labels;
 * - opt-out never releases less than opt-in.
 */

const HOSPITALS = ['xm-zsh', 'xm-dyyy', 'qz-dyyy'];
const TYPES = ['DiagnosticReport', 'Observation', 'ImagingStudy'] as const;

const criteria: fc.Arbitrary<Partial<ConsentProvision>> = fc
  .record(
    {
      actor: fc.subarray(HOSPITALS, { minLength: 1 }).map((ids) => actors(...ids)),
      period: fc.constantFrom(period('2020-01-01', '2025-12-31'), period('2026-01-01'), period(undefined, '2030-01-01'), period('2027-01-01')),
      purpose: fc.constantFrom(purposes('TREAT'), purposes('TREAT', 'ETREAT')),
      class: fc.subarray([...TYPES], { minLength: 1 }).map((t) => classes(...t)),
      code: fc.subarray(['CBC', 'LFT'], { minLength: 1 }).map((c) => codes(...c)),
      dataPeriod: fc.constantFrom(dataPeriod('2026-01-01'), dataPeriod(undefined, '2025-12-31')),
      securityLabel: fc.subarray(['N', 'R', 'HIV'], { minLength: 1 }).map((l) => labels(...l)),
    },
    { requiredKeys: [] },
  )
  .map((parts) => Object.assign({}, ...Object.values(parts)));

const provisionTree = (type: 'permit' | 'deny', depth: number): fc.Arbitrary<ConsentProvision> =>
  depth === 0
    ? criteria.map((c) => ({ type, ...c }))
    : fc
        .tuple(criteria, fc.array(fc.constantFrom<'permit' | 'deny'>('permit', 'deny').chain((t) => provisionTree(t, depth - 1)), { maxLength: 2 }))
        .map(([c, children]) => ({ type, ...c, ...(children.length ? { provision: children } : {}) }));

const consents = fc.array(
  fc.tuple(provisionTree('permit', 2), fc.constantFrom<Consent['status']>('active', 'active', 'inactive')).map(([p, status]) => consent(p, { status })),
  { maxLength: 3 },
);

const requesters: fc.Arbitrary<DecisionRequester> = fc.record({
  hospitalId: fc.constantFrom(...HOSPITALS),
  roles: fc.constantFrom<DecisionRequester['roles']>(['clinician'], ['registrar'], ['clinician', 'registrar']),
  purposeOfUse: fc.constantFrom('TREAT', 'ETREAT', 'BTG'),
});

const results: fc.Arbitrary<ResultFacts> = fc.record({
  resourceType: fc.constantFrom(...TYPES),
  hospitalId: fc.constantFrom(...HOSPITALS),
  date: fc.constantFrom<string | undefined>('2024-05-01', '2026-10-01T08:00:00+08:00', undefined),
  catalogItem: fc.constantFrom<string | undefined>('CBC', 'LFT', undefined),
  securityLabels: fc.subarray(['R', 'HIV', 'N']),
});

const defaults = fc.constantFrom<ConsentDefault>('deny', 'permit');

function decide(cs: Consent[], requester: DecisionRequester, def: ConsentDefault, facts: ResultFacts) {
  return decideConsent({ consents: cs, requester, policy: { default: def, canonicalBase: CANONICAL }, now: NOW }, [facts]);
}

/** A copy of `cs` with `extra` added under the k-th provision (pre-order, over all consents). */
function withDenyAt(cs: Consent[], k: number, extra: ConsentProvision): Consent[] {
  const copy = structuredClone(cs);
  const nodes: ConsentProvision[] = [];
  const walk = (p: ConsentProvision) => {
    nodes.push(p);
    for (const c of p.provision ?? []) walk(c);
  };
  for (const c of copy) if (c.provision) walk(c.provision);
  if (!nodes.length) return copy;
  const target = nodes[k % nodes.length];
  target.provision = [...(target.provision ?? []), extra];
  return copy;
}

describe('consent decision invariants', () => {
  it('adding a deny never releases more and never changes who gets in', () => {
    fc.assert(
      fc.property(consents, requesters, defaults, results, fc.nat(), provisionTree('deny', 1), (cs, who, def, facts, k, extra) => {
        const before = decide(cs, who, def, facts);
        const after = decide(withDenyAt(cs, k, extra), who, def, facts);
        expect(after.access.permit).toBe(before.access.permit);
        if (after.results[0].permit) expect(before.results[0].permit).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('a sensitive result is released only when a permit provision names each of its sensitive labels', () => {
    fc.assert(
      fc.property(consents, requesters, defaults, results, (cs, who, def, facts) => {
        const d = decide(cs, who, def, facts).results[0];
        const sensitive = facts.securityLabels.filter((l) => l === 'R' || l === 'HIV');
        if (!d.permit || !sensitive.length) return;
        expect(d.reason).toBe('consent-permit');
        const named = new Set<string>();
        const walk = (p: ConsentProvision) => {
          if (p.type === 'permit') for (const l of p.securityLabel ?? []) named.add(l.code!);
          for (const c of p.provision ?? []) walk(c);
        };
        for (const c of cs) if (c.status === 'active' && c.provision) walk(c.provision);
        for (const l of sensitive) expect(named.has(l)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('opt-out never releases less than opt-in', () => {
    fc.assert(
      fc.property(consents, requesters, results, (cs, who, facts) => {
        const optIn = decide(cs, who, 'deny', facts);
        const optOut = decide(cs, who, 'permit', facts);
        if (optIn.access.permit) expect(optOut.access.permit).toBe(true);
        if (optIn.results[0].permit) expect(optOut.results[0].permit).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
