/**
 * The operator's archiving tool for the audit trail (docs/audit.md §Retention). Not part of the API.
 *
 *   npx tsx gateway/cli/audit-archive.ts --config FILE head
 *   npx tsx gateway/cli/audit-archive.ts --config FILE export --from 1 --to 250000 --out audit-000001-250000.ndjson
 *   npx tsx gateway/cli/audit-archive.ts verify audit-000001-250000.ndjson
 *   npx tsx gateway/cli/audit-archive.ts --config FILE purge audit-000001-250000.ndjson
 *
 * DATABASE_URL overrides the configuration's database, as for the gateway.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { loadConfigFile } from '../config';
import { createDb } from '../storage/db';
import { chainHead } from '../audit/audit-store';
import { exportAuditRange, purgeArchivedEvents, verifyAuditArchive } from '../audit/archive';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<number> {
  const command = process.argv.slice(2).find((a, i, all) => !a.startsWith('--') && !(i > 0 && all[i - 1].startsWith('--')));
  if (command === 'verify') {
    const file = process.argv[process.argv.indexOf('verify') + 1];
    const r = verifyAuditArchive(readFileSync(file, 'utf8').split('\n'));
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return r.valid ? 0 : 2;
  }
  const configFile = arg('--config');
  if (!configFile || !command) {
    process.stderr.write('usage: audit-archive.ts --config FILE head|export --from N --to M --out FILE|purge FILE; audit-archive.ts verify FILE\n');
    return 64;
  }
  const config = loadConfigFile(configFile);
  const db = createDb(config.database as { client: string });
  try {
    if (command === 'head') {
      process.stdout.write(`${JSON.stringify(await chainHead(db))}\n`);
      return 0;
    }
    if (command === 'export') {
      const out = createWriteStream(arg('--out') ?? '/dev/stdout');
      const header = await exportAuditRange(db, { fromSeq: Number(arg('--from')), toSeq: Number(arg('--to')) }, (line) =>
        new Promise<void>((resolve, reject) => out.write(`${line}\n`, (e) => (e ? reject(e) : resolve()))),
      );
      await new Promise<void>((resolve) => out.end(resolve));
      process.stderr.write(`${JSON.stringify(header)}\n`);
      return 0;
    }
    if (command === 'purge') {
      const file = process.argv[process.argv.indexOf('purge') + 1];
      const r = verifyAuditArchive(readFileSync(file, 'utf8').split('\n'));
      if (!r.valid || !r.header) {
        process.stderr.write(`archive does not verify: ${r.problem}\n`);
        return 2;
      }
      const removed = await purgeArchivedEvents(db, r.header, { retentionDays: config.audit.retentionDays });
      process.stdout.write(`${JSON.stringify({ removed, baseSeq: r.header.toSeq, baseHash: r.header.lastHash })}\n`);
      return 0;
    }
    process.stderr.write(`unknown command ${command}\n`);
    return 64;
  } finally {
    await db.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(1);
  },
);
