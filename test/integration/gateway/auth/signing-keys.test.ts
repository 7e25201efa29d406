import { createPrivateKey, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { accessTokenClaims, signAccessToken } from '../../../../gateway/auth/access-token';
import { importPrivateJwk, publicJwkOf } from '../../../../gateway/auth/jws';
import { keySourceOf } from '../../../../gateway/auth/key-source';
import { addSigningKey, retireSigningKey } from '../../../../gateway/auth/signing-keys';
import { silentLogger } from '../../../../gateway/logger';
import { createDb } from '../../../../gateway/storage/db';
import { isSqlite } from '../../../../gateway/storage/migration';
import { makeTestClient, requestToken } from '../../../support/auth';
import { testDatabases, type TestDb } from '../../../support/databases';
import { startGateway, TEST_BASE_URL, type StartedGateway } from '../../../support/gateway-harness';
import { makeKeyFolder, newAnchorPath, tokenKeyJwk, trustConfig } from '../../../support/trust';

/**
 * The gateway's token-signing keys live outside the database (issue #20, docs/auth.md §9), through
 * the real gateway over HTTP: two instances signing from one key source, rotation with overlap,
 * the JWKS endpoint, attested public keys only, the start-up that moves old private keys out of
 * the database (and refuses without a key folder), and a read of every table for private keys.
 */

const auditor = makeTestClient({ id: 'audit-office', roles: ['auditor'] });
const his = makeTestClient({ id: 'xm-offline-his', hospital: 'xm-offline', roles: ['clinician'] });
const kidOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid as string;

describe.each(testDatabases())('signing keys outside the database on %s', (_name, open) => {
  let t: TestDb;
  const opened: Array<{ close(): Promise<void> }> = [];
  beforeEach(async () => {
    t = await open();
  });
  afterEach(async () => {
    for (const g of opened.splice(0).reverse()) await g.close().catch(() => undefined);
    await t.close();
  });

  /** a gateway instance; `second` opens its own connection (another process on the same database) */
  async function instance(opts: { keyDirectory?: string; second?: boolean; anchorPath?: string } = {}): Promise<StartedGateway> {
    let db = t;
    if (opts.second) {
      const conn = createDb(t.config);
      opened.push({ close: () => conn.destroy() });
      db = { ...t, db: conn };
    }
    const trust = trustConfig(t.url);
    const g = await startGateway({
      db,
      clients: [auditor, his],
      extra: {
        keys: opts.keyDirectory ? { directory: opts.keyDirectory } : trust.keys,
        audit: opts.anchorPath ? { checkpoints: { anchor: { type: 'file', path: opts.anchorPath } } } : trust.audit,
      },
    });
    opened.push(g);
    return g;
  }
  const organizations = (g: StartedGateway, token: string) => request(g.app).get('/Organization').set('Authorization', `Bearer ${token}`);
  const jwks = async (g: StartedGateway) => {
    const res = await request(g.app).get('/.well-known/jwks.json').expect(200);
    return res.body.keys as Array<Record<string, unknown>>;
  };

  test('two instances sign from one key source and accept each other’s tokens', async () => {
    const keyDirectory = makeKeyFolder().directory;
    const a = await instance({ keyDirectory });
    const b = await instance({ keyDirectory, second: true, anchorPath: newAnchorPath() });
    const fromA = await requestToken(a.app, his);
    const fromB = await requestToken(b.app, his);
    expect(kidOf(fromA)).toBe(kidOf(fromB));
    await organizations(b, fromA).expect(200);
    await organizations(a, fromB).expect(200);
    // the table holds the public half only, attested by the checkpoint key
    const rows = await t.db('signing_keys').select('*');
    expect(rows).toEqual([expect.objectContaining({ kid: kidOf(fromA), private_jwk: null, attestation: expect.stringMatching(/^[\w-]+\.[\w-]+$/) })]);
    expect(JSON.parse(rows[0].public_jwk)).not.toHaveProperty('d');
  });

  test('GET /.well-known/jwks.json: the public keys by kid, open, not audited, no private members', async () => {
    const g = await instance();
    const countEvents = async () => Number((await t.db('audit_events').count({ n: '*' }))[0]!.n);
    const before = await countEvents();
    const res = await request(g.app).get('/.well-known/jwks.json');
    expect(await countEvents()).toBe(before);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/jwk-set\+json/);
    expect(res.headers['cache-control']).toBe('public, max-age=60');
    const keys = res.body.keys as Array<Record<string, unknown>>;
    expect(keys).toEqual([expect.objectContaining({ kty: 'RSA', kid: 'test-0001', alg: 'RS384', use: 'sig', n: expect.any(String), e: 'AQAB' })]);
    for (const k of keys) for (const m of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(k).not.toHaveProperty(m);
    // a token verifies with what the JWKS publishes
    const token = await requestToken(g.app, his);
    const key = createPublicKey({ key: keys.find((k) => k.kid === kidOf(token)) as never, format: 'jwk' });
    const [h, p, s] = token.split('.') as [string, string, string];
    expect(verify('sha384', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'))).toBe(true);
  });

  test('rotation with overlap: new tokens signed by the new key, old ones valid until it is retired', async () => {
    const keyDirectory = makeKeyFolder().directory;
    const a = await instance({ keyDirectory });
    const source = keySourceOf(a.config, silentLogger())!;
    const oldToken = await requestToken(a.app, his);
    const oldKid = kidOf(oldToken);
    const newKid = await addSigningKey(t.db, source, new Date());
    // an instance started now signs with the new key; the running one at its next read (made now)
    const b = await instance({ keyDirectory, second: true, anchorPath: newAnchorPath() });
    const newToken = await requestToken(b.app, his);
    expect(kidOf(newToken)).toBe(newKid);
    await a.services.auth.init();
    expect(kidOf(await requestToken(a.app, his))).toBe(newKid);
    // overlap: both kinds of token are good on both instances, and the JWKS lists both keys
    for (const g of [a, b]) for (const tok of [oldToken, newToken]) await organizations(g, tok).expect(200);
    expect((await jwks(b)).map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());
    // the key new tokens are signed with cannot be retired
    await expect(retireSigningKey(t.db, source, newKid, new Date())).rejects.toThrow(/add a new key first/);
    // once the old tokens have expired the operator retires the old key: its file is gone, its tokens refused
    expect(await retireSigningKey(t.db, source, oldKid, new Date())).toBe(true);
    expect(existsSync(path.join(keyDirectory, `${oldKid}.private.jwk.json`))).toBe(false);
    await a.services.auth.init();
    await b.services.auth.init();
    const refused = await organizations(a, oldToken);
    expect(refused.status).toBe(401);
    await organizations(b, newToken).expect(200);
  });

  test('an instance whose folder does not hold a key yet verifies its tokens through the attested public key in the database', async () => {
    const a = await instance();
    const c = await instance({ keyDirectory: makeKeyFolder({ jwk: tokenKeyJwk('gw-only-c') }).directory, second: true, anchorPath: newAnchorPath() });
    const fromC = await requestToken(c.app, his);
    expect(kidOf(fromC)).toBe('gw-only-c');
    await organizations(a, fromC).expect(200); // unknown kid → a re-reads the table → attested → accepted
  });

  test('a public key written into the table behind the gateway’s back is not trusted: no attestation, no tokens', async () => {
    const g = await instance();
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const evil = { kid: 'evil', alg: 'RS384' as const, key: privateKey };
    for (const attestation of [null, 'bogus.c2lnbmF0dXJl']) {
      await t.db('signing_keys').where({ kid: 'evil' }).delete();
      await t.db('signing_keys').insert({ kid: 'evil', alg: 'RS384', private_jwk: null, public_jwk: JSON.stringify(publicJwkOf(privateKey, evil)), created_at: new Date().toISOString(), retired_at: null, attestation });
      const nowSeconds = Math.floor(Date.now() / 1000);
      const forged = signAccessToken(
        accessTokenClaims({ clientId: his.id, hospitalId: 'xm-offline', roles: ['clinician'], scopes: ['system/Organization.rs'], purposeOfUse: 'TREAT', user: { id: 'D1', roles: [] } }, { issuer: TEST_BASE_URL, nowSeconds, lifetimeSeconds: 300 }),
        evil,
      );
      expect((await organizations(g, forged)).status).toBe(401);
      await new Promise((r) => setTimeout(r, 1100)); // the unknown-kid re-read is rate-limited to once a second
      expect((await jwks(g)).map((k) => k.kid)).not.toContain('evil');
    }
  });

  test('start-up moves private keys left in the database into the key folder (0600) and wipes them; old tokens keep working', async () => {
    // a database as an earlier release left it: a key in use and a retired one, both with private halves
    const used = tokenKeyJwk('gw-0001');
    const retired = tokenKeyJwk('gw-0000');
    const row = (jwk: Record<string, unknown>, retiredAt: string | null) => {
      const key = importPrivateJwk(jwk);
      return { kid: key.kid, alg: 'RS384', private_jwk: JSON.stringify(jwk), public_jwk: JSON.stringify(publicJwkOf(key.key, key)), created_at: '2025-01-01T00:00:00.000Z', retired_at: retiredAt, attestation: null };
    };
    await t.db('signing_keys').insert([row(used, null), row(retired, '2025-06-01T00:00:00.000Z')]);
    const oldToken = signAccessToken(
      accessTokenClaims({ clientId: his.id, hospitalId: 'xm-offline', roles: ['clinician'], scopes: ['system/Organization.rs'], purposeOfUse: 'TREAT', user: { id: 'D1', roles: [] } }, { issuer: TEST_BASE_URL, nowSeconds: Math.floor(Date.now() / 1000), lifetimeSeconds: 300 }),
      importPrivateJwk(used),
    );
    const folder = makeKeyFolder();
    const g = await instance({ keyDirectory: folder.directory });
    const file = path.join(folder.directory, 'gw-0001.private.jwk.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ kid: 'gw-0001', d: used.d, created: '2025-01-01T00:00:00.000Z' });
    expect(existsSync(path.join(folder.directory, 'gw-0000.private.jwk.json'))).toBe(false); // a retired key is only wiped
    expect(Number((await t.db('signing_keys').whereNotNull('private_jwk').count({ n: '*' }))[0]!.n)).toBe(0);
    await organizations(g, oldToken).expect(200);
    // the moved key is the newest in the folder: it signs
    expect(kidOf(await requestToken(g.app, his))).toBe('gw-0001');
    await g.close();
    if (isSqlite(t.db)) {
      // secure_delete and the truncated WAL: the wiped bytes are not left in the file either
      const filename = (t.config.connection as { filename: string }).filename;
      for (const f of [filename, `${filename}-wal`]) if (existsSync(f)) expect(readFileSync(f).includes(String(used.d))).toBe(false);
    }
  });

  test('without a key folder the gateway refuses to start while private keys remain in the database, naming the setting', async () => {
    const jwk = tokenKeyJwk('gw-0001');
    const key = importPrivateJwk(jwk);
    await t.db('signing_keys').insert({ kid: 'gw-0001', alg: 'RS384', private_jwk: JSON.stringify(jwk), public_jwk: JSON.stringify(publicJwkOf(key.key, key)), created_at: '2025-01-01T00:00:00.000Z' });
    await expect(startGateway({ db: t, clients: [his], extra: { keys: undefined } })).rejects.toThrow(/keys\.directory: signing_keys still holds 1 private key/);
    expect(Number((await t.db('signing_keys').whereNotNull('private_jwk').count({ n: '*' }))[0]!.n)).toBe(1); // untouched
  });

  test.each<[string, (folder: ReturnType<typeof makeKeyFolder>) => Record<string, unknown>, RegExp]>([
    ['no key source at all', () => ({ keys: undefined }), /keys\.directory: required/],
    ['a key folder that does not exist', (f) => ({ keys: { directory: path.join(f.directory, 'nope') } }), /keys\.directory: .*nope cannot be read \(ENOENT\)/],
    ['a token key file readable by others', (f) => (chmodSync(path.join(f.directory, `${f.tokenKid}.private.jwk.json`), 0o644), { keys: { directory: f.directory } }), /keys\.directory: .*mode 0644/],
    ['a missing checkpoint key file', (f) => (rmSync(f.auditKey), { keys: { directory: f.directory } }), /keys\.auditKey: .* cannot be read \(ENOENT\)/],
    ['no checkpoint anchor', (f) => ({ keys: { directory: f.directory }, audit: {} }), /audit\.checkpoints\.anchor: required/],
  ])('refuses to start with %s, naming the setting', async (_name, spoil, message) => {
    const folder = makeKeyFolder();
    await expect(startGateway({ db: t, clients: [his], extra: spoil(folder) })).rejects.toThrow(message);
  });

  test('with loosePermissions "warn" a loose key file starts the gateway', async () => {
    const folder = makeKeyFolder();
    chmodSync(path.join(folder.directory, `${folder.tokenKid}.private.jwk.json`), 0o640);
    const g = await startGateway({ db: t, clients: [his], extra: { keys: { directory: folder.directory, loosePermissions: 'warn' } } });
    opened.push(g);
    await organizations(g, await requestToken(g.app, his)).expect(200);
  });

  test('no private key is left in any table of the database', async () => {
    // an earlier release's private key in the table, moved out at start-up
    const legacy = tokenKeyJwk('gw-legacy');
    const lk = importPrivateJwk(legacy);
    await t.db('signing_keys').insert({ kid: 'gw-legacy', alg: 'RS384', private_jwk: JSON.stringify(legacy), public_jwk: JSON.stringify(publicJwkOf(lk.key, lk)), created_at: '2025-01-01T00:00:00.000Z' });
    const folder = makeKeyFolder();
    const g = await instance({ keyDirectory: folder.directory });
    // use everything that writes: tokens, requests, audit, checkpoints, a rotation
    const token = await requestToken(g.app, auditor, { user: { id: 'A1', name: '审计员' } });
    await organizations(g, token).expect(200);
    await request(g.app).get('/AuditEvent/$verify').set('Authorization', `Bearer ${token}`).expect(200);
    await g.services.checkpoints.checkpoint('shutdown');
    await addSigningKey(t.db, keySourceOf(g.config, silentLogger())!, new Date());
    await g.services.auth.init();
    await g.close();

    const secrets: string[] = [String(legacy.d)];
    for (const f of readdirSync(folder.directory)) {
      const text = readFileSync(path.join(folder.directory, f), 'utf8');
      if (f.endsWith('.jwk.json')) secrets.push(String(JSON.parse(text).d));
      else secrets.push(createPrivateKey(text).export({ format: 'jwk' }).d!);
    }
    expect(secrets.length).toBeGreaterThanOrEqual(4); // legacy, the folder's first, the rotated one, the checkpoint key
    const tables: string[] = isSqlite(t.db)
      ? (await t.db.raw(`SELECT name FROM sqlite_master WHERE type = 'table'`)).map((r: { name: string }) => r.name)
      : (await t.db.raw(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`)).rows.map((r: { table_name: string }) => r.table_name);
    expect(tables).toEqual(expect.arrayContaining(['signing_keys', 'audit_events', 'audit_checkpoints', 'assertion_jtis']));
    for (const table of tables) {
      const text = JSON.stringify(await t.db(table).select('*'));
      for (const s of secrets) expect([table, text.includes(s)]).toEqual([table, false]);
      expect([table, /PRIVATE KEY/.test(text)]).toEqual([table, false]);
    }
  });
});
