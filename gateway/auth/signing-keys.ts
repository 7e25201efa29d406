import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { ConfigError } from '../config';
import type { Clock } from '../context';
import type { Db } from '../storage/db';
import { isSqlite } from '../storage/migration';
import { importPrivateJwk, importPublicJwk, publicJwkOf, type AlgKey } from './jws';
import { generateTokenKeyJwk, newTokenKid, type CheckpointSigner, type KeySource, type TokenKey } from './key-source';

/**
 * The gateway's access-token signing keys (API.md §3; docs/auth.md §9). Private keys come from the
 * key source (files outside the database, gateway/auth/key-source.ts) and nowhere else:
 * - signing: the newest key of the source that the table does not mark retired;
 * - verification: every key of the source, plus every public key published in `signing_keys` by
 *   an instance of this gateway. Each instance publishes the public halves of its keys, so during a
 *   rotation an instance that has not got the new key file yet still verifies the tokens another
 *   one signs with it. A published key is trusted only with a valid attestation, an Ed25519
 *   signature by the audit checkpoint key (also from the key source): a row written into the table
 *   behind the gateway's back cannot make it accept tokens signed by a stranger's key.
 * The folder and the table are re-read every minute, and at once (rate-limited) when a token names
 * a kid we do not hold. `private_jwk` is kept only so that old rows can be moved out: at start-up
 * {@link moveKeysOutOfDatabase} writes them into the key folder and wipes the column.
 */
export interface SigningKeyStore {
  init(): Promise<void>;
  /** the key new access tokens are signed with */
  signingKey(): AlgKey;
  /** the key for `kid` if we hold it now (no I/O) */
  knownKey(kid: string): AlgKey | undefined;
  /** the key for `kid`, re-reading once if we do not hold it (rate-limited) */
  findKey(kid: string): Promise<AlgKey | undefined>;
  /** re-read the key source and the table now */
  refresh(): Promise<void>;
}

export interface SigningKeyRow {
  kid: string;
  alg: string;
  /** only in rows written before migration 009's release; moved out and wiped at start-up */
  private_jwk: string | null;
  public_jwk: string;
  created_at: string;
  retired_at: string | null;
  /** `<checkpoint key id>.<base64url Ed25519 signature>` over the published key ({@link attestationMessage}) */
  attestation: string | null;
}

const TABLE = 'signing_keys';

/** How often the folder and the table are re-read to pick up rotation and retirement. */
export const KEY_REFRESH_INTERVAL_MS = 60_000;
/** At least this long between reads caused by unknown kids (a flood of forged kids costs one read a second). */
export const UNKNOWN_KID_REFRESH_MS = 1_000;

/** The setting a gateway without a key source is refused with. */
const NO_SOURCE = 'keys.directory';

/** What an attestation signs: domain-separated, so it can never pass for a checkpoint signature. */
export function attestationMessage(kid: string, alg: string, publicJwk: string): Buffer {
  return Buffer.from(`xzq-signing-key-attestation/1\n${JSON.stringify([kid, alg, publicJwk])}`);
}

export async function attest(signer: CheckpointSigner, kid: string, alg: string, publicJwk: string): Promise<string> {
  return `${signer.keyId}.${(await signer.sign(attestationMessage(kid, alg, publicJwk))).toString('base64url')}`;
}

export function attestationValid(row: Pick<SigningKeyRow, 'kid' | 'alg' | 'public_jwk' | 'attestation'>, verifiers: ReadonlyMap<string, KeyObject>): boolean {
  const [keyId, sig] = (row.attestation ?? '').split('.');
  const key = keyId ? verifiers.get(keyId) : undefined;
  if (!key || !sig) return false;
  try {
    return verify(null, attestationMessage(row.kid, row.alg, row.public_jwk), key, Buffer.from(sig, 'base64url'));
  } catch {
    return false;
  }
}

/** The public JWK text an instance publishes for one of its keys. */
const publishedJwk = (k: AlgKey) => JSON.stringify(publicJwkOf(k.key, { kid: k.kid, alg: k.alg }));

/**
 * Publishes the public halves of the source's keys in the table, attested, so instances that do
 * not hold a key file yet verify the tokens it signs. A kid the table marks retired stays retired.
 */
export async function publishKeys(db: Db, source: KeySource, keys: readonly TokenKey[]): Promise<void> {
  const signer = await source.checkpointSigner();
  for (const { key, created } of keys) {
    const public_jwk = publishedJwk(key);
    const attestation = await attest(signer, key.kid, key.alg, public_jwk);
    await db(TABLE).insert({ kid: key.kid, alg: key.alg, private_jwk: null, public_jwk, created_at: created, retired_at: null, attestation }).onConflict('kid').ignore();
    const row = await db<SigningKeyRow>(TABLE).where({ kid: key.kid }).first();
    // a row under our kid that is not our key's (or not attested by us) is corrected: we hold the key
    if (row && (row.public_jwk !== public_jwk || row.attestation !== attestation || row.alg !== key.alg)) {
      await db(TABLE).where({ kid: key.kid }).update({ alg: key.alg, public_jwk, attestation });
    }
  }
}

/**
 * Moves private keys still stored in `signing_keys` (from before keys left the database) into the
 * key source, then wipes the column: a key in use is written to the key folder (mode 0600) first;
 * a retired one is only wiped. Without a key source the gateway refuses to start while any remain.
 * The wipe then rewrites the store from its live rows (SQLite `VACUUM`, the write-ahead log
 * truncated; PostgreSQL `VACUUM FULL signing_keys` when the gateway owns the table), so no freed
 * bytes keep the keys. Copies in backups, replicas and old WAL segments remain: rotate the moved keys.
 * Returns the kids moved and wiped.
 */
export async function moveKeysOutOfDatabase(db: Db, source: KeySource | undefined, log: Logger): Promise<{ moved: string[]; wiped: string[] }> {
  const rows = await db<SigningKeyRow>(TABLE).whereNotNull('private_jwk').select('kid', 'alg', 'private_jwk', 'created_at', 'retired_at');
  if (!rows.length) return { moved: [], wiped: [] };
  if (!source) {
    throw new ConfigError([
      `${NO_SOURCE}: signing_keys still holds ${rows.length} private key(s); the gateway keeps private keys outside the database — set ${NO_SOURCE} and it moves them there at start-up (docs/auth.md §9)`,
    ]);
  }
  const moved: string[] = [];
  for (const r of rows) {
    if (r.retired_at) continue;
    // a broken row stops the start-up here, before anything is wiped
    let jwk: Record<string, unknown>;
    try {
      jwk = { ...(JSON.parse(r.private_jwk!) as Record<string, unknown>), kid: r.kid };
      importPrivateJwk(jwk);
    } catch {
      throw new ConfigError([`${NO_SOURCE}: the private key of ${r.kid} in signing_keys cannot be read, so it cannot be moved out; retire it (set retired_at) to have it wiped`]);
    }
    await source.addTokenKey(jwk, r.created_at);
    moved.push(r.kid);
  }
  const wiped = rows.map((r) => r.kid);
  await wipePrivateColumn(db, wiped);
  log.warn(
    { moved, wiped: wiped.length },
    'moved private signing keys out of the database into keys.directory and wiped them there; backups made before still hold them: rotate these keys (docs/auth.md §9)',
  );
  return { moved, wiped };
}

async function wipePrivateColumn(db: Db, kids: string[]): Promise<void> {
  await db(TABLE).whereIn('kid', kids).update({ private_jwk: null });
  // An UPDATE leaves the old bytes in free space of the file (and of pages the rows passed through
  // before): the table, or on SQLite the whole file, is rewritten from its live rows. Once, when
  // keys were found; on a large SQLite file it takes a while and needs its size again in free disk.
  if (isSqlite(db)) {
    await db.raw('VACUUM');
    await db.raw('PRAGMA wal_checkpoint(TRUNCATE)');
    return;
  }
  await db.raw(`VACUUM FULL ${TABLE}`).catch(() => undefined); // needs the table's owner; the update holds either way
}

/**
 * The verification keys every instance accepts: the source's keys and the attested public keys
 * of the table, both without the retired ones. The JWKS endpoint publishes the same set.
 */
export async function verificationKeys(
  db: Db,
  source: KeySource,
  log?: Logger,
  /** kids already warned about (a store warns once per row, not at every re-read) */
  warned?: Set<string>,
): Promise<{ own: TokenKey[]; retired: Set<string>; verify: Map<string, AlgKey>; attested: Set<string> }> {
  const own = await source.tokenKeys();
  const rows = await db<SigningKeyRow>(TABLE).select('kid', 'alg', 'public_jwk', 'created_at', 'retired_at', 'attestation');
  const retired = new Set(rows.filter((r) => r.retired_at).map((r) => r.kid));
  const verifiers = await source.checkpointVerifiers();
  const out = new Map<string, AlgKey>();
  const attested = new Set<string>();
  for (const row of rows) {
    if (row.retired_at) continue;
    if (!attestationValid(row, verifiers)) {
      if (!warned?.has(row.kid)) log?.warn({ kid: row.kid }, 'signing_keys row without a valid attestation ignored');
      warned?.add(row.kid);
      continue;
    }
    attested.add(row.kid);
    try {
      out.set(row.kid, importPublicJwk({ ...(JSON.parse(row.public_jwk) as Record<string, unknown>), kid: row.kid }, row.kid));
    } catch (e) {
      log?.error({ kid: row.kid, reason: (e as Error).message }, 'unusable signing key row ignored');
    }
  }
  for (const { key } of own) if (!retired.has(key.kid)) out.set(key.kid, { ...key, key: publicKeyOf(key.key) });
  return { own, retired, verify: out, attested };
}

/** The public JWKs of {@link verificationKeys}, for `GET /.well-known/jwks.json`. */
export async function publicJwks(db: Db, source: KeySource): Promise<JsonWebKey[]> {
  const { verify: keys } = await verificationKeys(db, source);
  return [...keys.values()].map((k) => publicJwkOf(k.key, { kid: k.kid, alg: k.alg })).sort((a, b) => String(a.kid).localeCompare(String(b.kid)));
}

/**
 * Add a new signing key (rotation, docs/auth.md §9): kept by the key source, published attested.
 * Every instance that reads the same source signs with it from its next read (≤ {@link
 * KEY_REFRESH_INTERVAL_MS}); the others verify it through the table. Returns its kid.
 */
export async function addSigningKey(db: Db, source: KeySource, now: Date): Promise<string> {
  const kid = newTokenKid(now);
  const jwk = await generateTokenKeyJwk(kid);
  const created = now.toISOString();
  await source.addTokenKey(jwk, created);
  await publishKeys(db, source, [{ key: importPrivateJwk(jwk), created }]);
  return kid;
}

/**
 * Retire a key: marked retired in the table (no instance signs with it or accepts its tokens from
 * its next read) and destroyed in the key source. The newest key still in use cannot be retired:
 * add its successor first. Returns false when there was no such key.
 */
export async function retireSigningKey(db: Db, source: KeySource, kid: string, now: Date): Promise<boolean> {
  const { own, retired } = await verificationKeys(db, source);
  const signing = own.find((k) => !retired.has(k.key.kid));
  if (signing?.key.kid === kid) throw new Error(`${kid} is the key tokens are signed with; add a new key first, then retire this one once its tokens have expired`);
  // a key no instance has published yet gets its row now, so that every instance sees it retired
  const held = own.find((k) => k.key.kid === kid);
  if (held) await publishKeys(db, source, [held]);
  const n = await db(TABLE).where({ kid }).whereNull('retired_at').update({ retired_at: now.toISOString() });
  const removed = await source.removeTokenKey(kid);
  return Number(n) > 0 || removed;
}

export function createSigningKeyStore(opts: { db: Db; clock: Clock; log: Logger; source: KeySource | undefined }): SigningKeyStore {
  const { db, log, source } = opts;
  let signing: AlgKey | undefined;
  let verification = new Map<string, AlgKey>();
  const warned = new Set<string>();
  let lastLoad = 0;
  let lastUnknownKidLoad = Number.NEGATIVE_INFINITY;
  let loading: Promise<void> | undefined;

  async function load(): Promise<void> {
    if (!source) throw new ConfigError([`${NO_SOURCE}: required — the gateway's signing keys are read from a key folder, never from the database (docs/auth.md §9)`]);
    const { own, retired, verify, attested } = await verificationKeys(db, source, log, warned);
    const usable = own.filter((k) => !retired.has(k.key.kid));
    for (const k of own) {
      if (retired.has(k.key.kid) && !warned.has(`retired:${k.key.kid}`)) log.warn({ kid: k.key.kid }, 'the key folder still holds a retired signing key: delete its file');
      if (retired.has(k.key.kid)) warned.add(`retired:${k.key.kid}`);
    }
    // publish what this instance holds and the table lacks (a new file, or a row someone removed)
    const unpublished = usable.filter((k) => !attested.has(k.key.kid));
    if (unpublished.length) await publishKeys(db, source, unpublished);
    const next = usable[0]?.key;
    if (!next) throw new ConfigError([`${NO_SOURCE}: every signing key in it is retired; add one with \`signing-key --config FILE add\``]);
    if (signing && signing.kid !== next.kid) log.info({ kid: next.kid }, 'signing key changed');
    signing = next;
    // Unchanged keys keep their objects: the auth service re-verifies a remembered token whose key object changed.
    for (const [kid, k] of verify) {
      const prev = verification.get(kid);
      if (prev && prev.alg === k.alg && prev.key.equals(k.key)) verify.set(kid, prev);
    }
    verification = verify;
    lastLoad = performance.now();
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
      await moveKeysOutOfDatabase(db, source, log);
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

const publicKeyOf = (k: KeyObject) => (k.type === 'private' ? createPublicKey(k) : k);
