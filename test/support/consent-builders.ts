import type { Consent, ConsentProvision } from '@medplum/fhirtypes';
import type { ResultFacts } from '../../consent/contract';
import type { DecisionRequester } from '../../consent/consent-decision';

/** Small builders so the decision tables read like the rule (not a test file: no *.test.ts). */
export const CANONICAL = 'https://hie.xzq.example/fhir';
export const ITEM_SYSTEM = `${CANONICAL}/CodeSystem/recognition-item`;
export const NOW = new Date('2026-11-29T12:00:00+08:00');

type P = ConsentProvision;

export const permit = (...parts: Array<Partial<P>>): P => Object.assign({ type: 'permit' as const }, ...parts);
export const deny = (...parts: Array<Partial<P>>): P => Object.assign({ type: 'deny' as const }, ...parts);
export const nested = (...provision: P[]): Partial<P> => ({ provision });
export const actors = (...ids: string[]): Partial<P> => ({
  actor: ids.map((id) => ({
    role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] },
    reference: { reference: `Organization/${id}` },
  })),
});
export const period = (start?: string, end?: string): Partial<P> => ({ period: { start, end } });
export const dataPeriod = (start?: string, end?: string): Partial<P> => ({ dataPeriod: { start, end } });
export const classes = (...types: string[]): Partial<P> => ({ class: types.map((code) => ({ system: 'http://hl7.org/fhir/resource-types', code })) });
export const codes = (...items: string[]): Partial<P> => ({ code: items.map((code) => ({ coding: [{ system: ITEM_SYSTEM, code }] })) });
export const labels = (...cs: string[]): Partial<P> => ({
  securityLabel: cs.map((code) => ({
    system: ['R', 'V', 'N', 'M', 'L', 'U'].includes(code)
      ? 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality'
      : 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
    code,
  })),
});
export const purposes = (...cs: string[]): Partial<P> => ({
  purpose: cs.map((code) => ({ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code })),
});

let seq = 0;
export function consent(provision: P, opts: { id?: string; status?: Consent['status']; patient?: string } = {}): Consent {
  return {
    resourceType: 'Consent',
    id: opts.id ?? `c${++seq}`,
    status: opts.status ?? 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: `Patient/${opts.patient ?? 'p1'}` },
    policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
    provision,
  };
}

export const clinician = (over: Partial<DecisionRequester> = {}): DecisionRequester => ({
  hospitalId: 'xm-zsh',
  roles: ['clinician'],
  purposeOfUse: 'TREAT',
  ...over,
});

export const result = (over: Partial<ResultFacts> = {}): ResultFacts => ({
  resourceType: 'DiagnosticReport',
  hospitalId: 'qz-dyyy',
  date: '2026-10-01T08:00:00+08:00',
  catalogItem: 'CBC',
  securityLabels: [],
  ...over,
});
