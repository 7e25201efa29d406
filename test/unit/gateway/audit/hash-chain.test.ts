import { canonicalRow, chainHash, ChainVerifier, GENESIS_HASH, linkRows, type AuditRow } from '../../../../gateway/audit/hash-chain';

const content = (i: number) => ({
  id: `ae-${i}`,
  recorded: `2025-03-01T08:00:0${i % 10}.000Z`,
  request_id: `r-${i}`,
  patient_id: i % 2 ? 'p1' : null,
  client_id: 'xm-zsh-his',
  user_id: 'D1029',
  outcome: 0,
  purpose: 'TREAT',
  subtype: 'search-type',
  resource: JSON.stringify({ resourceType: 'AuditEvent', id: `ae-${i}` }),
});
const chain = (n: number) => linkRows(0, GENESIS_HASH, Array.from({ length: n }, (_, i) => content(i + 1)));

function verify(rows: AuditRow[], head = { seq: rows.at(-1)?.seq ?? 0, hash: rows.at(-1)?.hash ?? GENESIS_HASH }, batch = 3) {
  const v = new ChainVerifier(0, GENESIS_HASH);
  for (let i = 0; i < rows.length; i += batch) if (!v.feed(rows.slice(i, i + batch))) break;
  return { fault: v.finish(head), checked: v.checked };
}

describe('the audit hash chain', () => {
  test('linking assigns consecutive seq, each prev_hash is the previous hash, hash = SHA-256(prev + canonical row)', () => {
    const rows = chain(5);
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(rows[0].prev_hash).toBe(GENESIS_HASH);
    for (let i = 1; i < rows.length; i++) expect(rows[i].prev_hash).toBe(rows[i - 1].hash);
    for (const r of rows) expect(r.hash).toBe(chainHash(r.prev_hash, r));
    expect(rows[0].hash).toMatch(/^[0-9a-f]{64}$/);
  });

  test('the canonical row covers every column: changing any one changes the hash', () => {
    const [r] = chain(1);
    const variants: Array<Partial<AuditRow>> = [
      { seq: 2 }, { id: 'other' }, { recorded: '2025-03-01T08:00:09.000Z' }, { request_id: 'x' }, { patient_id: 'p2' },
      { client_id: 'x' }, { user_id: 'x' }, { outcome: 4 }, { purpose: 'ETREAT' }, { subtype: 'read' }, { resource: '{}' },
    ];
    for (const v of variants) expect(chainHash(r.prev_hash, { ...r, ...v })).not.toBe(r.hash);
    // PostgreSQL returns bigint as a string: the same hash either way
    expect(canonicalRow({ ...r, seq: '1' as unknown as number })).toBe(canonicalRow(r));
  });

  test('an intact chain verifies, whatever the batch size', () => {
    const rows = chain(10);
    for (const batch of [1, 3, 10, 100]) expect(verify(rows, undefined, batch)).toEqual({ fault: undefined, checked: 10 });
  });

  test.each([
    ['an edited row', (rows: AuditRow[]) => { rows[4] = { ...rows[4], resource: '{"resourceType":"AuditEvent","id":"forged"}' }; }, 'ae-5', 'edited'],
    ['an edited index column (hiding a row from patient search)', (rows: AuditRow[]) => { rows[2] = { ...rows[2], patient_id: null }; }, 'ae-3', 'edited'],
    ['an edited row whose hash was recomputed', (rows: AuditRow[]) => {
      const forged = { ...rows[4], outcome: 4 };
      rows[4] = { ...forged, hash: chainHash(forged.prev_hash, forged) };
    }, 'ae-6', 'relinked'],
    ['a deleted row (seq gap)', (rows: AuditRow[]) => { rows.splice(3, 1); }, 'ae-5', 'deleted'],
    ['a deleted row with later rows renumbered', (rows: AuditRow[]) => {
      rows.splice(3, 1);
      for (let i = 3; i < rows.length; i++) rows[i] = { ...rows[i], seq: rows[i].seq - 1 };
    }, 'ae-5', 'relinked'],
    ['an inserted row', (rows: AuditRow[]) => {
      const [extra] = linkRows(rows[5].seq, rows[5].hash, [content(99)]);
      rows.splice(6, 0, extra);
      for (let i = 7; i < rows.length; i++) rows[i] = { ...rows[i], seq: rows[i].seq + 1 };
    }, 'ae-7', 'relinked'],
  ])('%s is found at the first broken link', (_name, tamper, id, kind) => {
    const rows = chain(10);
    const head = { seq: rows[9].seq, hash: rows[9].hash };
    tamper(rows);
    expect(verify(rows, head).fault).toMatchObject({ id, kind });
  });

  test('rows deleted from the end: the head is beyond the last row', () => {
    const rows = chain(10);
    const head = { seq: 10, hash: rows[9].hash };
    expect(verify(rows.slice(0, 8), head).fault).toEqual({ id: 'ae-8', seq: 8, kind: 'deleted' });
  });

  test('verification can start after an archived base', () => {
    const rows = chain(10);
    const v = new ChainVerifier(rows[4].seq, rows[4].hash);
    v.feed(rows.slice(5));
    expect(v.finish({ seq: 10, hash: rows[9].hash })).toBeUndefined();
    expect(v.checked).toBe(5);
  });
});
