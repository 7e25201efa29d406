import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { createFileKeySource, initKeyDirectory, type KeySettings } from '../../../../gateway/auth/key-source';
import { ConfigError } from '../../../../gateway/config';
import { silentLogger } from '../../../../gateway/logger';
import { checkpointKeyPem, tokenKeyJwk, writePrivateFile } from '../../../support/trust';

/**
 * The file key source (gateway/auth/key-source.ts; docs/auth.md §9) on real files: what it makes,
 * which key signs, and what it refuses — a missing file, a loose mode, a key of the wrong kind —
 * always naming the setting.
 */

const settings = (directory: string, over: Partial<KeySettings> = {}): KeySettings => ({ directory, auditVerifyKeys: [], loosePermissions: 'refuse', ...over });

async function configError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.join('\n');
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('the file key source', () => {
  let dir: string;
  beforeEach(() => {
    dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'xzq-keysrc-')), 'keys');
  });
  afterEach(() => rmSync(path.dirname(dir), { recursive: true, force: true }));

  const mode = (f: string) => statSync(f).mode & 0o777;

  it('init makes the folder (0700), a token key and the checkpoint key (0600), and never overwrites them', async () => {
    const made = await initKeyDirectory({ directory: dir });
    expect(made).toEqual([expect.stringMatching(/^token key gw-\d{8}T\d{6}Z-[0-9a-f]{6}$/), 'audit checkpoint key audit-checkpoint.private.pem']);
    expect(mode(dir)).toBe(0o700);
    const files = readdirSync(dir).sort();
    expect(files).toEqual(['audit-checkpoint.private.pem', expect.stringMatching(/\.private\.jwk\.json$/)]);
    for (const f of files) expect(mode(path.join(dir, f))).toBe(0o600);
    expect(await initKeyDirectory({ directory: dir })).toEqual([]);
    const source = createFileKeySource(settings(dir), silentLogger());
    const [key] = await source.tokenKeys();
    expect(key!.key).toMatchObject({ alg: 'RS384', kid: files[1]!.replace('.private.jwk.json', '') });
    expect((await source.checkpointSigner()).publicKey.asymmetricKeyType).toBe('ed25519');
  });

  it('the newest key signs (by its created time), the others are listed for verification', async () => {
    await initKeyDirectory({ directory: dir });
    const source = createFileKeySource(settings(dir), silentLogger());
    writePrivateFile(path.join(dir, 'gw-old.private.jwk.json'), JSON.stringify(tokenKeyJwk('gw-old', '2001-01-01T00:00:00.000Z')));
    writePrivateFile(path.join(dir, 'gw-new.private.jwk.json'), JSON.stringify(tokenKeyJwk('gw-new', '2999-01-01T00:00:00.000Z')));
    const keys = await source.tokenKeys();
    expect(keys.map((k) => k.key.kid)[0]).toBe('gw-new');
    expect(keys.map((k) => k.key.kid).at(-1)).toBe('gw-old');
    expect(keys).toHaveLength(3);
  });

  it('addTokenKey writes 0600 once; the same key again is "present", another key under that kid is refused', async () => {
    await initKeyDirectory({ directory: dir });
    const source = createFileKeySource(settings(dir), silentLogger());
    const jwk = tokenKeyJwk('gw-moved');
    expect(await source.addTokenKey(jwk, '2020-01-01T00:00:00.000Z')).toBe('added');
    expect(mode(path.join(dir, 'gw-moved.private.jwk.json'))).toBe(0o600);
    expect(await source.addTokenKey(jwk, '2020-01-01T00:00:00.000Z')).toBe('present');
    expect(await configError(source.addTokenKey(tokenKeyJwk('gw-moved'), '2020-01-01T00:00:00.000Z'))).toMatch(/keys.directory: .* holds another key under kid gw-moved/);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(await source.removeTokenKey('gw-moved')).toBe(true);
    expect(await source.removeTokenKey('gw-moved')).toBe(false);
  });

  it.each<[string, (dir: string) => void, RegExp]>([
    ['a missing folder', (d) => rmSync(d, { recursive: true }), /^keys\.directory: .* cannot be read \(ENOENT\)/],
    ['a folder without token keys', (d) => rmSync(path.join(d, readdirSync(d).find((f) => f.endsWith('.jwk.json'))!)), /^keys\.directory: no access-token signing key/],
    ['a token key readable by others', (d) => chmodSync(path.join(d, readdirSync(d).find((f) => f.endsWith('.jwk.json'))!), 0o644), /^keys\.directory: .* is accessible to group or others \(mode 0644\): chmod 600 it/],
    ['a folder others may write to', (d) => chmodSync(d, 0o777), /^keys\.directory: .* is writable by group or others \(mode 0777\)/],
    ['a file that is not JSON', (d) => writePrivateFile(path.join(d, 'gw-x.private.jwk.json'), '{'), /^keys\.directory: .*gw-x\.private\.jwk\.json is not a JSON private JWK/],
    ['a kid that is not the file name', (d) => writePrivateFile(path.join(d, 'gw-y.private.jwk.json'), JSON.stringify(tokenKeyJwk('other'))), /its kid must be its file name \(gw-y\)/],
    ['a public key only', (d) => writePrivateFile(path.join(d, 'gw-z.private.jwk.json'), JSON.stringify({ ...generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }), kid: 'gw-z' })), /^keys\.directory: .*gw-z/],
    ['a weak key', (d) => writePrivateFile(path.join(d, 'gw-w.private.jwk.json'), JSON.stringify({ ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid: 'gw-w' })), /^keys\.directory: .*gw-w.*alg must be/],
  ])('token keys: refuses %s, naming keys.directory', async (_name, spoil, message) => {
    await initKeyDirectory({ directory: dir });
    spoil(dir);
    expect(await configError(createFileKeySource(settings(dir), silentLogger()).tokenKeys())).toMatch(message);
  });

  it.each<[string, (file: string) => void, RegExp]>([
    ['missing', (f) => rmSync(f), /^keys\.auditKey: .* cannot be read \(ENOENT\)/],
    ['readable by others', (f) => chmodSync(f, 0o640), /^keys\.auditKey: .* \(mode 0640\): chmod 600 it/],
    ['not a key', (f) => writePrivateFile(f, 'hello'), /^keys\.auditKey: .* is not a PEM private key/],
    ['an RSA key', (f) => writeFileSync(f, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' })), /^keys\.auditKey: .* must be an Ed25519 key/],
  ])('the checkpoint key: refuses one %s, naming keys.auditKey', async (_name, spoil, message) => {
    await initKeyDirectory({ directory: dir });
    spoil(path.join(dir, 'audit-checkpoint.private.pem'));
    expect(await configError(createFileKeySource(settings(dir), silentLogger()).checkpointSigner())).toMatch(message);
  });

  it('with loosePermissions "warn" a loose key file is used and logged once (without key material)', async () => {
    await initKeyDirectory({ directory: dir });
    const file = path.join(dir, readdirSync(dir).find((f) => f.endsWith('.jwk.json'))!);
    chmodSync(file, 0o644);
    chmodSync(path.join(dir, 'audit-checkpoint.private.pem'), 0o644);
    const warnings: unknown[][] = [];
    const log = { warn: (...a: unknown[]) => warnings.push(a), info: () => undefined, error: () => undefined } as unknown as Logger;
    const source = createFileKeySource(settings(dir, { loosePermissions: 'warn' }), log);
    await source.tokenKeys();
    await source.tokenKeys();
    await source.checkpointSigner();
    expect(warnings).toHaveLength(2);
    expect(warnings[0]![0]).toMatchObject({ setting: 'keys.directory', file, problem: expect.stringContaining('mode 0644') });
    const text = JSON.stringify(warnings);
    expect(text).not.toMatch(/PRIVATE KEY|"d":/);
  });

  it('earlier checkpoint keys verify (keys.auditVerifyKeys); a public key file of the wrong kind is refused', async () => {
    await initKeyDirectory({ directory: dir });
    const old = path.join(dir, 'audit-2025.public.pem');
    const { publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(old, publicKey.export({ format: 'pem', type: 'spki' }));
    const verifiers = await createFileKeySource(settings(dir, { auditVerifyKeys: [old] }), silentLogger()).checkpointVerifiers();
    expect(verifiers.size).toBe(2);
    writeFileSync(old, generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'pem', type: 'spki' }));
    expect(await configError(createFileKeySource(settings(dir, { auditVerifyKeys: [old] }), silentLogger()).checkpointVerifiers())).toMatch(/^keys\.auditVerifyKeys\[0\]: .* must be an Ed25519 public key/);
    expect(checkpointKeyPem()).toMatch(/BEGIN PRIVATE KEY/);
  });
});
