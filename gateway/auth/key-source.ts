import { createHash, createPrivateKey, createPublicKey, generateKeyPair, randomBytes, sign, type KeyObject } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { ConfigError, type GatewayConfig } from '../config';
import { importPrivateJwk, type AlgKey } from './jws';

/**
 * Where the gateway's private keys come from: never the database (issue #20; docs/auth.md §9).
 * Someone who can read the database or a backup of it must not be able to mint access tokens or
 * sign audit checkpoints, so both kinds of key live outside it:
 *
 * - the access-token signing keys (RS384): the newest signs, every one still present verifies
 *   (rotation with overlap);
 * - the audit checkpoint key (Ed25519), which signs the anchored checkpoints of the audit chain
 *   and attests the public token keys the instances publish in the database.
 *
 * `KeySource` is the small interface a KMS or HSM source would implement instead of files; several
 * gateway instances share one source (one folder mounted on each, or one KMS). Token keys are
 * handed out as key objects because tokens are signed synchronously on the request path; the
 * checkpoint signer signs asynchronously, as a remote KMS would.
 */

export interface TokenKey {
  key: AlgKey;
  /** when the key was made (ISO instant): the newest signs */
  created: string;
}

/** Signs audit checkpoints and key attestations; Ed25519 (see docs/audit.md §3 for why). */
export interface CheckpointSigner {
  /** RFC 7638 thumbprint of the public key: which key signed a checkpoint */
  keyId: string;
  publicKey: KeyObject;
  sign(message: Buffer): Promise<Buffer>;
}

export interface KeySource {
  /** names the setting, for errors and logs; never key material */
  readonly description: string;
  /** the access-token signing keys, newest first; throws a ConfigError naming the setting */
  tokenKeys(): Promise<TokenKey[]>;
  /** keep a new token key (rotation, or moving one out of the database); 'present' when it is already kept */
  addTokenKey(jwk: Record<string, unknown>, created: string): Promise<'added' | 'present'>;
  /** destroy a token key (retirement); false when there was none */
  removeTokenKey(kid: string): Promise<boolean>;
  /** the audit checkpoint signer; throws a ConfigError naming the setting */
  checkpointSigner(): Promise<CheckpointSigner>;
  /** the public keys checkpoints and attestations are verified with, by key id (the signer's and earlier ones) */
  checkpointVerifiers(): Promise<ReadonlyMap<string, KeyObject>>;
}

export type KeySettings = NonNullable<GatewayConfig['keys']>;

/** File name of a token key: `<kid>.private.jwk.json`. */
export const TOKEN_KEY_SUFFIX = '.private.jwk.json';
/** The checkpoint key's default file name in the key folder. */
export const AUDIT_KEY_FILE = 'audit-checkpoint.private.pem';
/** kids that are safe file names */
const KID = /^[A-Za-z0-9._-]{1,64}$/;

const generateKeyPairAsync = promisify(generateKeyPair);

/** RFC 7638 thumbprint of an Ed25519 public key (members crv, kty, x in that order). */
export function ed25519KeyId(key: KeyObject): string {
  const jwk = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' });
  return createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x })).digest('base64url');
}

/** A fresh kid that sorts by time: `gw-20261206T101500Z-3f9a1c`. */
export function newTokenKid(now: Date): string {
  return `gw-${now.toISOString().replace(/[-:]|\.\d+/g, '')}-${randomBytes(3).toString('hex')}`;
}

/** A fresh RS384 token key (RSA 2048: the quickest of the two algorithms to verify, on every request) as a private JWK. */
export async function generateTokenKeyJwk(kid: string): Promise<Record<string, unknown>> {
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS384', use: 'sig' };
}

/** A fresh checkpoint key as PKCS#8 PEM. */
export async function generateCheckpointKeyPem(): Promise<string> {
  const { privateKey } = await generateKeyPairAsync('ed25519');
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** Group or others may read or write the file: the key is no longer the gateway's alone. */
const loose = (mode: number) => (mode & 0o077) !== 0;
const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;
const errCode = (e: unknown) => (e as NodeJS.ErrnoException).code ?? 'error';

/**
 * The file key source: token keys in `keys.directory`, the checkpoint key in `keys.auditKey`.
 * Permissions are checked each time a file is read: a private key file group or others may access
 * (any bit of 0077), or a folder they may write to (someone could plant a key), is refused with an
 * error naming the setting — or, with `keys.loosePermissions: "warn"`, logged once and used. On
 * Windows modes mean nothing and are not checked.
 */
export function createFileKeySource(settings: KeySettings, log: Logger): KeySource {
  const dir = settings.directory;
  const auditKeyPath = settings.auditKey ?? path.join(dir, AUDIT_KEY_FILE);
  const checkModes = process.platform !== 'win32';
  const warned = new Set<string>();
  // parsed token keys by file, kept while the file is unchanged (the folder is re-read every minute)
  const parsed = new Map<string, { stamp: string; key: TokenKey }>();
  let signer: CheckpointSigner | undefined;

  function permissionProblem(setting: string, file: string, problem: string): void {
    if (settings.loosePermissions === 'warn') {
      if (!warned.has(file)) log.warn({ setting, file, problem }, 'key file permissions are loose (keys.loosePermissions is "warn")');
      warned.add(file);
      return;
    }
    throw new ConfigError([`${setting}: ${file} ${problem} (set keys.loosePermissions to "warn" to start anyway)`]);
  }

  async function statPrivateFile(setting: string, file: string): Promise<string> {
    let st;
    try {
      st = await fsp.stat(file);
    } catch (e) {
      throw new ConfigError([`${setting}: ${file} cannot be read (${errCode(e)})`]);
    }
    if (!st.isFile()) throw new ConfigError([`${setting}: ${file} is not a file`]);
    if (checkModes && loose(st.mode)) permissionProblem(setting, file, `is accessible to group or others (mode ${octal(st.mode)}): chmod 600 it`);
    return `${st.mtimeMs}:${st.size}:${st.ino}`;
  }

  async function checkDirectory(): Promise<void> {
    let st;
    try {
      st = await fsp.stat(dir);
    } catch (e) {
      throw new ConfigError([`keys.directory: ${dir} cannot be read (${errCode(e)}); create it with \`signing-key --config FILE init\``]);
    }
    if (!st.isDirectory()) throw new ConfigError([`keys.directory: ${dir} is not a folder`]);
    if (checkModes && (st.mode & 0o022) !== 0) permissionProblem('keys.directory', dir, `is writable by group or others (mode ${octal(st.mode)}): chmod 700 it`);
  }

  async function readTokenKey(file: string): Promise<TokenKey> {
    const stamp = await statPrivateFile('keys.directory', file);
    const hit = parsed.get(file);
    if (hit && hit.stamp === stamp) return hit.key;
    let jwk: Record<string, unknown>;
    try {
      jwk = JSON.parse(await fsp.readFile(file, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError([`keys.directory: ${file} is not a JSON private JWK (${e instanceof SyntaxError ? 'invalid JSON' : errCode(e)})`]);
    }
    const kid = path.basename(file).slice(0, -TOKEN_KEY_SUFFIX.length);
    if (jwk.kid !== kid) throw new ConfigError([`keys.directory: ${file}: its kid must be its file name (${kid})`]);
    let key: AlgKey;
    try {
      key = importPrivateJwk(jwk);
    } catch (e) {
      throw new ConfigError([`keys.directory: ${file} ${(e as Error).message}`]);
    }
    if (key.key.type !== 'private') throw new ConfigError([`keys.directory: ${file} holds no private key`]);
    const created = typeof jwk.created === 'string' && !Number.isNaN(Date.parse(jwk.created)) ? jwk.created : new Date(0).toISOString();
    const entry = { key, created };
    parsed.set(file, { stamp, key: entry });
    return entry;
  }

  async function checkpointSigner(): Promise<CheckpointSigner> {
    if (signer) return signer; // read once: a new checkpoint key takes a restart
    await statPrivateFile('keys.auditKey', auditKeyPath);
    let key: KeyObject;
    try {
      key = createPrivateKey(await fsp.readFile(auditKeyPath, 'utf8'));
    } catch {
      throw new ConfigError([`keys.auditKey: ${auditKeyPath} is not a PEM private key`]);
    }
    if (key.asymmetricKeyType !== 'ed25519') throw new ConfigError([`keys.auditKey: ${auditKeyPath} must be an Ed25519 key (PKCS#8 PEM)`]);
    const publicKey = createPublicKey(key);
    signer = {
      keyId: ed25519KeyId(publicKey),
      publicKey,
      sign: async (message) => sign(null, message, key),
    };
    return signer;
  }

  return {
    description: `files in ${dir}`,

    async tokenKeys() {
      await checkDirectory();
      const names = (await fsp.readdir(dir)).filter((n) => n.endsWith(TOKEN_KEY_SUFFIX)).sort();
      const keys: TokenKey[] = [];
      for (const n of names) keys.push(await readTokenKey(path.join(dir, n)));
      if (!keys.length) {
        throw new ConfigError([`keys.directory: no access-token signing key (*${TOKEN_KEY_SUFFIX}) in ${dir}; create one with \`signing-key --config FILE init\``]);
      }
      // newest first; the kid breaks ties so every instance picks the same key
      return keys.sort((a, b) => b.created.localeCompare(a.created) || b.key.kid.localeCompare(a.key.kid));
    },

    async addTokenKey(jwk, created) {
      const kid = String(jwk.kid ?? '');
      if (!KID.test(kid)) throw new Error(`a key kept in keys.directory needs a kid of [A-Za-z0-9._-]{1,64}`);
      await checkDirectory();
      const file = path.join(dir, `${kid}${TOKEN_KEY_SUFFIX}`);
      const text = `${JSON.stringify({ ...jwk, kid, created })}\n`;
      if (await writeExclusive(file, text)) return 'added';
      // already there: the same key (another instance moved it first) is fine, another is not
      const existing = await readTokenKey(file);
      const mine = importPrivateJwk({ ...jwk, kid });
      const same = createPublicKey(existing.key.key).export({ format: 'der', type: 'spki' }).equals(createPublicKey(mine.key).export({ format: 'der', type: 'spki' }));
      if (!same) throw new ConfigError([`keys.directory: ${file} holds another key under kid ${kid}`]);
      return 'present';
    },

    async removeTokenKey(kid) {
      if (!KID.test(kid)) return false;
      try {
        await fsp.unlink(path.join(dir, `${kid}${TOKEN_KEY_SUFFIX}`));
        await syncDirectory(dir);
        return true;
      } catch (e) {
        if (errCode(e) === 'ENOENT') return false;
        throw e;
      }
    },

    checkpointSigner,

    async checkpointVerifiers() {
      const out = new Map<string, KeyObject>();
      const own = await checkpointSigner();
      out.set(own.keyId, own.publicKey);
      for (const [i, file] of settings.auditVerifyKeys.entries()) {
        let key: KeyObject;
        try {
          key = createPublicKey(await fsp.readFile(file, 'utf8'));
        } catch (e) {
          throw new ConfigError([`keys.auditVerifyKeys[${i}]: ${file} is not a readable PEM public key (${errCode(e)})`]);
        }
        if (key.asymmetricKeyType !== 'ed25519') throw new ConfigError([`keys.auditVerifyKeys[${i}]: ${file} must be an Ed25519 public key`]);
        out.set(ed25519KeyId(key), key);
      }
      return out;
    },
  };
}

/**
 * Writes `text` to `file` with mode 0600 unless the file exists (false then). The content goes to a
 * temporary file first and is linked into place, so no reader ever sees half a key and two
 * instances moving the same key race harmlessly.
 */
async function writeExclusive(file: string, text: string): Promise<boolean> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fh = await fsp.open(tmp, 'wx', 0o600);
  try {
    await fh.chmod(0o600); // whatever the umask
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fsp.link(tmp, file);
    await syncDirectory(path.dirname(file));
    return true;
  } catch (e) {
    if (errCode(e) === 'EEXIST') return false;
    throw e;
  } finally {
    await fsp.unlink(tmp).catch(() => undefined);
  }
}

async function syncDirectory(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Makes a key folder ready (`signing-key init`, the demo's first start, tests): the folder (0700),
 * a first token key when it holds none, the checkpoint key when its file is missing. Returns what
 * it made, by name only; never overwrites a key.
 */
export async function initKeyDirectory(settings: Pick<KeySettings, 'directory' | 'auditKey'>, now = new Date()): Promise<string[]> {
  const made: string[] = [];
  await fsp.mkdir(settings.directory, { recursive: true, mode: 0o700 });
  const names = await fsp.readdir(settings.directory);
  if (!names.some((n) => n.endsWith(TOKEN_KEY_SUFFIX))) {
    const kid = newTokenKid(now);
    const jwk = await generateTokenKeyJwk(kid);
    if (await writeExclusive(path.join(settings.directory, `${kid}${TOKEN_KEY_SUFFIX}`), `${JSON.stringify({ ...jwk, created: now.toISOString() })}\n`)) made.push(`token key ${kid}`);
  }
  const auditKey = settings.auditKey ?? path.join(settings.directory, AUDIT_KEY_FILE);
  const exists = await fsp.stat(auditKey).then(
    () => true,
    () => false,
  );
  if (!exists) {
    await fsp.mkdir(path.dirname(auditKey), { recursive: true, mode: 0o700 });
    if (await writeExclusive(auditKey, await generateCheckpointKeyPem())) made.push(`audit checkpoint key ${path.basename(auditKey)}`);
  }
  return made;
}

// One source per configuration object, so the auth service and the audit checkpoints of one
// gateway share it (and its parsed-key cache).
const sources = new WeakMap<object, KeySource>();

/**
 * The key source the configuration names (today only files), or undefined when it names none: the
 * gateway then refuses to start (docs/auth.md §9), naming `keys.directory`.
 */
export function keySourceOf(config: GatewayConfig, log: Logger): KeySource | undefined {
  if (!config.keys) return undefined;
  let source = sources.get(config);
  if (!source) {
    source = createFileKeySource(config.keys, log);
    sources.set(config, source);
  }
  return source;
}
