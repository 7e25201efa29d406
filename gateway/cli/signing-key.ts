import { loadConfigFile } from '../config';
import { initKeyDirectory, keySourceOf } from '../auth/key-source';
import { createLogger } from '../logger';
import { migrate } from '../migrations';
import { createDb } from '../storage/db';
import { addSigningKey, moveKeysOutOfDatabase, retireSigningKey, verificationKeys, type SigningKeyRow } from '../auth/signing-keys';

/**
 * Operator tool for the gateway's keys (docs/auth.md §9). The private keys live in the key folder
 * (`keys.directory`), never in the database; the database holds the attested public halves.
 *
 *   npx tsx gateway/cli/signing-key.ts --config FILE init        # the key folder, a first token key and the audit checkpoint key
 *   npx tsx gateway/cli/signing-key.ts --config FILE list
 *   npx tsx gateway/cli/signing-key.ts --config FILE add         # a new token key: signs from every instance's next read
 *   npx tsx gateway/cli/signing-key.ts --config FILE retire KID  # no longer signs or verifies; its file is deleted
 *   npx tsx gateway/cli/signing-key.ts --config FILE move-out    # what the gateway does at start-up: private keys out of the database
 *
 * `DATABASE_URL` overrides the file's database, as for the gateway. Prints no key material.
 */
export async function runSigningKeyCli(argv: readonly string[], env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<number> {
  const i = argv.indexOf('--config');
  const file = i >= 0 ? argv[i + 1] : undefined;
  const rest = argv.filter((_, j) => j !== i && j !== i + 1);
  const [command, kid] = rest;
  if (!file || !command || !['init', 'list', 'add', 'retire', 'move-out'].includes(command) || (command === 'retire' && !kid)) {
    out('usage: signing-key --config FILE init | list | add | retire KID | move-out');
    return 1;
  }
  const config = loadConfigFile(file, env);
  // the move-out's warning goes to stderr; stdout is for the command's own lines
  const log = createLogger({ level: 'warn', destination: process.stderr });
  if (!config.keys) {
    out('keys.directory is not set in the configuration: the gateway reads its private keys from that folder');
    return 1;
  }
  if (command === 'init') {
    const made = await initKeyDirectory(config.keys);
    out(made.length ? `made ${made.join(', ')} in ${config.keys.directory}` : `${config.keys.directory} already holds a token key and the audit checkpoint key`);
    return 0;
  }
  const source = keySourceOf(config, log)!;
  const db = createDb(config.database as { client: string });
  try {
    await migrate(db);
    if (command === 'add') {
      out(`added ${await addSigningKey(db, source, new Date())}; instances sign with it within a minute`);
    } else if (command === 'retire') {
      let ok: boolean;
      try {
        ok = await retireSigningKey(db, source, kid!, new Date());
      } catch (e) {
        out((e as Error).message);
        return 1;
      }
      out(ok ? `retired ${kid}; tokens it signed are refused within a minute` : `no active key ${kid}`);
      if (!ok) return 1;
    } else if (command === 'move-out') {
      const { moved, wiped } = await moveKeysOutOfDatabase(db, source, log);
      out(wiped.length ? `moved ${moved.length} key(s) into ${config.keys.directory}, wiped ${wiped.length} from the database; rotate them` : 'no private key in the database');
    } else {
      const { own, retired, verify } = await verificationKeys(db, source);
      const rows = await db<SigningKeyRow>('signing_keys').select('kid', 'alg', 'created_at', 'retired_at', 'private_jwk').orderBy('created_at');
      const signing = own.find((k) => !retired.has(k.key.kid))?.key.kid;
      const inFolder = new Map(own.map((k) => [k.key.kid, k]));
      const listed = new Set<string>();
      for (const r of rows) {
        listed.add(r.kid);
        const where = inFolder.has(r.kid) ? 'key folder' : r.retired_at ? 'destroyed' : verify.has(r.kid) ? 'published by another instance' : 'not trusted (no valid attestation)';
        const state = r.retired_at ? `retired ${r.retired_at}` : 'active';
        const use = r.retired_at ? 'unused' : r.kid === signing ? 'signs' : verify.has(r.kid) ? 'verifies' : 'unused';
        out(`${r.kid}\t${r.alg}\tcreated ${r.created_at}\t${state}\t${use}\t${where}${r.private_jwk ? '\tPRIVATE KEY IN THE DATABASE (run move-out)' : ''}`);
      }
      for (const k of own) if (!listed.has(k.key.kid)) out(`${k.key.kid}\t${k.key.alg}\tcreated ${k.created}\tactive\t${k.key.kid === signing ? 'signs' : 'verifies'}\tkey folder (not yet published)`);
    }
    return 0;
  } finally {
    await db.destroy();
  }
}

if (require.main === module) {
  runSigningKeyCli(process.argv.slice(2), process.env, (l) => process.stdout.write(`${l}\n`)).then(
    (code) => (process.exitCode = code),
    (e: Error) => {
      process.stderr.write(`signing-key: ${e.message}\n`);
      process.exitCode = 1;
    },
  );
}
