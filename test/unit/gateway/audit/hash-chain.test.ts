import { createHash } from 'node:crypto';
import { canonicalHeader, canonicalRow, chainHash, ChainVerifier, GENESIS_HASH, linkRows, relinkRows, storedJson, type AuditRow } from '../../../../gateway/audit/hash-chain';

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

  test('the hash is the one stored chains were made with: SHA-256 over prev_hash, header, newline, resource', () => {
    // how rows were hashed before (four updates of one Hash object): every stored chain must still verify
    const legacy = (prev: string, r: Parameters<typeof canonicalHeader>[0]) =>
      createHash('sha256').update(prev).update(canonicalHeader(r)).update('\n').update(r.resource).digest('hex');
    const odd = [
      { ...content(1), resource: '{"name":"林医生","emoji":"😀"}' }, // non-ASCII stored before storedJson escaped it
      { ...content(2), resource: '{"lone":"\ud800"}', user_id: '\udc00x' }, // lone surrogates, in the resource and in a column
      { ...content(3), request_id: 'a"b\\c\n\u2028', patient_id: null, purpose: null },
      { ...content(4), resource: storedJson({ display: '厦门大学附属中山医院', n: 1 }) },
    ];
    for (const [i, r] of odd.entries()) {
      const row = { ...r, seq: i + 1 };
      expect(chainHash(GENESIS_HASH, row)).toBe(legacy(GENESIS_HASH, row));
    }
    for (const r of chain(5)) expect(r.hash).toBe(legacy(r.prev_hash, r));
  });

  test('relinking rows in place gives the rows linking would have given', () => {
    const rows = chain(6);
    const again = rows.map((r) => ({ ...r, seq: 0, prev_hash: '', hash: '' }));
    const end = relinkRows(0, GENESIS_HASH, again);
    expect(again).toEqual(rows);
    expect(end).toEqual({ seq: 6, hash: rows[5].hash });
    const later = relinkRows(10, 'a'.repeat(64), again.slice(2));
    expect(later.seq).toBe(14);
    expect(linkRows(10, 'a'.repeat(64), rows.slice(2)).at(-1)!.hash).toBe(later.hash);
  });

  test('the stored JSON is the same JSON value in ASCII, every other character escaped', () => {
    const reference = (v: unknown) => JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    const values: unknown[] = [
      { a: 'plain ascii', n: [1, 2.5, null, true] },
      { display: '厦门大学附属中山医院', name: '林医生', x: '\u007f\u0080\u00e9' },
      { emoji: '😀', lone: '\ud800', other: '\udfff', sep: '\u2028\u2029' },
      { quote: '"\\\n\t', nested: { deep: ['中', { k: 'é' }] } },
    ];
    for (const v of values) {
      const stored = storedJson(v);
      expect(stored).toBe(reference(v));
      expect(/^[\x00-\x7e]*$/.test(stored)).toBe(true);
      expect(JSON.parse(stored)).toEqual(JSON.parse(JSON.stringify(v)));
    }
  });
});
