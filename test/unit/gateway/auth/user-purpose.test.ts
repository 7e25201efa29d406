import type { Role } from '../../../../gateway/config';
import { OAuthError } from '../../../../gateway/auth/oauth-error';
import { purposeFor } from '../../../../gateway/auth/user-tokens';

/** The purpose of use of a person's token (docs/users.md §3), one row per rule. */
const clinician = { roles: ['clinician'] as Role[] };
const registrar = { roles: ['registrar'] as Role[] };
const auditor = { roles: ['auditor'] as Role[] };

describe('purposeFor', () => {
  test.each<[string, { purpose_of_use?: string; break_glass_reason?: string }, { roles: Role[] }, { code: string; reason?: string } | string]>([
    ['a clinician by default: TREAT', {}, clinician, { code: 'TREAT' }],
    ['a registrar by default: TREAT', {}, registrar, { code: 'TREAT' }],
    ['an auditor by default: HOPERAT', {}, auditor, { code: 'HOPERAT' }],
    ['TREAT asked for', { purpose_of_use: 'TREAT' }, auditor, { code: 'TREAT' }],
    ['ETREAT with a reason', { purpose_of_use: 'ETREAT', break_glass_reason: ' 急诊抢救 ' }, clinician, { code: 'ETREAT', reason: '急诊抢救' }],
    ['BTG with a reason', { purpose_of_use: 'BTG', break_glass_reason: '患者昏迷' }, clinician, { code: 'BTG', reason: '患者昏迷' }],
    ['ETREAT without a reason', { purpose_of_use: 'ETREAT' }, clinician, 'invalid_request'],
    ['ETREAT with a reason of 3 characters', { purpose_of_use: 'ETREAT', break_glass_reason: '急诊啊' }, clinician, 'invalid_request'],
    ['ETREAT with a reason of 501 characters', { purpose_of_use: 'ETREAT', break_glass_reason: '急'.repeat(501) }, clinician, 'invalid_request'],
    ['ETREAT by an auditor', { purpose_of_use: 'ETREAT', break_glass_reason: '急诊抢救' }, auditor, 'invalid_scope'],
    ['ETREAT by a registrar', { purpose_of_use: 'ETREAT', break_glass_reason: '急诊抢救' }, registrar, 'invalid_scope'],
    ['a reason without break-glass', { break_glass_reason: '急诊抢救' }, clinician, 'invalid_request'],
    ['an unsupported purpose', { purpose_of_use: 'POPHLTH' }, clinician, 'invalid_request'],
  ])('%s', (_what, form, user, expected) => {
    if (typeof expected === 'string') {
      try {
        purposeFor(form, user);
        throw new Error('not refused');
      } catch (e) {
        expect(e).toBeInstanceOf(OAuthError);
        expect((e as OAuthError).error).toBe(expected);
      }
    } else expect(purposeFor(form, user)).toEqual(expected);
  });
});
