import type { Logger } from 'pino';
import type { Db } from '../storage/db';

/**
 * Replay protection for client assertions (API.md §3: "jti not seen before"). Each jti is kept in
 * `assertion_jtis` until its assertion could no longer be accepted; the primary key
 * (client_id, jti) makes a replay a conflict, so the check is one `INSERT … ON CONFLICT DO NOTHING
 * RETURNING` — atomic across gateway instances sharing the database, and durable across restarts.
 *
 * Claims that arrive while an insert is running are queued and written together as one multi-row
 * statement (group commit): the endpoint's throughput is then bounded by statements, not commits.
 */
export interface JtiStore {
  /** true when the jti is new (and is now recorded), false when it was seen before */
  claim(clientId: string, jti: string, expiresAtEpochSeconds: number): Promise<boolean>;
  /** delete rows that expired before `nowEpochSeconds`; returns how many */
  prune(nowEpochSeconds: number): Promise<number>;
}

const TABLE = 'assertion_jtis';
/** Rows a statement; 3 bind variables each stays far below SQLite's limit. */
const MAX_BATCH = 200;
/** Statements in flight at once; more queue and are batched. */
const MAX_IN_FLIGHT = 2;
/** At most one prune a minute per instance; it is cheap (index on expires_at) but not free. */
export const PRUNE_INTERVAL_MS = 60_000;

interface Pending {
  clientId: string;
  jti: string;
  expiresAt: number;
  resolve(fresh: boolean): void;
  reject(e: unknown): void;
}

export function createJtiStore(opts: { db: Db; log: Logger; nowEpochSeconds: () => number }): JtiStore {
  const { db, log } = opts;
  const queue: Pending[] = [];
  let inFlight = 0;
  let lastPrune = Number.NEGATIVE_INFINITY;
  let pruning = false;

  const keyOf = (clientId: string, jti: string) => `${clientId.length}:${clientId}${jti}`;

  async function flush(batch: Pending[]): Promise<void> {
    // The first claim of a (client, jti) pair in the batch is the one that may win.
    const first = new Map<string, Pending>();
    for (const p of batch) if (!first.has(keyOf(p.clientId, p.jti))) first.set(keyOf(p.clientId, p.jti), p);
    const rows = [...first.values()].map((p) => ({ client_id: p.clientId, jti: p.jti, expires_at: p.expiresAt }));
    try {
      const inserted: Array<{ client_id: string; jti: string }> = await db(TABLE)
        .insert(rows)
        .onConflict(['client_id', 'jti'])
        .ignore()
        .returning(['client_id', 'jti']);
      const fresh = new Set(inserted.map((r) => keyOf(r.client_id, r.jti)));
      for (const p of batch) {
        const k = keyOf(p.clientId, p.jti);
        p.resolve(first.get(k) === p && fresh.has(k));
      }
    } catch (e) {
      for (const p of batch) p.reject(e);
    }
  }

  function pump(): void {
    while (inFlight < MAX_IN_FLIGHT && queue.length) {
      const batch = queue.splice(0, MAX_BATCH);
      inFlight++;
      void flush(batch).finally(() => {
        inFlight--;
        pump();
      });
    }
  }

  function maybePrune(): void {
    if (pruning || performance.now() - lastPrune < PRUNE_INTERVAL_MS) return;
    pruning = true;
    lastPrune = performance.now();
    store
      .prune(opts.nowEpochSeconds())
      .catch((e: Error) => log.warn({ reason: e.message }, 'pruning assertion_jtis failed'))
      .finally(() => {
        pruning = false;
      });
  }

  const store: JtiStore = {
    claim(clientId, jti, expiresAt) {
      const result = new Promise<boolean>((resolve, reject) => queue.push({ clientId, jti, expiresAt, resolve, reject }));
      pump();
      maybePrune();
      return result;
    },
    async prune(now) {
      return Number(await db(TABLE).where('expires_at', '<', now).del());
    },
  };
  return store;
}
