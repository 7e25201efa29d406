import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../storage/db';

/**
 * Authorization codes and signed-in sessions (docs/users.md §3), in the database so any instance
 * can finish what another began. Only hashes of codes and refresh tokens are stored: a database
 * reader cannot use them. Every state change is one conditional UPDATE, so a code is redeemed
 * once and a refresh token rotates once, however many instances race.
 */

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const token = (bytes: number) => randomBytes(bytes).toString('base64url');

export const CODE_LIFETIME_SECONDS = 60;

export interface CodeGrant {
  clientId: string;
  redirectUri: string;
  username: string;
  codeChallenge: string;
  scope: string;
}

export type Redeemed = { ok: true; grant: CodeGrant; codeHash: string } | { ok: false; reason: 'unknown' | 'expired' | 'replayed' };

export interface OpenedSession {
  sid: string;
  refreshToken: string;
}

export interface SessionRow {
  sid: string;
  username: string;
  client_id: string;
  scope: string;
  refresh_hash: string;
  idle_expires_at: string;
  expires_at: string;
  ended_at: string | null;
  end_reason: string | null;
}

export type Rotated =
  | { ok: true; session: SessionRow; refreshToken: string }
  | { ok: false; reason: 'unknown' | 'ended' | 'expired' | 'reused'; session?: SessionRow };

export interface SessionStore {
  createCode(grant: CodeGrant, now: Date): Promise<string>;
  /** use a code up (whatever follows: a wrong verifier burns it too); a second use ends the session it gave */
  redeemCode(code: string, now: Date): Promise<Redeemed>;
  open(opts: { username: string; clientId: string; scope: string; codeHash?: string; now: Date; idleMinutes: number; maxHours: number }): Promise<OpenedSession>;
  /** the session of a refresh token, its token rotated; a superseded token ends the session (reuse) */
  rotate(refreshToken: string, now: Date, idleMinutes: number): Promise<Rotated>;
  /** the open session a refresh token names, without rotating it */
  find(refreshToken: string): Promise<SessionRow | undefined>;
  end(sid: string, now: Date, reason: string): Promise<boolean>;
  isOpen(sid: string, now: Date): Promise<boolean>;
}

const splitRefresh = (t: string): { sid: string; secret: string } | undefined => {
  const m = /^([A-Za-z0-9_-]{16,64})\.([A-Za-z0-9_-]{32,128})$/.exec(t);
  return m ? { sid: m[1]!, secret: m[2]! } : undefined;
};

export function createSessionStore(db: Db): SessionStore {
  const sessions = () => db<SessionRow>('user_sessions');
  let lastPrune = 0;
  const pruneCodes = async (now: Date) => {
    if (now.getTime() - lastPrune < 60_000) return;
    lastPrune = now.getTime();
    // a day of used codes is kept so a late replay is still recognised as one
    await db('authorization_codes').where('expires_at', '<', new Date(now.getTime() - 86_400_000).toISOString()).delete();
  };

  const endSession = async (sid: string, now: Date, reason: string) =>
    (await sessions().where({ sid }).whereNull('ended_at').update({ ended_at: now.toISOString(), end_reason: reason })) === 1;

  return {
    async createCode(grant, now) {
      const code = token(32);
      await db('authorization_codes').insert({
        code_hash: sha256(code),
        client_id: grant.clientId,
        redirect_uri: grant.redirectUri,
        username: grant.username,
        code_challenge: grant.codeChallenge,
        scope: grant.scope,
        expires_at: new Date(now.getTime() + CODE_LIFETIME_SECONDS * 1000).toISOString(),
      });
      await pruneCodes(now);
      return code;
    },

    async redeemCode(code, now) {
      if (code.length > 128) return { ok: false, reason: 'unknown' };
      const codeHash = sha256(code);
      const at = now.toISOString();
      const used = await db('authorization_codes').where({ code_hash: codeHash }).whereNull('used_at').update({ used_at: at });
      const row = await db('authorization_codes').where({ code_hash: codeHash }).first();
      if (!row) return { ok: false, reason: 'unknown' };
      if (used !== 1) {
        if (row.sid) await endSession(row.sid, now, 'code-replay');
        return { ok: false, reason: 'replayed' };
      }
      if (row.expires_at <= at) return { ok: false, reason: 'expired' };
      return {
        ok: true,
        codeHash,
        grant: { clientId: row.client_id, redirectUri: row.redirect_uri, username: row.username, codeChallenge: row.code_challenge, scope: row.scope },
      };
    },

    async open(opts) {
      const sid = token(16);
      const secret = token(32);
      const now = opts.now.getTime();
      const expires = new Date(now + opts.maxHours * 3_600_000);
      const idle = new Date(Math.min(now + opts.idleMinutes * 60_000, expires.getTime()));
      await db('user_sessions').insert({
        sid,
        username: opts.username,
        client_id: opts.clientId,
        refresh_hash: sha256(secret),
        scope: opts.scope,
        created_at: opts.now.toISOString(),
        idle_expires_at: idle.toISOString(),
        expires_at: expires.toISOString(),
      });
      if (opts.codeHash) await db('authorization_codes').where({ code_hash: opts.codeHash }).update({ sid });
      return { sid, refreshToken: `${sid}.${secret}` };
    },

    async rotate(refreshToken, now, idleMinutes) {
      const parts = splitRefresh(refreshToken);
      if (!parts) return { ok: false, reason: 'unknown' };
      const at = now.toISOString();
      const row = await sessions().where({ sid: parts.sid }).first();
      if (!row) return { ok: false, reason: 'unknown' };
      if (row.ended_at) return { ok: false, reason: 'ended', session: row };
      if (row.idle_expires_at <= at || row.expires_at <= at) {
        await endSession(row.sid, now, 'expired');
        return { ok: false, reason: 'expired', session: row };
      }
      const secret = token(32);
      const idle = new Date(Math.min(now.getTime() + idleMinutes * 60_000, Date.parse(row.expires_at))).toISOString();
      const n = await sessions()
        .where({ sid: row.sid, refresh_hash: sha256(parts.secret) })
        .whereNull('ended_at')
        .update({ refresh_hash: sha256(secret), idle_expires_at: idle });
      if (n !== 1) {
        // An old refresh token came back: it was stolen or copied. End the session for both holders.
        await endSession(row.sid, now, 'refresh-reuse');
        return { ok: false, reason: 'reused', session: row };
      }
      return { ok: true, session: { ...row, idle_expires_at: idle }, refreshToken: `${row.sid}.${secret}` };
    },

    async find(refreshToken) {
      const parts = splitRefresh(refreshToken);
      if (!parts) return undefined;
      const row = await sessions().where({ sid: parts.sid, refresh_hash: sha256(parts.secret) }).first();
      return row ?? undefined;
    },

    end: endSession,

    async isOpen(sid, now) {
      const at = now.toISOString();
      const row = await sessions().where({ sid }).first('ended_at', 'expires_at', 'idle_expires_at');
      return Boolean(row && !row.ended_at && row.expires_at > at && row.idle_expires_at > at);
    },
  };
}
