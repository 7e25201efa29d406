import { createPublicKey, generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import type { Clock } from '../context';
import type { Db } from '../storage/db';
import { importPrivateJwk, importPublicJwk, publicJwkOf, type AlgKey } from './jws';

/**
 * The gateway's access-token signing keys (API.md §3), shared by every instance through the
 * `signing_keys` table:
 * - signing: the configured key (`auth.signingKey`) when there is one, else the newest non-retired
 *   row that holds a private key; the first instance to start on an empty table generates one
 *   (RSA 2048, RS384 — the fastest of the two to verify, and verification runs on every request);
 * - verification: every non-retired row, plus the configured key. A token naming a kid we do not
 *   hold makes us re-read the table (rate-limited), so a key added by another instance verifies at
 *   once; the table is also re-read every minute, which is how rotation and retirement spread.
 */
export interface SigningKeyStore {
  init(): Promise<void>;
  /** the key new access tokens are signed with */
  signingKey(): AlgKey;
  /** the key for `kid` if we hold it now (no I/O) */
  knownKey(kid: string): AlgKey | undefined;
  /** the key for `kid`, re-reading the table once if we do not hold it (rate-limited) */
  findKey(kid: string): Promise<AlgKey | undefined>;
  /** re-read the table now */
  refresh(): Promise<void>;
}

export interface SigningKeyRow {
  kid: string;
  alg: string;
  private_jwk: string | null;
  public_jwk: string;
  created_at: string;
  retired_at: string | null;
}

const TABLE = 'signing_keys';
const generateKeyPairAsync = promisify(generateKeyPair);

/** How often the table is re-read to pick up rotation and retirement. */
export const KEY_REFRESH_INTERVAL_MS = 60_000;
/** At least this long between table reads caused by unknown kids (a flood of forged kids costs one read a second). */
export const UNKNOWN_KID_REFRESH_MS = 1_000;

/** Generate a fresh RS384 key (RSA 2048) as a table row. */
export async function generateSigningKeyRow(kid: string, now: Date): Promise<SigningKeyRow> {
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  const privateJwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS384', use: 'sig' };
  return {
    kid,
    alg: 'RS384',
    private_jwk: JSON.stringify(privateJwk),
    public_jwk: JSON.stringify(publicJwkOf(privateKey, { kid, alg: 'RS384' })),
    created_at: now.toISOString(),
    retired_at: null,
  };
}

/**
 * Add a new signing key (key rotation, docs/auth.md): every instance signs with it from its next
 * table read (≤ {@link KEY_REFRESH_INTERVAL_MS}). Returns its kid. Retire the old key with
 * {@link retireSigningKey} once every token it signed has expired.
 */
export async function addSigningKey(db: Db, now: Date): Promise<string> {
  const kid = `gw-${now.toISOString().replace(/[-:.TZ]/g, '')}-${Math.random().toString(36).slice(2, 8)}`;
  await db(TABLE).insert(await generateSigningKeyRow(kid, now));
  return kid;
}

/** Mark a key retired: no instance signs with it or accepts tokens it signed from its next table read. */
export async function retireSigningKey(db: Db, kid: string, now: Date): Promise<boolean> {
  const n = await db(TABLE).where({ kid }).whereNull('retired_at').update({ retired_at: now.toISOString() });
  return Number(n) > 0;
}

export function createSigningKeyStore(opts: {
  db: Db;
  clock: Clock;
  log: Logger;
  /** `config.auth.signingKey`: a private JWK */
  configKey?: Record<string, unknown>;
}): SigningKeyStore {
  const { db, clock, log } = opts;
  let configured: AlgKey | undefined;
  let signing: AlgKey | undefined;
  let verification = new Map<string, AlgKey>();
  // imported keys by kid and JWK text, so a re-read does not re-import unchanged keys
  const imported = new Map<string, { text: string; key: AlgKey }>();
  let lastLoad = 0;
  let lastUnknownKidLoad = Number.NEGATIVE_INFINITY;
  let loading: Promise<void> | undefined;

  const readRows = (): Promise<SigningKeyRow[]> =>
    db<SigningKeyRow>(TABLE).whereNull('retired_at').orderBy([{ column: 'created_at', order: 'desc' }, { column: 'kid', order: 'desc' }]);

  function importRow(row: SigningKeyRow, which: 'public' | 'private'): AlgKey | undefined {
    const text = which === 'public' ? row.public_jwk : row.private_jwk;
    if (!text) return undefined;
    const cacheKey = `${which}:${row.kid}`;
    const hit = imported.get(cacheKey);
    if (hit && hit.text === text) return hit.key;
    try {
      const jwk = { ...(JSON.parse(text) as Record<string, unknown>), kid: row.kid };
      const key = which === 'public' ? importPublicJwk(jwk, row.kid) : importPrivateJwk(jwk);
      imported.set(cacheKey, { text, key });
      return key;
    } catch (e) {
      log.error({ kid: row.kid, reason: (e as Error).message }, 'unusable signing key row ignored');
      return undefined;
    }
  }

  async function load(): Promise<void> {
    let rows = await readRows();
    if (!configured && !rows.some((r) => r.private_jwk)) {
      await generateFirstKey();
      rows = await readRows();
    }
    const next = new Map<string, AlgKey>();
    let newestPrivate: AlgKey | undefined;
    for (const row of rows) {
      const pub = importRow(row, 'public');
      if (pub) next.set(row.kid, pub);
      if (!newestPrivate && row.private_jwk) newestPrivate = importRow(row, 'private');
    }
    if (configured) next.set(configured.kid, { ...configured, key: publicKeyOf(configured) });
    const nextSigning = configured ?? newestPrivate;
    if (!nextSigning) throw new Error('no usable signing key in signing_keys');
    if (signing && signing.kid !== nextSigning.kid) log.info({ kid: nextSigning.kid }, 'signing key changed');
    signing = nextSigning;
    verification = next;
    lastLoad = performance.now();
  }

  // Instances that start together on an empty table compute the same kid (from the row count), so
  // all but one insert hit the primary key and read the winner's key back.
  async function generateFirstKey(): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const [{ n }] = (await db(TABLE).count({ n: '*' })) as [{ n: number | string }];
      const kid = `gw-${String(Number(n) + 1).padStart(4, '0')}`;
      const row = await generateSigningKeyRow(kid, clock.now());
      const inserted = await db(TABLE).insert(row).onConflict('kid').ignore().returning('kid');
      if (inserted.length) {
        log.info({ kid }, 'generated the gateway signing key');
        return;
      }
      const rows = await readRows();
      if (rows.some((r) => r.private_jwk)) return;
    }
    throw new Error('could not create a signing key');
  }

  function reload(): Promise<void> {
    loading ??= load().finally(() => {
      loading = undefined;
    });
    return loading;
  }

  function maybeBackgroundRefresh(): void {
    if (performance.now() - lastLoad < KEY_REFRESH_INTERVAL_MS || loading) return;
    reload().catch((e: Error) => log.warn({ reason: e.message }, 'signing key refresh failed; keeping current keys'));
  }

  return {
    async init() {
      if (opts.configKey) {
        try {
          configured = importPrivateJwk(opts.configKey);
        } catch (e) {
          throw new Error(`auth.signingKey: ${(e as Error).message}`);
        }
        // Publish the public half so instances with other keys verify our tokens.
        const publicJwk = JSON.stringify(publicJwkOf(configured.key, configured));
        await db(TABLE)
          .insert({ kid: configured.kid, alg: configured.alg, private_jwk: null, public_jwk: publicJwk, created_at: clock.now().toISOString(), retired_at: null })
          .onConflict('kid')
          .ignore();
        const row = await db<SigningKeyRow>(TABLE).where({ kid: configured.kid }).first();
        if (row && row.public_jwk !== publicJwk) log.warn({ kid: configured.kid }, 'signing_keys holds another key under the configured kid');
      }
      await reload();
    },
    signingKey() {
      if (!signing) throw new Error('auth service not initialised');
      maybeBackgroundRefresh();
      return signing;
    },
    knownKey(kid) {
      maybeBackgroundRefresh();
      return verification.get(kid);
    },
    async findKey(kid) {
      const known = verification.get(kid);
      if (known) return known;
      if (performance.now() - lastUnknownKidLoad < UNKNOWN_KID_REFRESH_MS && !loading) return undefined;
      lastUnknownKidLoad = performance.now();
      try {
        await reload();
      } catch (e) {
        log.warn({ reason: (e as Error).message }, 'signing key refresh failed');
      }
      return verification.get(kid);
    },
    refresh: reload,
  };
}

const publicKeyOf = (k: AlgKey) => (k.key.type === 'private' ? createPublicKey(k.key) : k.key);
