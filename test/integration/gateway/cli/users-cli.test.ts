import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { verifyPassword } from '../../../../gateway/auth/passwords';
import { createUserStore } from '../../../../gateway/auth/user-store';
import { runUsersCli } from '../../../../gateway/cli/users';
import { DEMO_CONFIG } from '../../../../fixtures/demo/demo-network';
import { createDb } from '../../../../gateway/storage/db';

/**
 * `npm run users` (docs/users.md §1): how a hospital's operator adds, disables, unlocks and
 * re-passwords the people who sign in. In-process against a real SQLite file named by a real
 * configuration file; the password comes on "standard input" and is never printed.
 */
describe('users CLI', () => {
  let dir: string;
  let configFile: string;
  let dbFile: string;
  const lines: string[] = [];
  const run = (args: string[], stdin = '') => {
    lines.length = 0;
    return runUsersCli(['--config', configFile, ...args], {}, (l) => lines.push(l), async () => stdin);
  };
  const store = async () => {
    const db = createDb({ client: 'sqlite3', connection: { filename: dbFile } });
    return { users: createUserStore(db), close: () => db.destroy() };
  };

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'xzq-users-cli-'));
    dbFile = path.join(dir, 'gateway.sqlite');
    const raw = JSON.parse(readFileSync(DEMO_CONFIG, 'utf8'));
    raw.database = { client: 'sqlite3', connection: { filename: dbFile } };
    // relative paths of the demo configuration stay resolvable from the temp folder
    raw.catalog = path.resolve(path.dirname(DEMO_CONFIG), raw.catalog);
    for (const h of raw.hospitals) {
      if (h.adapter.codeMap) h.adapter.codeMap = path.resolve(path.dirname(DEMO_CONFIG), h.adapter.codeMap);
      if (h.adapter.inbox) h.adapter.inbox = path.resolve(path.dirname(DEMO_CONFIG), h.adapter.inbox);
      if (h.adapter.connection?.connection?.filename) h.adapter.connection.connection.filename = path.resolve(path.dirname(DEMO_CONFIG), h.adapter.connection.connection.filename);
    }
    configFile = path.join(dir, 'gateway.json');
    writeFileSync(configFile, JSON.stringify(raw));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('add, list, disable, enable, unlock, password — and the password is never printed', async () => {
    const password = 'correct horse 电池 staple';
    expect(await run(['add', '--username', 'xm-zsh-chen', '--name', '陈医生', '--staff-id', 'D3001', '--hospital', 'xm-zsh', '--role', 'clinician'], `${password}\n`)).toBe(0);
    expect(lines).toEqual(['added xm-zsh-chen']);
    const s = await store();
    try {
      const u = (await s.users.get('xm-zsh-chen'))!;
      expect(u).toMatchObject({ displayName: '陈医生', staffId: 'D3001', hospital: 'xm-zsh', roles: ['clinician'], disabled: false });
      expect(u.passwordHash).toMatch(/^scrypt\$32768\$8\$1\$/);
      expect(await verifyPassword(password, u.passwordHash)).toBe(true);

      expect(await run(['add', '--username', 'xm-zsh-chen', '--name', '陈医生', '--staff-id', 'D3001', '--hospital', 'xm-zsh', '--role', 'clinician'], `${password}\n`)).toBe(1);
      expect(lines).toEqual(['xm-zsh-chen exists already']);

      expect(await run(['list'])).toBe(0);
      expect(lines).toEqual(['xm-zsh-chen\tclinician\txm-zsh\tD3001\t陈医生\tactive']);

      expect(await run(['disable', 'xm-zsh-chen'])).toBe(0);
      expect((await s.users.get('xm-zsh-chen'))!.disabled).toBe(true);
      await run(['list']);
      expect(lines[0]).toMatch(/\tdisabled$/);
      expect(await run(['enable', 'xm-zsh-chen'])).toBe(0);
      expect((await s.users.get('xm-zsh-chen'))!.disabled).toBe(false);

      await s.users.recordFailure('xm-zsh-chen', new Date(), { maxFailures: 1, lockMinutes: 15 });
      await run(['list']);
      expect(lines[0]).toMatch(/\tlocked until /);
      expect(await run(['unlock', 'xm-zsh-chen'])).toBe(0);
      await run(['list']);
      expect(lines[0]).toMatch(/\tactive$/);

      expect(await run(['password', 'xm-zsh-chen'], 'another long password\n')).toBe(0);
      const changed = (await s.users.get('xm-zsh-chen'))!;
      expect(await verifyPassword('another long password', changed.passwordHash)).toBe(true);
      expect(await verifyPassword(password, changed.passwordHash)).toBe(false);
      expect(await run(['disable', 'nobody'])).toBe(1);
      expect(lines).toEqual(['no user nobody']);
    } finally {
      await s.close();
    }
    expect(JSON.stringify(lines)).not.toContain('password');
  });

  test.each<[string, string[], string, RegExp]>([
    ['a bad user name', ['--username', 'Bad Name', '--name', 'x', '--staff-id', 'x', '--hospital', 'xm-zsh', '--role', 'clinician'], 'long enough pw', /--username/],
    ['an unknown hospital', ['--username', 'u1', '--name', 'x', '--staff-id', 'x', '--hospital', 'nowhere', '--role', 'clinician'], 'long enough pw', /not a configured hospital/],
    ['a clinician without a hospital', ['--username', 'u2', '--name', 'x', '--staff-id', 'x', '--role', 'clinician'], 'long enough pw', /belong to a hospital/],
    ['an unknown role', ['--username', 'u3', '--name', 'x', '--staff-id', 'x', '--role', 'admin'], 'long enough pw', /--role admin/],
    ['the monitor role (a machine)', ['--username', 'u4', '--name', 'x', '--staff-id', 'x', '--role', 'monitor'], 'long enough pw', /--role monitor/],
    ['no role', ['--username', 'u5', '--name', 'x', '--staff-id', 'x'], 'long enough pw', /at least one/],
    ['a short password', ['--username', 'u6', '--name', 'x', '--staff-id', 'x', '--role', 'auditor'], 'short', /at least 10/],
    ['no password', ['--username', 'u7', '--name', 'x', '--staff-id', 'x', '--role', 'auditor'], '', /at least 10/],
  ])('refuses %s, naming the problem, and adds nobody', async (_what, args, stdin, message) => {
    expect(await run(['add', ...args], stdin)).toBe(1);
    expect(lines.join('\n')).toMatch(message);
    const s = await store().catch(() => undefined);
    if (s) {
      const username = args[args.indexOf('--username') + 1]!;
      await expect(s.users.get(username).catch(() => undefined)).resolves.toBeUndefined();
      await s.close();
    }
  });

  test('usage for a missing command or target', async () => {
    expect(await run([])).toBe(1);
    expect(lines[0]).toMatch(/^usage:/);
    expect(await run(['disable'])).toBe(1);
    expect(lines[0]).toMatch(/needs a user name/);
  });
});
