import { hashPassword, passwordProblem, verifyAgainstNothing, verifyPassword } from '../../../../gateway/auth/passwords';

/** scrypt password hashes: what verifies, what never does, and what a tampered hash cannot make us do. */
describe('passwords', () => {
  let hash: string;
  beforeAll(async () => {
    hash = await hashPassword('诊室 password 2026');
  });

  test('a hash names its parameters, is salted, and verifies only its password', async () => {
    expect(hash).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(await hashPassword('诊室 password 2026')).not.toBe(hash);
    expect(await verifyPassword('诊室 password 2026', hash)).toBe(true);
    expect(await verifyPassword('诊室 password 2027', hash)).toBe(false);
    expect(await verifyPassword('', hash)).toBe(false);
  });

  test('the same text in another Unicode normal form verifies (NFC before hashing)', async () => {
    const composed = await hashPassword('café-passwort');
    expect(await verifyPassword('cafe\u0301-passwort', composed)).toBe(true);
  });

  test.each([
    ['not scrypt', 'bcrypt$2b$10$abc'],
    ['too few parts', 'scrypt$32768$8$1$salt'],
    ['N not a power of two', (h: string) => h.replace('$32768$', '$30000$')],
    ['N beyond the cap', (h: string) => h.replace('$32768$', `$${2 ** 24}$`)],
    ['r out of range', (h: string) => h.replace('$8$1$', '$64$1$')],
    ['a short key', (h: string) => h.slice(0, -10)],
  ])('a malformed or tampered hash (%s) never verifies and never throws', async (_what, make) => {
    const bad = typeof make === 'string' ? make : make(hash);
    await expect(verifyPassword('诊室 password 2026', bad)).resolves.toBe(false);
  });

  test('an unknown user costs a verification too', async () => {
    await expect(verifyAgainstNothing('anything')).resolves.toBe(false);
  });

  test.each<[string, string | undefined]>([
    ['short', 'a password needs at least 10 characters'],
    ['ten chars!', undefined],
    ['x'.repeat(257), 'a password has at most 256 characters'],
    ['with\u0000nul-byte', 'a password cannot hold control characters'],
    ['长一点的中文密码也可以', undefined],
  ])('passwordProblem(%j)', (pw, problem) => {
    expect(passwordProblem(pw)).toBe(problem);
  });
});
