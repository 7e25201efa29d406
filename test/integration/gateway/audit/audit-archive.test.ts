import { exportAuditRange, purgeArchivedEvents, verifyAuditArchive } from '../../../../gateway/audit/archive';
import { createAuditService } from '../../../../gateway/audit/audit-service';
import { verifyChain } from '../../../../gateway/audit/audit-store';
import { testDatabases, type TestDb } from '../../../support/databases';
import { auditTestDeps, searchEntry } from '../../../support/audit-fixtures';

/** Retention: export a seq range with its boundary hashes, check it, purge it; the rest still verifies. */
describe.each(testDatabases())('audit archiving on %s', (_name, open) => {
  let t: TestDb;
  const NOW = new Date('2029-01-01T00:00:00.000Z');
  beforeEach(async () => {
    t = await open();
    const audit = createAuditService(auditTestDeps(t.db));
    for (let i = 0; i < 30; i++) await audit.recordRequest(searchEntry([`p${i % 3}`], [], { at: new Date(Date.UTC(2024, 0, 1 + i)), requestId: `old-${i}` }));
    for (let i = 0; i < 5; i++) await audit.recordRequest(searchEntry(['p1'], [], { at: new Date('2028-12-01T00:00:00.000Z'), requestId: `new-${i}` }));
    await audit.close();
  });
  afterEach(async () => {
    await t.close();
  });

  const exportLines = async (fromSeq: number, toSeq: number) => {
    const lines: string[] = [];
    const header = await exportAuditRange(t.db, { fromSeq, toSeq }, (l) => void lines.push(l), NOW);
    return { lines, header };
  };

  test('export → verify → purge; the remaining chain verifies from the archived head', async () => {
    const { lines, header } = await exportLines(1, 20);
    expect(lines).toHaveLength(21);
    expect(header).toMatchObject({ fromSeq: 1, toSeq: 20, count: 20, prevHash: '0'.repeat(64) });
    expect(verifyAuditArchive(lines)).toMatchObject({ valid: true, checked: 20 });

    expect(await purgeArchivedEvents(t.db, header, { retentionDays: 1095, now: NOW })).toBe(20);
    expect(await verifyChain(t.db)).toMatchObject({ valid: true, checked: 15 });
    const first = await t.db('audit_events').orderBy('seq').first();
    expect(Number(first.seq)).toBe(21);
    expect(first.prev_hash).toBe(header.lastHash);

    // the next archive continues from the base
    const second = await exportLines(21, 30);
    expect(second.header.prevHash).toBe(header.lastHash);
    expect(verifyAuditArchive(second.lines)).toMatchObject({ valid: true });
    expect(await purgeArchivedEvents(t.db, second.header, { retentionDays: 1095, now: NOW })).toBe(10);
    expect(await verifyChain(t.db)).toMatchObject({ valid: true, checked: 5 });
  });

  test('an edited or truncated archive does not verify', async () => {
    const { lines } = await exportLines(1, 10);
    lines[5] = lines[5].replace('"outcome":0', '"outcome":4');
    expect(verifyAuditArchive(lines)).toMatchObject({ valid: false, problem: expect.stringMatching(/^edited at /) });
    const fresh = await exportLines(1, 10);
    expect(verifyAuditArchive(fresh.lines.slice(0, 8))).toMatchObject({ valid: false, problem: expect.stringMatching(/^deleted/) });
  });

  test('events younger than the retention period are not purged', async () => {
    const { header } = await exportLines(1, 33);
    await expect(purgeArchivedEvents(t.db, header, { retentionDays: 1095, now: NOW })).rejects.toThrow(/younger than 1095 days/);
    expect(await verifyChain(t.db)).toMatchObject({ valid: true, checked: 35 });
  });

  test('an archive that is not this database\'s chain, or does not start at the base, is refused', async () => {
    const { header } = await exportLines(1, 10);
    await expect(purgeArchivedEvents(t.db, { ...header, lastHash: 'f'.repeat(64) }, { retentionDays: 1095, now: NOW })).rejects.toThrow(/not this database/);
    const later = await exportLines(5, 10);
    await expect(purgeArchivedEvents(t.db, later.header, { retentionDays: 1095, now: NOW })).rejects.toThrow(/right after the current base/);
  });

  test('a broken chain is not exported', async () => {
    await t.db('audit_events').where({ seq: 4 }).update({ outcome: 8 });
    await expect(exportLines(1, 10)).rejects.toThrow(/broken/);
  });
});
