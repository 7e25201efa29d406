import { loadConfigFile, ROLES, type GatewayConfig, type Role } from '../config';
import { hashPassword, passwordProblem } from '../auth/passwords';
import { isLocked, USER_ROLES, USERNAME_RE, createUserStore } from '../auth/user-store';
import { migrate } from '../migrations';
import { createDb } from '../storage/db';

/**
 * The people who sign in to the console, managed by a hospital's or the platform's operator
 * (docs/users.md §1). Passwords are read from standard input, never from the command line (where
 * `ps` and shell history would keep them).
 *
 *   echo "$PASSWORD" | npm run -s users -- --config FILE add --username xm-zsh-lin --name 林医生 \
 *        --staff-id D1029 --hospital xm-zsh --role clinician [--role registrar]
 *   npm run -s users -- --config FILE list
 *   npm run -s users -- --config FILE disable|enable|unlock USERNAME
 *   echo "$NEW" | npm run -s users -- --config FILE password USERNAME
 *
 * Disabling ends the person's open sessions at once; nothing is ever deleted, so the audit trail
 * keeps naming who they were. `DATABASE_URL` overrides the file's database, as for the gateway.
 */

const USAGE = 'usage: users --config FILE add --username U --name NAME --staff-id ID [--hospital H] --role R [--role R…] | list | disable U | enable U | unlock U | password U   (passwords on stdin)';

function options(args: readonly string[]): { positional: string[]; flags: Map<string, string[]> } {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('--')) {
      const v = args[i + 1];
      if (v === undefined || v.startsWith('--')) throw new Error(`${a} needs a value`);
      flags.set(a.slice(2), [...(flags.get(a.slice(2)) ?? []), v]);
      i++;
    } else positional.push(a);
  }
  return { positional, flags };
}

/** Problems with a new account, against the configuration's hospitals. */
export function newUserProblems(u: { username?: string; name?: string; staffId?: string; hospital?: string; roles: string[] }, config: Pick<GatewayConfig, 'hospitals'>): string[] {
  const problems: string[] = [];
  if (!u.username || !USERNAME_RE.test(u.username)) problems.push('--username: 2–64 characters of a-z 0-9 . _ -, starting with a letter or digit');
  if (!u.name?.trim() || u.name.length > 128) problems.push('--name: the display name, up to 128 characters');
  if (!u.staffId?.trim() || u.staffId.length > 64) problems.push('--staff-id: the staff id at the hospital, up to 64 characters');
  if (u.roles.length === 0) problems.push(`--role: at least one of ${USER_ROLES.join(', ')}`);
  for (const r of u.roles) if (!(USER_ROLES as string[]).includes(r)) problems.push(`--role ${r}: not one of ${USER_ROLES.join(', ')}`);
  if (u.hospital && !config.hospitals.some((h) => h.id === u.hospital)) problems.push(`--hospital ${u.hospital}: not a configured hospital`);
  if (!u.hospital && u.roles.some((r) => r === 'clinician' || r === 'registrar')) problems.push('--hospital: clinicians and registrars belong to a hospital');
  return problems;
}

export async function runUsersCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void,
  readSecret: () => Promise<string>,
): Promise<number> {
  let parsed: ReturnType<typeof options>;
  try {
    parsed = options(argv);
  } catch (e) {
    out(`${(e as Error).message}\n${USAGE}`);
    return 1;
  }
  const file = parsed.flags.get('config')?.[0];
  const [command, target] = parsed.positional;
  const one = (name: string) => parsed.flags.get(name)?.[0];
  if (!file || !command || !['add', 'list', 'disable', 'enable', 'unlock', 'password'].includes(command)) {
    out(USAGE);
    return 1;
  }
  if (['disable', 'enable', 'unlock', 'password'].includes(command) && !target) {
    out(`${command} needs a user name\n${USAGE}`);
    return 1;
  }
  const config = loadConfigFile(file, env);
  const newUser = { username: one('username'), name: one('name'), staffId: one('staff-id'), hospital: one('hospital'), roles: parsed.flags.get('role') ?? [] };
  if (command === 'add') {
    const problems = newUserProblems(newUser, config);
    if (problems.length) {
      out(problems.join('\n'));
      return 1;
    }
  }
  let password: string | undefined;
  if (command === 'add' || command === 'password') {
    password = (await readSecret()).replace(/\r?\n$/, '');
    const problem = passwordProblem(password);
    if (problem) {
      out(`password: ${problem} (give it on standard input)`);
      return 1;
    }
  }
  const db = createDb(config.database as { client: string });
  try {
    await migrate(db);
    const users = createUserStore(db);
    const now = new Date();
    switch (command) {
      case 'add': {
        const ok = await users.create(
          {
            username: newUser.username!,
            displayName: newUser.name!.trim(),
            staffId: newUser.staffId!.trim(),
            ...(newUser.hospital ? { hospital: newUser.hospital } : {}),
            roles: [...new Set(newUser.roles)] as Role[],
            passwordHash: await hashPassword(password!),
          },
          now,
        );
        out(ok ? `added ${newUser.username}` : `${newUser.username} exists already`);
        return ok ? 0 : 1;
      }
      case 'list':
        for (const u of await users.list()) {
          const state = u.disabled ? 'disabled' : isLocked(u, now) ? `locked until ${u.lockedUntil!.toISOString()}` : 'active';
          out([u.username, u.roles.filter((r) => (ROLES as readonly string[]).includes(r)).join(','), u.hospital ?? '-', u.staffId, u.displayName, state].join('\t'));
        }
        return 0;
      case 'disable':
      case 'enable': {
        const ok = await users.setDisabled(target!, command === 'disable', now);
        out(ok ? `${command}d ${target}${command === 'disable' ? '; its sessions have ended' : ''}` : `no user ${target}`);
        return ok ? 0 : 1;
      }
      case 'unlock': {
        const ok = await users.unlock(target!, now);
        out(ok ? `unlocked ${target}` : `no user ${target}`);
        return ok ? 0 : 1;
      }
      default: {
        const ok = await users.setPassword(target!, await hashPassword(password!), now);
        out(ok ? `password of ${target} changed` : `no user ${target}`);
        return ok ? 0 : 1;
      }
    }
  } finally {
    await db.destroy();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

if (require.main === module) {
  runUsersCli(process.argv.slice(2), process.env, (l) => process.stdout.write(`${l}\n`), readStdin)
    .then((code) => process.exit(code))
    .catch((e) => {
      process.stderr.write(`${(e as Error).message}\n`);
      process.exit(1);
    });
}
