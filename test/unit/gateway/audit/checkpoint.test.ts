import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import {
  anchorLine,
  canonicalCheckpoint,
  checkCheckpoint,
  CHECKPOINT_FORMAT,
  FIRST_PREV,
  parseAnchorLine,
  signCheckpoint,
  slotStart,
  type SignedCheckpoint,
} from '../../../../gateway/audit/checkpoint';
import { ed25519KeyId, type CheckpointSigner } from '../../../../gateway/auth/key-source';

/** The checkpoint format (docs/audit.md §3), checked against node:crypto directly. */

function signer(): CheckpointSigner & { privateKey: ReturnType<typeof generateKeyPairSync>['privateKey'] } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { keyId: ed25519KeyId(publicKey), publicKey, privateKey, sign: async (m) => sign(null, m, privateKey) };
}

const content = { seq: 1, slot: '2026-12-06T02:00:00.000Z', kind: 'interval' as const, headSeq: 42, headHash: 'a'.repeat(64), at: '2026-12-06T02:00:01.250Z', prev: FIRST_PREV };

describe('signed checkpoints', () => {
  const s = signer();
  const verifiers = new Map([[s.keyId, s.publicKey]]);
  let cp: SignedCheckpoint;
  beforeAll(async () => {
    cp = await signCheckpoint(content, s);
  });

  it('hashes and signs the canonical form: the fields as a JSON array in a fixed order', () => {
    const canonical = JSON.stringify([CHECKPOINT_FORMAT, 1, content.slot, 'interval', 42, content.headHash, content.at, FIRST_PREV, s.keyId]);
    expect(canonicalCheckpoint(cp)).toBe(canonical);
    expect(cp.hash).toBe(createHash('sha256').update(canonical).digest('hex'));
    expect(verify(null, Buffer.from(canonical), s.publicKey, Buffer.from(cp.signature, 'base64url'))).toBe(true);
    expect(Buffer.from(cp.signature, 'base64url')).toHaveLength(64);
    expect(checkCheckpoint(cp, verifiers)).toBe('ok');
  });

  it('is deterministic (Ed25519): the same checkpoint signed twice is the same line', async () => {
    expect(anchorLine(await signCheckpoint(content, s))).toBe(anchorLine(cp));
  });

  it.each<[string, (c: SignedCheckpoint) => SignedCheckpoint, string]>([
    ['another head hash', (c) => ({ ...c, headHash: 'b'.repeat(64) }), 'hash'],
    ['another head seq, hash recomputed by the forger', (c) => ({ ...c, headSeq: 41, hash: createHash('sha256').update(canonicalCheckpoint({ ...c, headSeq: 41 })).digest('hex') }), 'signature'],
    ['a signature from another key under our key id', (c) => ({ ...c, signature: sign(null, Buffer.from(canonicalCheckpoint(c)), signer().privateKey).toString('base64url') }), 'signature'],
    ['a key id we do not trust', (c) => ({ ...c, keyId: 'unknown' }), 'hash'],
    ['garbage for a signature', (c) => ({ ...c, signature: 'AAAA' }), 'signature'],
  ])('refuses %s', (_name, edit, expected) => {
    expect(checkCheckpoint(edit(cp), verifiers)).toBe(expected);
  });

  it('refuses a checkpoint signed by a key not among the verifiers', async () => {
    const stranger = signer();
    expect(checkCheckpoint(await signCheckpoint(content, stranger), verifiers)).toBe('unknown-key');
  });

  it('reads back what it writes', () => {
    expect(parseAnchorLine(anchorLine(cp))).toEqual(cp);
  });

  it.each<[string, string]>([
    ['not JSON', '{"format":'],
    ['an array', '[1,2]'],
    ['another format', JSON.stringify({ format: 'other' })],
    ['seq 0', '__SEQ0__'],
    ['a short hash', '__SHORT__'],
    ['a kind we do not make', '__KIND__'],
  ])('names what is wrong with a line that is %s', (_name, line) => {
    const good = JSON.parse(anchorLine({ ...content, keyId: 'k', hash: 'c'.repeat(64), signature: 'sig' })) as Record<string, unknown>;
    const edits: Record<string, Record<string, unknown>> = { __SEQ0__: { seq: 0 }, __SHORT__: { headHash: 'abc' }, __KIND__: { kind: 'manual' } };
    const text = edits[line] ? JSON.stringify({ ...good, ...edits[line] }) : line;
    expect(parseAnchorLine(text)).toEqual({ error: expect.any(String) });
  });

  it.each<[string, number, string]>([
    ['2026-12-06T02:04:59.999Z', 300, '2026-12-06T02:00:00.000Z'],
    ['2026-12-06T02:05:00.000Z', 300, '2026-12-06T02:05:00.000Z'],
    ['2026-12-06T02:05:00.000Z', 3600, '2026-12-06T02:00:00.000Z'],
  ])('the slot of %s at %d s starts at %s (the same on every instance)', (now, interval, start) => {
    expect(slotStart(new Date(now), interval)).toBe(start);
  });
});
