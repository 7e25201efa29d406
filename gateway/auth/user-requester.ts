import type { Coding } from '@medplum/fhirtypes';
import type { Requester } from '../context';
import type { RegisteredApp } from './apps';
import type { UserAccount } from './user-store';

/** Our code system of the roles people hold (API.md §3 roles), under the canonical base. */
export const USER_ROLE_PATH = '/CodeSystem/user-role';
const PRACTITIONER_ROLE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/practitioner-role';

/**
 * The requester a signed-in person is: exactly what a HIS token for that person would carry
 * (their hospital, roles, the IUA subject id, name and roles, the purpose of use), with the app as
 * the client. Consent and audit read it without knowing a person signed in themselves.
 */
export function userRequester(
  user: UserAccount,
  app: RegisteredApp,
  scopes: string[],
  opts: { purposeOfUse: string; canonicalBase: string; sessionId?: string; tokenId?: string; breakGlassReason?: string },
): Requester {
  const roles: Coding[] = user.roles.map((r) => ({ system: opts.canonicalBase + USER_ROLE_PATH, code: r }));
  if (user.roles.includes('clinician')) roles.unshift({ system: PRACTITIONER_ROLE_SYSTEM, code: 'doctor' });
  return {
    clientId: app.id,
    ...(user.hospital ? { hospitalId: user.hospital } : {}),
    roles: [...user.roles],
    scopes,
    user: { id: user.staffId, name: user.displayName, roles },
    purposeOfUse: opts.purposeOfUse,
    username: user.username,
    ...(opts.sessionId ? { sessionId: opts.sessionId } : {}),
    ...(opts.tokenId ? { tokenId: opts.tokenId } : {}),
    ...(opts.breakGlassReason ? { breakGlassReason: opts.breakGlassReason } : {}),
  };
}

/** The purpose of use a person's token carries unless they chose break-glass: auditors work in operations. */
export const defaultPurposeOf = (user: Pick<UserAccount, 'roles'>) =>
  user.roles.includes('clinician') || user.roles.includes('registrar') ? 'TREAT' : 'HOPERAT';
