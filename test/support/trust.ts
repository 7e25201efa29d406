import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The key source and checkpoint anchor every test gateway gets without asking (issue #20): the
 * harnesses (gateway-harness, demo-network, auth-service-fixture) merge {@link trustConfig} (or
 * {@link testKeys}) into the configurations they build. One key folder per test process, since
 * RSA key generation is slow; one anchor file per test database, so a gateway restarted on the
 * same database (or a second instance on it) finds the checkpoints it anchored before. Written
 * with plain node:crypto and fs, not the gateway's own key code, and removed when the process ends.
 */

let root: string | undefined;
let keys: { directory: string; auditKey: string; tokenKid: string } | undefined;
const anchors = new Map<string, string>();

function tempRoot(): string {
  if (!root) {
    root = mkdtempSync(path.join(os.tmpdir(), 'xzq-trust-'));
    const dir = root;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return root;
}

/** Write a private key file as an operator would: mode 0600. */
export function writePrivateFile(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
}

/** A fresh RS384 token key as the key folder holds it. */
export function tokenKeyJwk(kid: string, created = new Date().toISOString()): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS384', use: 'sig', created };
}

/** A fresh Ed25519 checkpoint key, PKCS#8 PEM. */
export function checkpointKeyPem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

let sharedCheckpointKey: string | undefined;
let sharedTokenKey: Record<string, unknown> | undefined;

/**
 * A new key folder (0700) in a temp dir removed at exit: one token key (`jwk`, else the process's
 * shared one under `kid`) and the checkpoint key — the process's shared one unless `ownCheckpointKey`,
 * since instances that share a database must share the checkpoint key (it attests their token keys).
 */
export function makeKeyFolder(opts: { kid?: string; jwk?: Record<string, unknown>; ownCheckpointKey?: boolean } = {}): {
  directory: string;
  auditKey: string;
  tokenKid: string;
} {
  const directory = mkdtempSync(path.join(tempRoot(), 'keys-'));
  sharedTokenKey ??= tokenKeyJwk('test-0001', '2020-01-01T00:00:00.000Z');
  const jwk = opts.jwk ?? { ...sharedTokenKey, kid: opts.kid ?? 'test-0001' };
  const tokenKid = String(jwk.kid);
  writePrivateFile(path.join(directory, `${tokenKid}.private.jwk.json`), JSON.stringify(jwk));
  const auditKey = path.join(directory, 'audit-checkpoint.private.pem');
  sharedCheckpointKey ??= checkpointKeyPem();
  writePrivateFile(auditKey, opts.ownCheckpointKey ? checkpointKeyPem() : sharedCheckpointKey);
  return { directory, auditKey, tokenKid };
}

/** The process's shared key folder. */
export function testKeys(): { directory: string; auditKey: string; tokenKid: string } {
  keys ??= makeKeyFolder();
  return keys;
}

/** A path for a new anchor file (in an existing folder; the file itself does not exist yet). */
export function newAnchorPath(): string {
  const dir = mkdtempSync(path.join(tempRoot(), 'anchor-'));
  return path.join(dir, 'audit-checkpoints.jsonl');
}

/** The anchor file of one test database (by its URL), made on first use. */
export function anchorFor(databaseUrl: string): string {
  let p = anchors.get(databaseUrl);
  if (!p) {
    p = newAnchorPath();
    anchors.set(databaseUrl, p);
  }
  return p;
}

/**
 * The configuration's `keys` and `audit.checkpoints` for a test gateway; `base` (the raw
 * configuration's own `audit`) keeps its other settings. `databaseUrl` picks the anchor.
 */
export function trustConfig(databaseUrl: string, base: { audit?: Record<string, unknown> } = {}): { keys: Record<string, unknown>; audit: Record<string, unknown> } {
  const k = testKeys();
  return {
    keys: { directory: k.directory },
    audit: { ...(base.audit ?? {}), checkpoints: { anchor: { type: 'file', path: anchorFor(databaseUrl) } } },
  };
}

