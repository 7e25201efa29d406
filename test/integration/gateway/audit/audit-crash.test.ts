import { spawn } from 'node:child_process';
import path from 'node:path';
import { createAuditService } from '../../../../gateway/audit/audit-service';
import { verifyChain } from '../../../../gateway/audit/audit-store';
import { testDatabases, type TestDb } from '../../../support/databases';
import { auditTestDeps, searchEntry } from '../../../support/audit-fixtures';

/**
 * Durability under a crash (API.md §7: no response before its record is stored): a child process
 * appends under load and acknowledges each request id only after recordRequest resolved; it is
 * killed with SIGKILL mid-load. Every acknowledged id must be in the store and the chain must verify.
 */

const CHILD = path.join(__dirname, '..', '..', '..', 'support', 'audit-crash-child.ts');

function runAndKill(url: string, killAfterAcks: number): Promise<{ acked: string[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, url], { cwd: path.join(__dirname, '../../../..'), stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: string[] = [];
    let buf = '';
    let stderr = '';
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      const lines = buf.split('\n');
      buf = lines.pop()!;
      acked.push(...lines.filter(Boolean));
      if (!killed && acked.length >= killAfterAcks) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited on its own: ${stderr}`));
      else resolve({ acked, stderr });
    });
  });
}

describe.each(testDatabases())('audit durability across a crash on %s', (_name, open) => {
  let t: TestDb;
  beforeEach(async () => {
    t = await open();
  });
  afterEach(async () => {
    await t.close();
  });

  test('SIGKILL mid-load: every acknowledged event is stored, the chain verifies and goes on', async () => {
    const { acked } = await runAndKill(t.url, 3000);
    expect(acked.length).toBeGreaterThanOrEqual(3000);
    const stored = new Set<string>();
    for (let i = 0; i < acked.length; i += 500) {
      const rows = await t.db('audit_events').whereIn('request_id', acked.slice(i, i + 500)).select('request_id');
      for (const r of rows) stored.add(r.request_id);
    }
    expect(acked.filter((id) => !stored.has(id))).toEqual([]);
    const total = Number((await t.db('audit_events').count({ n: '*' }).first())!.n);
    expect(total).toBeGreaterThanOrEqual(acked.length);

    const v = await verifyChain(t.db);
    expect(v).toMatchObject({ valid: true, checked: total });

    // the next instance appends onto the same chain
    const audit = createAuditService(auditTestDeps(t.db));
    await audit.recordRequest(searchEntry(['p1'], [], { requestId: 'after-crash' }));
    await audit.close();
    expect(await verifyChain(t.db)).toMatchObject({ valid: true, checked: total + 1 });
  }, 90_000);
});
