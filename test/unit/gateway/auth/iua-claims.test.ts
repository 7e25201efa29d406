import { checkIuaForClient, readIuaClaims, type IuaClaims } from '../../../../gateway/auth/client-assertion';
import type { ClientConfig } from '../../../../gateway/config';
import { OAuthError } from '../../../../gateway/auth/oauth-error';

const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
const iua = (v: Record<string, unknown>) => ({ extensions: { ihe_iua: v } });

describe('readIuaClaims (IHE IUA extensions.ihe_iua)', () => {
  it.each<[string, Record<string, unknown>, IuaClaims]>([
    ['no extensions → TREAT, no user', {}, { purposeOfUse: 'TREAT' }],
    ['empty ihe_iua', iua({}), { purposeOfUse: 'TREAT' }],
    ['user only', iua({ subject_id: 'D1029' }), { user: { id: 'D1029', roles: [] }, purposeOfUse: 'TREAT' }],
    [
      'everything',
      iua({
        subject_id: 'D1029',
        subject_name: '林医生',
        subject_role: [{ system: 'urn:oid:2.16.156.10011.2.3.3.11', code: 'physician', display: '医师' }],
        purpose_of_use: [{ system: ACT_REASON, code: 'ETREAT' }],
      }),
      {
        user: { id: 'D1029', name: '林医生', roles: [{ system: 'urn:oid:2.16.156.10011.2.3.3.11', code: 'physician', display: '医师' }] },
        purposeOfUse: 'ETREAT',
      },
    ],
    ['one Coding instead of an array', iua({ subject_id: 'D1', purpose_of_use: { code: 'BTG' } }), { user: { id: 'D1', roles: [] }, purposeOfUse: 'BTG' }],
    ['HOPERAT without a user', iua({ purpose_of_use: [{ system: ACT_REASON, code: 'HOPERAT' }] }), { purposeOfUse: 'HOPERAT' }],
  ])('%s', (_name, payload, expected) => {
    expect(readIuaClaims(payload)).toEqual(expected);
  });

  it.each<[string, Record<string, unknown>]>([
    ['extensions not an object', { extensions: 'x' }],
    ['ihe_iua an array', { extensions: { ihe_iua: [] } }],
    ['subject_id a number', iua({ subject_id: 1029 })],
    ['subject_id empty', iua({ subject_id: '' })],
    ['subject_id with a control character', iua({ subject_id: 'D1\n029' })],
    ['subject_id too long', iua({ subject_id: 'D'.repeat(129) })],
    ['subject_name without subject_id', iua({ subject_name: '林医生' })],
    ['subject_name not a string', iua({ subject_id: 'D1', subject_name: ['林'] })],
    ['subject_role without code', iua({ subject_id: 'D1', subject_role: [{ system: 'x' }] })],
    ['subject_role empty', iua({ subject_id: 'D1', subject_role: [] })],
    ['purpose_of_use unknown code', iua({ subject_id: 'D1', purpose_of_use: [{ system: ACT_REASON, code: 'HMARKT' }] })],
    ['purpose_of_use other system', iua({ subject_id: 'D1', purpose_of_use: [{ system: 'http://example.org', code: 'TREAT' }] })],
    ['two purposes', iua({ subject_id: 'D1', purpose_of_use: [{ code: 'TREAT' }, { code: 'ETREAT' }] })],
    ['purpose_of_use a string', iua({ subject_id: 'D1', purpose_of_use: 'TREAT' })],
  ])('refuses %s with invalid_request', (_name, payload) => {
    expect(() => readIuaClaims(payload)).toThrow(expect.objectContaining({ error: 'invalid_request' }));
  });
});

describe('checkIuaForClient', () => {
  const client = (roles: ClientConfig['roles']): ClientConfig =>
    ({ id: 'c', hospital: 'h', roles, jwks: { keys: [{ kty: 'RSA' }] } }) as ClientConfig;
  const user = { id: 'D1', roles: [] };
  it.each<[string, IuaClaims, ClientConfig['roles'], string[], string | null]>([
    ['clinician, TREAT, user', { user, purposeOfUse: 'TREAT' }, ['clinician'], ['system/Patient.rs'], null],
    ['clinician, ETREAT', { user, purposeOfUse: 'ETREAT' }, ['clinician'], ['system/Patient.rs'], null],
    ['clinician+registrar, BTG', { user, purposeOfUse: 'BTG' }, ['clinician', 'registrar'], ['system/Patient.rs'], null],
    ['registrar, ETREAT', { user, purposeOfUse: 'ETREAT' }, ['registrar'], ['system/Patient.rs'], 'invalid_scope'],
    ['auditor, BTG', { user, purposeOfUse: 'BTG' }, ['auditor'], ['system/AuditEvent.rs'], 'invalid_scope'],
    ['data scopes without a user', { purposeOfUse: 'TREAT' }, ['clinician'], ['system/Patient.rs'], 'invalid_request'],
    ['auditor without a user', { purposeOfUse: 'HOPERAT' }, ['auditor'], ['system/AuditEvent.rs'], 'invalid_request'],
    ['monitor without a user (no scopes)', { purposeOfUse: 'TREAT' }, ['monitor'], [], null],
  ])('%s', (_name, claims, roles, scopes, error) => {
    const run = () => checkIuaForClient(claims, client(roles), scopes);
    if (error === null) expect(run).not.toThrow();
    else {
      expect(run).toThrow(OAuthError);
      expect(run).toThrow(expect.objectContaining({ error }));
    }
  });
});
