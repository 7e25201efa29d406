import type { Role } from '../../../../gateway/config';
import { ALL_SCOPES, grantScopes, parseScope, ROLE_SCOPES, scopesAllow, scopesForRoles } from '../../../../gateway/auth/scopes';

describe('role → scope table (API.md §3)', () => {
  it.each<[Role, string[]]>([
    ['clinician', ['system/Patient.rs', 'system/DiagnosticReport.rs', 'system/Observation.rs', 'system/ImagingStudy.rs', 'system/Organization.rs']],
    ['registrar', ['system/Patient.rs', 'system/Consent.cruds']],
    ['auditor', ['system/AuditEvent.rs', 'system/Organization.rs']],
    ['monitor', []],
  ])('%s grants %j', (role, scopes) => {
    expect(ROLE_SCOPES[role]).toEqual(scopes);
  });

  it('unions roles without duplicates', () => {
    expect(scopesForRoles(['clinician', 'registrar'])).toEqual([...ROLE_SCOPES.clinician, 'system/Consent.cruds']);
    expect(ALL_SCOPES).toHaveLength(7); // Patient.rs and Organization.rs are shared
  });
});

describe('parseScope', () => {
  it.each([
    ['system/Patient.rs', 'Patient', 'rs'],
    ['system/Consent.cruds', 'Consent', 'cruds'],
    ['system/Observation.r', 'Observation', 'r'],
  ])('%s', (scope, resource, perms) => {
    const s = parseScope(scope)!;
    expect(s.resource).toBe(resource);
    expect([...s.permissions].join('')).toBe(perms);
  });

  it.each([
    'system/Patient.sr', // SMART v2 fixes the order c r u d s
    'system/Patient.',
    'system/Patient.read', // v1
    'system/*.rs',
    'user/Patient.rs',
    'patient/Patient.rs',
    'system/Patient.rs?category=x',
    'system/patient.rs',
    'openid',
    '',
  ])('refuses %j', (scope) => {
    expect(parseScope(scope)).toBeNull();
  });
});

describe('grantScopes', () => {
  it.each<[string | undefined, Role[], string[] | null]>([
    [undefined, ['clinician'], ROLE_SCOPES.clinician as string[]],
    ['', ['registrar'], ['system/Patient.rs', 'system/Consent.cruds']],
    ['   ', ['auditor'], ['system/AuditEvent.rs', 'system/Organization.rs']],
    [undefined, ['monitor'], []],
    ['system/Patient.rs', ['clinician'], ['system/Patient.rs']],
    ['system/Patient.r system/Observation.s', ['clinician'], ['system/Patient.r', 'system/Observation.s']],
    ['system/Patient.rs  system/Patient.rs', ['clinician'], ['system/Patient.rs']],
    ['system/Consent.cu', ['registrar'], ['system/Consent.cu']],
    ['system/Consent.c', ['clinician', 'registrar'], ['system/Consent.c']],
    // beyond the roles
    ['system/Consent.c', ['clinician'], null],
    ['system/Patient.cruds', ['clinician'], null],
    ['system/AuditEvent.rs', ['clinician'], null],
    ['system/Patient.rs', ['monitor'], null],
    ['system/Patient.rs system/AuditEvent.rs', ['clinician'], null],
    // not grantable forms
    ['system/*.rs', ['clinician'], null],
    ['system/Patient.read', ['clinician'], null],
    ['openid fhirUser', ['clinician'], null],
    ['x'.repeat(3000), ['clinician'], null],
  ])('%j for %j', (requested, roles, expected) => {
    const d = grantScopes(requested, roles);
    if (expected === null) expect(d.ok).toBe(false);
    else expect(d).toEqual({ ok: true, scopes: expected });
  });
});

describe('scopesAllow', () => {
  const granted = ['system/Patient.rs', 'system/Consent.cu'];
  it.each<[string, 'c' | 'r' | 'u' | 'd' | 's' | undefined, boolean]>([
    ['Patient', 'r', true],
    ['Patient', 's', true],
    ['Patient', 'c', false],
    ['Patient', undefined, true],
    ['Consent', 'c', true],
    ['Consent', 'u', true],
    ['Consent', 'r', false],
    ['Consent', 'd', false],
    ['Observation', 'r', false],
    ['Observation', undefined, false],
  ])('%s.%s → %s', (resource, permission, allowed) => {
    expect(scopesAllow(granted, resource, permission)).toBe(allowed);
  });
});
