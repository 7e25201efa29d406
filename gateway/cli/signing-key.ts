import { loadConfigFile } from '../config';
import { migrate } from '../migrations';
import { createDb } from '../storage/db';
import { addSigningKey, retireSigningKey, type SigningKeyRow } from '../auth/signing-keys';

/**
 * Operator tool for the gateway's token-signing keys in the shared database (docs/auth.md,
 * "Rotating the gateway's signing key"):
 *
 *   npx tsx gateway/cli/signing-key.ts --config FILE list
 *   npx tsx gateway/cli/signing-key.ts --config FILE add
 *   npx tsx gateway/cli/signing-key.ts --config FILE retire KID
 *
 * `DATABASE_URL` overrides the file's database, as for the gateway. Prints no key material.
 */
export async function runSigningKeyCli(argv: readonly string[], env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<number> {
  const i = argv.indexOf('--config');
  const file = i >= 0 ? argv[i + 1] : undefined;
  const rest = argv.filter((_, j) => j !== i && j !== i + 1);
  const [command, kid] = rest;
  if (!file || !command || !['list', 'add', 'retire'].includes(command) || (command === 'retire' && !kid)) {
    out('usage: signing-key --config FILE list | add | retire KID');
    return 1;
  }
  const config = loadConfigFile(file, env);
  const db = createDb(config.database as { client: string });
  try {
    await migrate(db);
    if (command === 'add') {
      out(`added ${await addSigningKey(db, new Date())}; instances sign with it within a minute`);
    } else if (command === 'retire') {
      const ok = await retireSigningKey(db, kid!, new Date());
      out(ok ? `retired ${kid}; tokens it signed are refused within a minute` : `no active key ${kid}`);
      if (!ok) return 1;
    } else {
      const rows = await db<SigningKeyRow>('signing_keys').select('kid', 'alg', 'created_at', 'retired_at', 'private_jwk').orderBy('created_at');
      for (const r of rows) {
        out(`${r.kid}\t${r.alg}\tcreated ${r.created_at}\t${r.retired_at ? `retired ${r.retired_at}` : 'active'}\t${r.private_jwk ? 'signs' : 'verify-only (configured key)'}`);
      }
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
