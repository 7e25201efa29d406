import { ROLES, type Role } from '../config';
import type { Db } from '../storage/db';

/**
 * The people who sign in (docs/users.md): one row per account in `users`, shared by every
 * instance. Failed sign-ins are counted in the row with one atomic UPDATE, so a lock-out holds
 * across instances; disabling an account ends its sessions in the same transaction.
 */

export const USERNAME_RE = /^[a-z0-9][a-z0-9._-]{1,63}$/;
/** Roles a person can hold (a monitor is a machine). */
export const USER_ROLES: readonly Role[] = ROLES.filter((r) => r !== 'monitor');

export interface UserAccount {
  username: string;
  displayName: string;
  staffId: string;
  hospital?: string;
  roles: Role[];
  passwordHash: string;
  failedCount: number;
  lockedUntil?: Date;
  disabled: boolean;
}

export type NewUser = Pick<UserAccount, 'username' | 'displayName' | 'staffId' | 'hospital' | 'roles' | 'passwordHash'>;

export interface UserStore {
  get(username: string): Promise<UserAccount | undefined>;
  list(): Promise<UserAccount[]>;
  /** false when the user name is taken */
  create(user: NewUser, now: Date): Promise<boolean>;
  setPassword(username: string, passwordHash: string, now: Date): Promise<boolean>;
  /** disable (ending every open session) or enable; false for an unknown user */
  setDisabled(username: string, disabled: boolean, now: Date): Promise<boolean>;
  /** one more failed password; locks the account when the count reaches `maxFailures` */
  recordFailure(username: string, now: Date, policy: { maxFailures: number; lockMinutes: number }): Promise<{ lockedNow: boolean }>;
  recordSuccess(username: string, now: Date): Promise<void>;
  unlock(username: string, now: Date): Promise<boolean>;
}

interface UserRow {
  username: string;
  display_name: string;
  staff_id: string;
  hospital: string | null;
  roles: string;
  password_hash: string;
  failed_count: number;
  locked_until: string | null;
  disabled_at: string | null;
}

function fromRow(r: UserRow): UserAccount {
  const roles = (JSON.parse(r.roles) as string[]).filter((x): x is Role => (USER_ROLES as string[]).includes(x));
  return {
    username: r.username,
    displayName: r.display_name,
    staffId: r.staff_id,
    ...(r.hospital ? { hospital: r.hospital } : {}),
    roles,
    passwordHash: r.password_hash,
    failedCount: Number(r.failed_count),
    ...(r.locked_until ? { lockedUntil: new Date(r.locked_until) } : {}),
    disabled: r.disabled_at !== null,
  };
}

/** Whether the account is locked at `now`. */
export const isLocked = (u: Pick<UserAccount, 'lockedUntil'>, now: Date) => u.lockedUntil !== undefined && u.lockedUntil > now;

export function createUserStore(db: Db): UserStore {
  const users = () => db('users');
  const typed = () => db<UserRow>('users');
  return {
    async get(username) {
      const row = await typed().where({ username }).first();
      return row ? fromRow(row) : undefined;
    },
    async list() {
      return (await typed().orderBy('username')).map(fromRow);
    },
    async create(user, now) {
      const at = now.toISOString();
      const inserted = await db('users')
        .insert({
          username: user.username,
          display_name: user.displayName,
          staff_id: user.staffId,
          hospital: user.hospital ?? null,
          roles: JSON.stringify(user.roles),
          password_hash: user.passwordHash,
          failed_count: 0,
          created_at: at,
          updated_at: at,
        })
        .onConflict('username')
        .ignore()
        .returning('username');
      return inserted.length === 1;
    },
    async setPassword(username, passwordHash, now) {
      const n = await users().where({ username }).update({ password_hash: passwordHash, failed_count: 0, locked_until: null, updated_at: now.toISOString() });
      return n === 1;
    },
    async setDisabled(username, disabled, now) {
      const at = now.toISOString();
      return db.transaction(async (trx) => {
        const n = await trx('users').where({ username }).update({ disabled_at: disabled ? at : null, updated_at: at });
        if (n === 1 && disabled) {
          await trx('user_sessions').where({ username }).whereNull('ended_at').update({ ended_at: at, end_reason: 'disabled' });
        }
        return n === 1;
      });
    },
    async recordFailure(username, now, policy) {
      const at = now.toISOString();
      return db.transaction(async (trx) => {
        await trx('users').where({ username }).update({ failed_count: trx.raw('failed_count + 1'), updated_at: at });
        const row = await trx<UserRow>('users').where({ username }).first();
        if (!row || Number(row.failed_count) < policy.maxFailures) return { lockedNow: false };
        const until = new Date(now.getTime() + policy.lockMinutes * 60_000).toISOString();
        // The counter starts again for the next lock period.
        await trx('users').where({ username }).update({ locked_until: until, failed_count: 0 });
        return { lockedNow: true };
      });
    },
    async recordSuccess(username, now) {
      await users().where({ username }).update({ failed_count: 0, locked_until: null, updated_at: now.toISOString() });
    },
    async unlock(username, now) {
      const n = await users().where({ username }).update({ failed_count: 0, locked_until: null, updated_at: now.toISOString() });
      return n === 1;
    },
  };
}
