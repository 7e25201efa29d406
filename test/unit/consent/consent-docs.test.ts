import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Consent } from '@medplum/fhirtypes';
import { decideConsent } from '../../../consent/consent-decision';
import { checkConsent } from '../../../consent/consent-validation';
import { expectValidFhir } from '../../support/fhir-validation';
import { CANONICAL, NOW, clinician, result } from '../../support/consent-builders';

/**
 * docs/consent.md shows registrars Consents to copy: each must be valid R4 and accepted by the
 * gateway exactly as written (a withdrawal example by PUT, the others by POST), and the ones whose
 * meaning the guide spells out must mean that to the decision.
 */
const DOC = path.resolve(__dirname, '..', '..', '..', 'docs', 'consent.md');
const DEMO_HOSPITALS = ['xm-dyyy', 'xm-zsh', 'xm-zyy', 'xm-tagq', 'qz-dyyy', 'qz-fey', 'qz-zyy', 'zz-syy', 'zz-zyy', 'zz-lhq'];

const examples: Consent[] = [...readFileSync(DOC, 'utf8').matchAll(/```json\n([\s\S]*?)\n```/g)].map((m) => JSON.parse(m[1]) as Consent);

describe('the Consents in docs/consent.md', () => {
  it('there is one for each topic of the guide', () => {
    expect(examples.length).toBeGreaterThanOrEqual(9);
    for (const e of examples) expect(e.resourceType).toBe('Consent');
  });

  it.each(examples.map((e, i) => [i, e] as const))('example %i is valid R4 and accepted by the gateway', (_i, example) => {
    expectValidFhir(example);
    const method = example.status === 'inactive' ? 'PUT' : 'POST';
    // Checked as if recorded an hour after it was signed (or on the guide's day): its dates must pass too.
    const now = new Date(example.dateTime ? Date.parse(example.dateTime) + 3_600_000 : Date.parse('2026-11-20T10:00:00+08:00'));
    const { consent } = checkConsent(example, { hospitalIds: new Set(DEMO_HOSPITALS), canonicalBase: CANONICAL, registrarHospital: 'xm-zsh', method, now });
    expectValidFhir(consent);
  });

  const judge = (c: Consent, hospitalId: string, facts: Parameters<typeof result>[0] = {}) =>
    decideConsent(
      { consents: [{ ...c, id: 'doc' }], requester: clinician({ hospitalId }), policy: { default: 'deny', canonicalBase: CANONICAL }, now: NOW },
      [result(facts)],
    ).results[0].permit;
  const find = (pred: (c: Consent) => boolean) => {
    const c = examples.find(pred);
    if (!c) throw new Error('example not found');
    return c;
  };

  it('the Xiamen-only consent admits Xiamen hospitals only', () => {
    const c = find((e) => e.provision?.actor?.length === 4);
    expect(judge(c, 'xm-tagq')).toBe(true);
    expect(judge(c, 'qz-dyyy')).toBe(false);
  });

  it('the imaging exception withholds studies from zz-lhq only', () => {
    const c = find((e) => Boolean(e.provision?.provision?.[0]?.actor));
    expect(judge(c, 'zz-lhq', { resourceType: 'ImagingStudy' })).toBe(false);
    expect(judge(c, 'zz-lhq')).toBe(true);
    expect(judge(c, 'zz-syy', { resourceType: 'ImagingStudy' })).toBe(true);
  });

  it('"no lab reports except the blood count"', () => {
    const c = find((e) => Boolean(e.provision?.provision?.[0]?.provision));
    expect(judge(c, 'xm-zsh', { catalogItem: 'CBC' })).toBe(true);
    expect(judge(c, 'xm-zsh', { catalogItem: 'LFT' })).toBe(false);
    expect(judge(c, 'xm-zsh', { resourceType: 'ImagingStudy', catalogItem: 'CT-CHEST' })).toBe(true);
  });

  it('the separate label consent releases restricted results only, to the two hospitals it names', () => {
    const c = find((e) => Boolean(e.provision?.securityLabel));
    expect(judge(c, 'xm-dyyy', { securityLabels: ['R'] })).toBe(true);
    expect(judge(c, 'xm-dyyy')).toBe(false);
    expect(judge(c, 'qz-dyyy', { securityLabels: ['R'] })).toBe(false);
  });

  it('"everything, and restricted results too" releases both', () => {
    const c = find((e) => Boolean(e.provision?.provision?.[0]?.securityLabel));
    expect(judge(c, 'qz-dyyy')).toBe(true);
    expect(judge(c, 'qz-dyyy', { securityLabels: ['R'] })).toBe(true);
    expect(judge(c, 'qz-dyyy', { securityLabels: ['R', 'HIV'] })).toBe(false);
  });
});
