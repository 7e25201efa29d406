import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runSigningKeyCli } from '../../../../gateway/cli/signing-key';
import { createDb } from '../../../../gateway/storage/db';
import { HOSPITALS } from '../../../support/auth-service-fixture';

/** The operator's key rotation tool on a real SQLite file. */
describe('signing-key CLI', () => {
  let dir: string;
  let configFile: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'xzq-keys-'));
    configFile = path.join(dir, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({ publicBaseUrl: 'http://127.0.0.1:8080', hospitals: HOSPITALS, database: { client: 'sqlite3', connection: { filename: path.join(dir, 'gw.sqlite') } } }),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = async (...argv: string[]) => {
    const lines: string[] = [];
    const code = await runSigningKeyCli(['--config', configFile, ...argv], {}, (l) => lines.push(l));
    return { code, lines };
  };

  it('adds, lists and retires keys without printing key material', async () => {
    const added = await run('add');
    expect(added.code).toBe(0);
    const kid = /added (\S+);/.exec(added.lines[0]!)![1]!;
    const listed = await run('list');
    expect(listed.lines).toEqual([expect.stringMatching(new RegExp(`^${kid}\\tRS384\\tcreated .*\\tactive\\tsigns$`))]);
    expect((await run('retire', kid)).code).toBe(0);
    expect((await run('list')).lines[0]).toContain('retired');
    expect((await run('retire', kid)).code).toBe(1);
    const db = createDb({ client: 'sqlite3', connection: { filename: path.join(dir, 'gw.sqlite') } });
    try {
      const row = await db('signing_keys').where({ kid }).first();
      expect(JSON.parse(row.private_jwk)).toHaveProperty('d'); // kept in the store, never printed
      expect(listed.lines.join('\n')).not.toContain(JSON.parse(row.private_jwk).d);
    } finally {
      await db.destroy();
    }
  });

  it.each([[[]], [['frobnicate']], [['retire']]])('usage error for %j', async (argv) => {
    expect((await run(...argv)).code).toBe(1);
  });
});
