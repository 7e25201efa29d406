import { MllpDecoder, mllpFrame, OVERSIZED_HEAD_BYTES, type FrameEvent } from '../../../../adapters/mllp/mllp-framing';
import { buildAck, escapeHl7, readMsh } from '../../../../adapters/mllp/hl7-ack';
import { messageKey, sealedMessages } from '../../../../adapters/mllp/message-journal';

const VT = '\x0b';
const END = '\x1c\r';

/** Feed `input` cut at `cuts` and describe what came out. */
function decode(input: string | Buffer, cuts: number[] = [], max = 1024): string[] {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const d = new MllpDecoder(max);
  const out: FrameEvent[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(...d.push(bytes.subarray(at, cut)));
    at = cut;
  }
  return out.map((e) => (e.kind === 'message' ? `message:${e.bytes.toString('latin1')}` : e.kind === 'oversized' ? `oversized:${e.size}:${e.head.length}` : `${e.kind}:${e.size}`));
}

describe('MLLP decoder', () => {
  test.each<[string, string, number[], string[]]>([
    ['one frame', `${VT}MSH|a${END}`, [], ['message:MSH|a']],
    ['two frames in one chunk', `${VT}A${END}${VT}B${END}`, [], ['message:A', 'message:B']],
    ['garbage before, between and after', `xx${VT}A${END}yyy${VT}B${END}\n`, [], ['garbage:2', 'message:A', 'garbage:3', 'message:B', 'garbage:1']],
    ['the end block split between chunks', `${VT}ABC\x1c\r`, [4], ['message:ABC']],
    ['every byte its own chunk', `${VT}AB${END}`, [1, 2, 3, 4], ['message:AB']],
    ['a start block before the end: the earlier frame is dropped', `${VT}HALF${VT}B${END}`, [], ['unterminated:4', 'message:B']],
    ['FS not followed by CR is content', `${VT}A\x1cB${END}`, [], ['message:A\x1cB']],
    ['FS at a chunk end not followed by CR is content', `${VT}A\x1cB${END}`, [3], ['message:A\x1cB']],
    ['an empty frame', `${VT}${END}`, [], ['message:']],
    ['no frame at all', 'GET / HTTP/1.1\r\n', [], ['garbage:16']],
  ])('%s', (_name, input, cuts, expected) => expect(decode(input, cuts)).toEqual(expected));

  test('a frame over the limit keeps only its head, however it is cut, and the next frame is read', () => {
    const big = `${VT}MSH|${'x'.repeat(10_000)}${END}${VT}OK${END}`;
    for (const cuts of [[], [5], [500, 1500, 9000], [10_005]]) {
      expect(decode(big, cuts, 1024)).toEqual([`oversized:10004:${OVERSIZED_HEAD_BYTES}`, 'message:OK']);
    }
  });

  test('what a connection holds is bounded by the limit, not by what the sender sends', () => {
    const d = new MllpDecoder(1000);
    d.push(Buffer.from(VT));
    for (let i = 0; i < 100; i++) d.push(Buffer.alloc(10_000, 0x41));
    expect(d.buffered).toBeLessThanOrEqual(OVERSIZED_HEAD_BYTES);
    expect(d.inMessage).toBe(true);
  });

  test('mllpFrame wraps a message; the decoder gives it back', () => {
    const f = mllpFrame('MSH|^~\\&|中文');
    expect(f[0]).toBe(0x0b);
    expect([...f.subarray(-2)]).toEqual([0x1c, 0x0d]);
    const d = new MllpDecoder(1024);
    const [e] = d.push(f);
    expect(e.kind === 'message' && e.bytes.toString('utf8')).toBe('MSH|^~\\&|中文');
  });
});

describe('HL7 ACK', () => {
  const header = readMsh('MSH|^~\\&|LIS|XM\\F\\ZSH|HIE|XZQ|20240301103000||ORU^R01^ORU_R01|C\\S\\1|P|2.4\rPID|1')!;

  test('the original MSH is read leniently, escapes resolved', () => {
    expect(header).toMatchObject({ sendingApplication: 'LIS', sendingFacility: 'XM|ZSH', messageType: 'ORU', triggerEvent: 'R01', controlId: 'C^1', version: '2.4' });
    expect(readMsh('not hl7')).toBeNull();
    expect(readMsh('MSH')).toBeNull();
  });

  test('AA: back to the sender, the original control id, its version', () => {
    const ack = buildAck(header, 'AA', { receiver: { application: 'XZQ-HIE', facility: 'qz-fzq' }, now: new Date('2026-11-29T02:00:00Z') });
    const [msh, msa, more] = ack.split('\r');
    expect(msh).toMatch(/^MSH\|\^~\\&\|HIE\|XZQ\|LIS\|XM\\F\\ZSH\|20261129100000\.000\+0800\|\|ACK\^R01\^ACK\|ACK[0-9A-Z]+\|P\|2\.4$/);
    expect(msa).toBe('MSA|AA|C\\S\\1|Message stored');
    expect(more).toBe('');
  });

  test('AE with ERR in the v2.5 and the v2.3 forms', () => {
    const ack = buildAck(header, 'AE', { receiver: { application: 'XZQ-HIE', facility: 'x' }, error: { condition: 'requiredFieldMissing', text: 'PID-3 has no national id', location: { segment: 'PID', field: 3 } } });
    const err = ack.split('\r')[2].split('|');
    expect(err[0]).toBe('ERR');
    expect(err[1]).toBe('PID^1^3^101&Required field missing&HL70357');
    expect(err[2]).toBe('PID^1^3');
    expect(err[3]).toBe('101^Required field missing^HL70357');
    expect(err[4]).toBe('E');
    expect(err[8]).toBe('PID-3 has no national id');
  });

  test('echoed values are escaped; duplicate keys are sender and control id', () => {
    expect(escapeHl7('a|b^c~d\\e&f')).toBe('a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f');
    expect(messageKey({ sendingApplication: 'LIS', sendingFacility: 'A', controlId: '1' })).not.toBe(messageKey({ sendingApplication: 'LIS', sendingFacility: 'B', controlId: '1' }));
  });
});

describe('MLLP journal seals', () => {
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  const sealed = (m: string) => `${m}ZXQ|${Buffer.byteLength(m)}|${createHash('sha256').update(m).digest('hex')}\r`;
  const a = 'MSH|^~\\&|LIS|A|||1||ORU^R01|1|P|2.5\rPID|1||X^^^^NI\r';
  const b = 'MSH|^~\\&|LIS|A|||1||ORU^R01|2|P|2.5\rPID|1||中文^^^^NI\r';

  test('sealed messages are found; a torn or tampered tail is where the journal is cut', () => {
    const whole = Buffer.from(sealed(a) + sealed(b));
    expect(sealedMessages(whole)).toEqual({ messages: [Buffer.from(a), Buffer.from(b)], end: whole.length });
    const torn = Buffer.from(sealed(a) + b.slice(0, 20));
    expect(sealedMessages(torn)).toEqual({ messages: [Buffer.from(a)], end: Buffer.byteLength(sealed(a)) });
    const tampered = Buffer.from(sealed(a) + sealed(b).replace('中文', '中丈'));
    expect(sealedMessages(tampered).messages).toHaveLength(1);
    expect(sealedMessages(Buffer.alloc(0))).toEqual({ messages: [], end: 0 });
  });
});
