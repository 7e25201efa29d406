/**
 * Child process of test/integration/gateway/audit/audit-crash.test.ts, spawned by its path:
 * appends audit events for requests under load (many concurrent callers) and prints each request
 * id on stdout only after recordRequest resolved, i.e. after the commit that holds it. The parent
 * SIGKILLs it mid-load.
 *
 *   node --import tsx test/support/audit-crash-child.ts <DATABASE_URL>
 */
import { createAuditService } from '../../gateway/audit/audit-service';
import { databaseFromUrl } from '../../gateway/config';
import { createDb } from '../../gateway/storage/db';
import { auditTestDeps, searchEntry } from './audit-fixtures';

async function main(): Promise<void> {
  const url = process.argv[2];
  if (!url) throw new Error('usage: audit-crash-child.ts DATABASE_URL');
  const db = createDb(databaseFromUrl(url) as { client: string });
  const audit = createAuditService(auditTestDeps(db));
  let n = 0;
  const worker = async (w: number) => {
    for (;;) {
      const id = `crash-${process.pid}-${w}-${n++}`;
      await audit.recordRequest(searchEntry([`p${n % 11}`], ['xm-zsh'], { requestId: id, at: new Date() }));
      process.stdout.write(`${id}\n`);
    }
  };
  await Promise.all(Array.from({ length: 64 }, (_, w) => worker(w)));
}

main().catch((e) => {
  process.stderr.write(`audit-crash-child: ${(e as Error).message}\n`);
  process.exit(1);
});
