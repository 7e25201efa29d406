import { identityView, type AskedBy, type IdentityView } from '../../../../gateway/patient-data/identity-view';
import type { RegionalPatient } from '../../../../gateway/patient-index/contract';

/**
 * What an identity answer shows (docs/patient-data.md §3), row by row of the table there: a
 * resident with records at 中山医院 (xm-zsh) and a psychiatric hospital (qz-jsb), asked about by
 * 中山医院, by 第一医院 (xm-dyyy, never treated them) and by an auditor (no hospital).
 */
const ZSH = { hospitalId: 'xm-zsh', localId: 'L1', mrns: ['Z0001'] };
const JSB = { hospitalId: 'qz-jsb', localId: 'L2', mrns: ['J9001'] };
const patient: RegionalPatient = { id: 'rp-1', nationalId: '350203196203151595', links: [ZSH, JSB] };

const byNid: AskedBy = { nationalId: true };
const byId: AskedBy = { regionalId: true };
const mrn = (m: string): AskedBy => ({ mrn: m });
const byName: AskedBy = { nameAndBirthDate: true };
const minimal = (links: typeof ZSH[], nationalId: boolean): IdentityView => ({ kind: 'minimal', links, nationalId });

const rows: Array<[string, boolean, string | undefined, AskedBy, IdentityView]> = [
  ['consent permits: everything', true, 'xm-dyyy', byNid, { kind: 'full' }],
  ['consent permits, asked by another hospital\'s MRN: everything', true, 'xm-dyyy', mrn('J9001'), { kind: 'full' }],
  ['no consent, own patient, by national id: own MRNs and the national id', false, 'xm-zsh', byNid, minimal([ZSH], true)],
  ['no consent, own patient, by own MRN: own MRNs and the national id', false, 'xm-zsh', mrn('Z0001'), minimal([ZSH], true)],
  ['no consent, own patient, by regional id: own MRNs and the national id', false, 'xm-zsh', byId, minimal([ZSH], true)],
  ['no consent, never treated, by national id: the national id it gave only', false, 'xm-dyyy', byNid, minimal([], true)],
  ['no consent, never treated, by regional id: the regional id alone', false, 'xm-dyyy', byId, minimal([], false)],
  ['no consent, by another hospital\'s MRN: unknown', false, 'xm-dyyy', mrn('J9001'), { kind: 'unknown' }],
  ['no consent, own patient, by another hospital\'s MRN: unknown', false, 'xm-zsh', mrn('J9001'), { kind: 'unknown' }],
  ['no consent, no hospital (auditor), by national id: the national id only', false, undefined, byNid, minimal([], true)],
  ['no consent, no hospital (auditor), by an MRN: unknown', false, undefined, mrn('Z0001'), { kind: 'unknown' }],
  // by name and birth date (docs/patient-data.md §7): a match says "treated somewhere in the region"
  ['consent permits, by name and birth date: everything', true, 'xm-dyyy', byName, { kind: 'full' }],
  ['no consent, own patient, by name and birth date: own MRNs and the national id', false, 'xm-zsh', byName, minimal([ZSH], true)],
  ['no consent, never treated, by name and birth date: unknown', false, 'xm-dyyy', byName, { kind: 'unknown' }],
  ['no consent, no hospital (auditor), by name and birth date: unknown', false, undefined, byName, { kind: 'unknown' }],
];

describe('identityView', () => {
  it.each(rows)('%s', (_label, permitted, askerHospital, askedBy, expected) => {
    expect(identityView({ patient, permitted, askerHospital, askedBy })).toEqual(expected);
  });
});
