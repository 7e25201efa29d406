import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { importPrivateJwk, publicJwkOf } from '../../../../gateway/auth/jws';
import { runSigningKeyCli } from '../../../../gateway/cli/signing-key';
import { migrate } from '../../../../gateway/migrations';
import { createDb } from '../../../../gateway/storage/db';
import { HOSPITALS } from '../../../support/auth-service-fixture';
import { tokenKeyJwk } from '../../../support/trust';

/** The operator's key tool (docs/auth.md §9) on a real SQLite file and a real key folder. */
describe('signing-key CLI', () => {
  let dir: string;
  let keys: string;
  let configFile: string;
  const dbFile = () => path.join(dir, 'gw.sqlite');
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'xzq-keys-'));
    keys = path.join(dir, 'keys');
    configFile = path.join(dir, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        publicBaseUrl: 'http://127.0.0.1:8080',
        hospitals: HOSPITALS,
        database: { client: 'sqlite3', connection: { filename: dbFile() } },
        keys: { directory: 'keys' },
        audit: { checkpoints: { anchor: { type: 'file', path: 'anchor.jsonl' } } },
      }),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = async (...argv: string[]) => {
    const lines: string[] = [];
    const code = await runSigningKeyCli(['--config', configFile, ...argv], {}, (l) => lines.push(l));
    return { code, lines };
  };
  const secrets = () =>
    readdirSync(keys)
      .filter((f) => f.endsWith('.jwk.json'))
      .map((f) => String(JSON.parse(readFileSync(path.join(keys, f), 'utf8')).d));

  it('init makes the key folder once; add, list and retire work on files and print no key material', async () => {
    const init = await run('init');
    expect(init).toMatchObject({ code: 0, lines: [expect.stringMatching(/^made token key gw-\S+, audit checkpoint key audit-checkpoint\.private\.pem in /)] });
    expect((await run('init')).lines[0]).toMatch(/already holds/);
    const first = readdirSync(keys).find((f) => f.endsWith('.jwk.json'))!.replace('.private.jwk.json', '');
    const added = await run('add');
    expect(added.code).toBe(0);
    const kid = /added (\S+);/.exec(added.lines[0]!)![1]!;
    expect(statSync(path.join(keys, `${kid}.private.jwk.json`)).mode & 0o777).toBe(0o600);
    const listed = await run('list');
    expect(listed.lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^${kid}\\tRS384\\tcreated .*\\tactive\\tsigns\\tkey folder$`)),
        expect.stringMatching(new RegExp(`^${first}\\tRS384\\tcreated .*\\tactive\\tverifies\\tkey folder`)),
      ]),
    );
    // the key that signs cannot be retired; the older one can, and its file is destroyed
    expect((await run('retire', kid)).code).toBe(1);
    expect((await run('retire', first)).code).toBe(0);
    expect(existsSync(path.join(keys, `${first}.private.jwk.json`))).toBe(false);
    expect((await run('list')).lines.find((l) => l.startsWith(first))).toMatch(/\tretired .*\tunused\tdestroyed$/);
    expect((await run('retire', 'no-such-kid')).code).toBe(1);
    const printed = [init, added, listed].flatMap((r) => r.lines).join('\n');
    for (const s of secrets()) expect(printed).not.toContain(s);
  });

  it('move-out writes a private key left in the database into the folder and wipes it there', async () => {
    const jwk = tokenKeyJwk('gw-0001');
    const key = importPrivateJwk(jwk);
    const db = createDb({ client: 'sqlite3', connection: { filename: dbFile() } });
    try {
      await migrate(db);
      await db('signing_keys').insert({ kid: 'gw-0001', alg: 'RS384', private_jwk: JSON.stringify(jwk), public_jwk: JSON.stringify(publicJwkOf(key.key, key)), created_at: '2025-01-01T00:00:00.000Z' });
    } finally {
      await db.destroy();
    }
    expect((await run('list')).lines.find((l) => l.startsWith('gw-0001'))).toMatch(/PRIVATE KEY IN THE DATABASE \(run move-out\)$/);
    expect(await run('move-out')).toEqual({ code: 0, lines: [expect.stringMatching(/^moved 1 key\(s\) into .* wiped 1 from the database; rotate them$/)] });
    expect(JSON.parse(readFileSync(path.join(keys, 'gw-0001.private.jwk.json'), 'utf8')).d).toBe(jwk.d);
    expect(await run('move-out')).toEqual({ code: 0, lines: ['no private key in the database'] });
  });

  it.each([[[]], [['frobnicate']], [['retire']]])('usage error for %j', async (argv) => {
    expect((await run(...argv)).code).toBe(1);
  });
});
