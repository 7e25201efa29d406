import type { DiagnosticReport } from '@medplum/fhirtypes';
import { Hl7Client } from '@medplum/hl7';
import { Hl7Message } from '@medplum/core';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Hl7v2Adapter } from '../../../../adapters/hl7v2/hl7v2-adapter';
import { createAdapter } from '../../../../adapters/factory';
import { parseConfig, type HospitalConfig } from '../../../../gateway/config';
import { createMetrics } from '../../../../gateway/metrics';
import { expectValidFhir } from '../../../support/fhir-validation';
import { cbcV251, chemV23, ctV24, join, NID, NID2 } from '../../../support/hl7-samples';
import { ackField, frame, rawMllpClient, sendAndWait } from '../../../support/mllp-client';
import { JOURNAL_FILE, sealedMessages } from '../../../../adapters/mllp/message-journal';

/**
 * The MLLP listener of the hl7v2 adapter against real TCP (and TLS) clients: @medplum/hl7's
 * Hl7Client for the ordinary path, a raw socket for framing faults. Every message is checked end to
 * end: the ACK on the wire, the file in the store, the FHIR the adapter then serves.
 */
const signal = () => AbortSignal.timeout(5000);
const all = ['DiagnosticReport', 'Observation', 'ImagingStudy'] as const;

interface Started {
  adapter: Hl7v2Adapter;
  port: number;
  dir: string;
  logs: string[];
}

async function startMllp(mllp: Record<string, unknown> = {}, dir = mkdtempSync(path.join(os.tmpdir(), 'xzq-mllp-'))): Promise<Started> {
  const logs: string[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write: (c, _e, cb) => { logs.push(String(c)); cb(); } }));
  // through the real configuration schema, so its defaults are the ones tested
  const config = parseConfig({
    publicBaseUrl: 'http://127.0.0.1:8080',
    hospitals: [{ id: 'qz-fzq', name: '丰泽区第二医院', city: '350500', grade: '2A', adapter: { type: 'hl7v2', inbox: dir, pollMs: 100, mllp: { host: '127.0.0.1', port: 0, ...mllp } } }],
  });
  const adapter = createAdapter(config.hospitals[0] as HospitalConfig, { log, metrics: createMetrics() }) as Hl7v2Adapter;
  await adapter.start();
  return { adapter, port: adapter.mllpPort!, dir, logs };
}

async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The messages stored (sealed) in the store's MLLP journals, oldest first. */
const stored = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => JOURNAL_FILE.test(f))
    .sort()
    .flatMap((f) => sealedMessages(readFileSync(path.join(dir, f))).messages.map((m) => m.toString('utf8')));
const oneMessage = (segments: string[]) => join(segments, '\r').replace(/\r$/, '');

describe('MLLP listener: the ordinary path', () => {
  let s: Started;
  let client: Hl7Client;
  beforeAll(async () => {
    s = await startMllp({ allowedFacilities: ['XMZSH', 'QZYY'] });
    client = new Hl7Client({ host: '127.0.0.1', port: s.port });
  });
  afterAll(async () => {
    await client.close();
    await s.adapter.close();
    rmSync(s.dir, { recursive: true, force: true });
  });

  test('an ORU^R01 from a real MLLP client is stored, then acknowledged AA with its control id; the adapter serves it as valid FHIR', async () => {
    const ack = await sendAndWait(client, Hl7Message.parse(oneMessage(cbcV251())));
    expect(ack.getSegment('MSA')?.getField(1)?.toString()).toBe('AA');
    expect(ack.getSegment('MSA')?.getField(2)?.toString()).toBe('MSGL2024030100012F');
    expect(ack.getSegment('MSH')?.getField(9)?.toString()).toBe('ACK^R01^ACK');
    expect(ack.getSegment('MSH')?.getField(5)?.toString()).toBe('LIS'); // back to the sender
    expect(ack.getSegment('ERR')).toBeUndefined();
    // stored before the ACK: the file is there, fsynced, with the exact bytes sent
    expect(stored(s.dir)).toEqual([`${oneMessage(cbcV251())}\r`]);
    expect(readdirSync(s.dir).filter((f) => !JOURNAL_FILE.test(f))).toEqual([]);
    // and served at once, through the inbox's mapping
    expect(await s.adapter.findPatient(NID, { signal: signal() })).toEqual({ localId: NID, mrns: ['M000123', 'M000999'] });
    const res = await s.adapter.fetchResults({ localId: NID, mrns: [] }, all, { signal: signal() });
    expect(res.DiagnosticReport!.map((r) => r.id)).toEqual(['L2024030100012']);
    expect(res.Observation).toHaveLength(7);
    for (const r of [...res.DiagnosticReport!, ...res.Observation!]) expectValidFhir(r);
  });

  test('a correction (OBR-25 C) replaces the report and a cancellation (X) supersedes it, as in the inbox', async () => {
    const corr = await sendAndWait(client, Hl7Message.parse(oneMessage(cbcV251({ status: 'C', reportedAt: '20240301160000', hb: '128' }))));
    expect(corr.getSegment('MSA')?.getField(1)?.toString()).toBe('AA');
    const read = await s.adapter.readResult('DiagnosticReport', 'L2024030100012', { signal: signal() });
    expect(read?.resource.status).toBe('corrected');
    expect(read?.contained?.find((o) => o.code.coding?.some((c) => c.code === '718-7'))?.valueQuantity?.value).toBe(128);
    const cancel = await sendAndWait(client, Hl7Message.parse(oneMessage(cbcV251({ status: 'X', reportedAt: '20240301170000' }))));
    expect(cancel.getSegment('MSA')?.getField(1)?.toString()).toBe('AA');
    const after = await s.adapter.fetchResults({ localId: NID, mrns: [] }, ['DiagnosticReport'], { signal: signal() });
    expect(after.DiagnosticReport!.map((r) => [r.id, r.status])).toEqual([['L2024030100012', 'cancelled']]);
  });

  test('a duplicate (same sender and control id) is acknowledged AA and not stored again', async () => {
    const before = stored(s.dir).length;
    const ack = await sendAndWait(client, Hl7Message.parse(oneMessage(cbcV251())));
    expect(ack.getSegment('MSA')?.getField(1)?.toString()).toBe('AA');
    expect(ack.getSegment('MSA')?.getField(3)?.toString()).toMatch(/Duplicate/);
    expect(stored(s.dir)).toHaveLength(before);
    expect(s.adapter.status().details).toMatchObject({ mllpDuplicates: 1 });
  });

  test('v2.3 and imaging messages, pipelined on one connection, get their ACKs in order', async () => {
    const raw = await rawMllpClient(s.port);
    await raw.write(frame(oneMessage(chemV23())) + frame(oneMessage(ctV24())));
    const acks = await raw.replies(2);
    expect(acks.map((a) => [ackField(a, 'MSA', 1), ackField(a, 'MSA', 2)])).toEqual([['AA', 'C20240302'], ['AA', 'R77001']]);
    expect(ackField(acks[0], 'MSH', 12)).toBe('2.3'); // answered in the sender's version
    raw.end();
    const ct = await s.adapter.fetchResults({ localId: NID, mrns: [] }, ['ImagingStudy'], { signal: signal() });
    expect(ct.ImagingStudy!.map((i) => i.id)).toEqual(['ACC77001']);
    expectValidFhir(ct.ImagingStudy![0]);
    expect(await s.adapter.findPatient(NID2, { signal: signal() })).toMatchObject({ localId: NID2 });
  });

  test('status() reports the listener without patient data; logs never hold the content', () => {
    const st = s.adapter.status();
    expect(st.state).toBe('up');
    expect(st.details).toMatchObject({ mllpPort: s.port, mllpAccepted: 5, mllpErrors: 0, mllpRejected: 0 });
    expect(JSON.stringify(st)).not.toContain(NID);
    expect(s.logs.join('')).not.toContain(NID);
    expect(s.logs.join('')).not.toContain('血红蛋白');
  });
});

describe('MLLP listener: bad input gets an AE/AR ACK or a closed connection, stores nothing half, crashes nothing', () => {
  let s: Started;
  beforeAll(async () => {
    s = await startMllp({ allowedFacilities: ['XMZSH', 'QZYY'], maxMessageBytes: 4096, idleTimeoutMs: 400, maxConnections: 4 });
  });
  afterAll(async () => {
    await s.adapter.close();
    rmSync(s.dir, { recursive: true, force: true });
  });

  test('garbage between frames is dropped; the frames around it are stored', async () => {
    const raw = await rawMllpClient(s.port);
    await raw.write(`hello\r\n${frame(oneMessage(cbcV251({ filler: 'G1' })))}\x00\x01garbage${frame(oneMessage(cbcV251({ filler: 'G2' })))}\n`);
    const acks = await raw.replies(2);
    expect(acks.map((a) => ackField(a, 'MSA', 1))).toEqual(['AA', 'AA']);
    expect(acks.map((a) => ackField(a, 'MSA', 2))).toEqual(['MSGG1F', 'MSGG2F']);
    raw.end();
  });

  test('a message cut into pieces, a multi-byte character and the frame end split across writes, is one message', async () => {
    const raw = await rawMllpClient(s.port);
    raw.socket.setNoDelay(true);
    const bytes = Buffer.from(frame(oneMessage(cbcV251({ filler: 'BYTES' }))), 'utf8');
    const han = bytes.indexOf(Buffer.from('血常规'));
    const cuts = [1, 2, 250, han + 1, han + 2, bytes.length - 1]; // after VT, inside 血 (three UTF-8 bytes), between FS and CR
    let at = 0;
    for (const cut of [...cuts.sort((a, b) => a - b), bytes.length]) {
      await raw.write(bytes.subarray(at, cut));
      await new Promise((r) => setTimeout(r, 10));
      at = cut;
    }
    expect(ackField((await raw.replies(1))[0], 'MSA', 1)).toBe('AA');
    const read = await s.adapter.readResult('DiagnosticReport', 'BYTES', { signal: signal() });
    expect((read?.resource as DiagnosticReport | undefined)?.code.text).toBe('血常规');
    raw.end();
  });

  test('a frame without end is dropped (no ACK, nothing stored) when the next frame starts', async () => {
    const before = stored(s.dir).length;
    const raw = await rawMllpClient(s.port);
    const unfinished = frame(oneMessage(cbcV251({ filler: 'HALF' }))).slice(0, -2);
    await raw.write(unfinished + frame(oneMessage(cbcV251({ filler: 'NEXT' }))));
    const [ack] = await raw.replies(1);
    expect(ackField(ack, 'MSA', 2)).toBe('MSGNEXTF');
    expect(stored(s.dir).length).toBe(before + 1);
    expect(await s.adapter.readResult('DiagnosticReport', 'HALF', { signal: signal() })).toBeNull();
    expect(Number(s.adapter.status().details!.mllpFramesDropped)).toBeGreaterThanOrEqual(1);
    raw.end();
  });

  test('an oversized message: AR with an ERR segment, not stored, and the connection goes on', async () => {
    const before = stored(s.dir).length;
    const raw = await rawMllpClient(s.port);
    const big = cbcV251({ filler: 'BIG' });
    big.push(`OBX|8|TX|NOTE^备注^L||${'x'.repeat(6000)}||||||F`);
    await raw.write(frame(oneMessage(big)) + frame(oneMessage(cbcV251({ filler: 'AFTER' }))));
    const [rejected, after] = await raw.replies(2);
    expect(ackField(rejected, 'MSA', 1)).toBe('AR');
    expect(ackField(rejected, 'MSA', 2)).toBe('MSGBIGF');
    expect(ackField(rejected, 'ERR', 3)).toBe('207^Application internal error^HL70357');
    expect(ackField(rejected, 'ERR', 8)).toMatch(/exceeds the limit of 4096 bytes/);
    expect(ackField(after, 'MSA', 1)).toBe('AA');
    expect(stored(s.dir).length).toBe(before + 1);
    raw.end();
  });

  test.each([
    ['wrong MSH-9 (ADT^A01) → AR', (m: string[]) => [m[0].replace('ORU^R01^ORU_R01', 'ADT^A01^ADT_A01'), ...m.slice(1)], 'AR', '200^Unsupported message type^HL70357', 'MSH^1^9'],
    ['wrong trigger (ORU^R30) → AR', (m: string[]) => [m[0].replace('ORU^R01^ORU_R01', 'ORU^R30'), ...m.slice(1)], 'AR', '201^Unsupported event code^HL70357', 'MSH^1^9'],
    ['HL7 v3 version → AR', (m: string[]) => [m[0].replace('|2.5.1|', '|3.0|'), ...m.slice(1)], 'AR', '203^Unsupported version id^HL70357', 'MSH^1^12'],
    ['a sending facility not allowed → AR', (m: string[]) => [m[0].replace('|LIS|XMZSH|', '|LIS|ELSEWHERE|'), ...m.slice(1)], 'AR', '207^Application internal error^HL70357', 'MSH^1^4'],
    ['an unknown resident (PID-3 without NI) → AE', (m: string[]) => [m[0], 'PID|1||M000123^^^XMZSH^MR||林^小明', ...m.slice(2)], 'AE', '101^Required field missing^HL70357', 'PID^1^3'],
    ['OBX before OBR → AE', (m: string[]) => [m[0], m[1], m[5], m[4]], 'AE', '100^Segment sequence error^HL70357', ''],
    ['a ZXQ segment (the journal seal is the gateway\'s) → AE', (m: string[]) => [...m, `ZXQ|10|${'0'.repeat(64)}`], 'AE', '100^Segment sequence error^HL70357', 'ZXQ^1'],
    ['no filler or placer number → AE', (m: string[]) => [m[0], m[1], m[4].replace('|P998|BAD|', '|||')], 'AE', '101^Required field missing^HL70357', 'OBR^1^3'],
  ])('%s: the ACK says what was wrong; nothing is stored', async (_name, change, code, err3, err2) => {
    const before = stored(s.dir).length;
    const raw = await rawMllpClient(s.port);
    const msg = change(cbcV251({ filler: 'BAD' }));
    await raw.write(frame(oneMessage(msg)));
    const [ack] = await raw.replies(1);
    expect(ackField(ack, 'MSA', 1)).toBe(code);
    expect(ackField(ack, 'MSA', 2)).toBe('MSGBADF');
    expect(ackField(ack, 'ERR', 3)).toBe(err3);
    expect(ackField(ack, 'ERR', 2)).toBe(err2);
    expect(ackField(ack, 'ERR', 4)).toBe('E');
    expect(stored(s.dir).length).toBe(before);
    expect(await s.adapter.readResult('DiagnosticReport', 'BAD', { signal: signal() })).toBeNull();
    raw.end();
  });

  test('a frame that is not HL7 at all: AR with an empty MSA-2', async () => {
    const raw = await rawMllpClient(s.port);
    await raw.write(frame('GET / HTTP/1.1'));
    const [ack] = await raw.replies(1);
    expect(ackField(ack, 'MSA', 1)).toBe('AR');
    expect(ackField(ack, 'MSA', 2)).toBe('');
    expect(ack.startsWith('MSH|^~\\&|XZQ-HIE|qz-fzq|')).toBe(true);
    raw.end();
  });

  test('a connection that stalls mid-frame is closed after the idle timeout; nothing is stored', async () => {
    const before = stored(s.dir).length;
    const raw = await rawMllpClient(s.port);
    await raw.write(frame(oneMessage(cbcV251({ filler: 'STALL' }))).slice(0, 200));
    const started = Date.now();
    await raw.closed;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(raw.received).toEqual([]);
    expect(stored(s.dir).length).toBe(before);
    expect(Number(s.adapter.status().details!.mllpIdleClosed)).toBeGreaterThanOrEqual(1);
  });

  test('more connections than allowed are closed on arrival; the allowed ones still work', async () => {
    const open = await Promise.all([0, 1, 2, 3].map(() => rawMllpClient(s.port)));
    await new Promise((r) => setTimeout(r, 50));
    const extra = await rawMllpClient(s.port);
    await extra.closed;
    await open[0].write(frame(oneMessage(cbcV251({ filler: 'CONN' }))));
    expect(ackField((await open[0].replies(1))[0], 'MSA', 1)).toBe('AA');
    for (const c of open) c.end();
    await Promise.all(open.map((c) => c.closed));
    await waitFor(() => s.adapter.status().details!.mllpConnections === 0);
  });

  test('backpressure: a sender that does not read its ACKs is paused, then gets every ACK in order', async () => {
    const raw = await rawMllpClient(s.port);
    raw.socket.pause(); // read nothing for now
    const n = 150;
    const batch = Array.from({ length: n }, (_x, i) => frame(oneMessage(chemV23({ filler: `BP${i}` })).replace('|C20240302|', `|BP${i}|`))).join('');
    await raw.write(batch);
    await new Promise((r) => setTimeout(r, 200));
    raw.socket.resume();
    const acks = await raw.replies(n, 15_000);
    expect(acks.map((a) => ackField(a, 'MSA', 2))).toEqual(Array.from({ length: n }, (_x, i) => `BP${i}`));
    expect(acks.every((a) => ackField(a, 'MSA', 1) === 'AA')).toBe(true);
    raw.end();
  }, 30_000);

  test('nothing crashed: the listener is up, the refusals are counted, no temporary file is left', () => {
    const d = s.adapter.status();
    expect(d.state).toBe('up');
    expect(Number(d.details!.mllpRejected)).toBeGreaterThanOrEqual(5);
    expect(Number(d.details!.mllpErrors)).toBeGreaterThanOrEqual(3);
    expect(readdirSync(s.dir).filter((f) => !f.endsWith('.hl7'))).toEqual([]);
    expect(s.logs.join('')).not.toContain(NID);
  });
});

describe('MLLP listener: what is acknowledged survives a restart', () => {
  test('messages ACKed before the adapter stops are served by a new adapter on the same store', async () => {
    const first = await startMllp();
    const client = new Hl7Client({ host: '127.0.0.1', port: first.port });
    const ack = await sendAndWait(client, Hl7Message.parse(oneMessage(ctV24())));
    expect(ack.getSegment('MSA')?.getField(1)?.toString()).toBe('AA');
    await client.close();
    await first.adapter.close(); // as after a crash: only what is on disk remains
    const second = await startMllp({}, first.dir);
    const res = await second.adapter.fetchResults({ localId: NID, mrns: [] }, ['DiagnosticReport', 'ImagingStudy'], { signal: signal() });
    expect(res.ImagingStudy!.map((i) => i.id)).toEqual(['ACC77001']);
    // and the same message again is a duplicate, also after the restart
    const again = await rawMllpClient(second.port);
    await again.write(frame(oneMessage(ctV24())));
    expect(ackField((await again.replies(1))[0], 'MSA', 3)).toMatch(/Duplicate/);
    again.end();
    await second.adapter.close();
    rmSync(first.dir, { recursive: true, force: true });
  });

  test('a message torn by a crash mid-append (never acknowledged) is cut off at start; its resend is stored whole', async () => {
    const first = await startMllp();
    const raw = await rawMllpClient(first.port);
    await raw.write(frame(oneMessage(cbcV251({ filler: 'KEEP' }))));
    expect(ackField((await raw.replies(1))[0], 'MSA', 1)).toBe('AA');
    raw.end();
    await first.adapter.close();
    // the crash: half of the next message reached the journal, without its seal
    const journal = readdirSync(first.dir).find((f) => JOURNAL_FILE.test(f))!;
    const torn = oneMessage(cbcV251({ filler: 'TORN' }));
    writeFileSync(path.join(first.dir, journal), Buffer.concat([readFileSync(path.join(first.dir, journal)), Buffer.from(torn.slice(0, torn.length - 40))]));
    const second = await startMllp({}, first.dir);
    expect(second.logs.join('')).toContain('mllp journal: a message torn by a crash was cut off');
    expect(second.adapter.status().details).toMatchObject({ filesRejected: 0 });
    expect(await second.adapter.readResult('DiagnosticReport', 'KEEP', { signal: signal() })).not.toBeNull();
    expect(await second.adapter.readResult('DiagnosticReport', 'TORN', { signal: signal() })).toBeNull();
    const again = await rawMllpClient(second.port);
    await again.write(frame(torn));
    const [ack] = await again.replies(1);
    expect([ackField(ack, 'MSA', 1), ackField(ack, 'MSA', 3)]).toEqual(['AA', 'Message stored']);
    again.end();
    const read = await second.adapter.readResult('DiagnosticReport', 'TORN', { signal: signal() });
    expect(read?.contained).toHaveLength(7);
    await second.adapter.close();
    rmSync(first.dir, { recursive: true, force: true });
  });

  test('a port already taken: the adapter starts down, with the reason, and does not throw', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    const s = await startMllp({ port });
    expect(s.adapter.status()).toMatchObject({ state: 'down', lastError: `MLLP listener cannot listen on 127.0.0.1:${port} (EADDRINUSE)` });
    await s.adapter.close();
    await new Promise((r) => blocker.close(r));
    rmSync(s.dir, { recursive: true, force: true });
  });
});

describe('MLLP over TLS with client certificates', () => {
  let pki: string;
  const file = (n: string) => path.join(pki, n);
  beforeAll(() => {
    pki = mkdtempSync(path.join(os.tmpdir(), 'xzq-mllp-pki-'));
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: pki, stdio: 'pipe' });
    ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=XZQ test CA');
    for (const who of ['server', 'lis', 'stranger']) {
      ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who}`);
    }
    writeFileSync(file('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
    ssl('x509', '-req', '-in', 'lis.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'lis.pem', '-days', '2');
    ssl('req', '-x509', '-key', 'stranger.key', '-out', 'stranger.pem', '-days', '2', '-subj', '/CN=stranger'); // self-signed: not from the CA
  });
  afterAll(() => rmSync(pki, { recursive: true, force: true }));

  test('a LIS with a certificate from the CA is served; one without, or with a foreign one, is refused at the handshake', async () => {
    const s = await startMllp({ tls: { key: file('server.key'), cert: file('server.pem'), ca: file('ca.pem') } });
    const read = (n: string) => readFileSync(file(n));
    const good = await rawMllpClient(s.port, { tls: { ca: read('ca.pem'), key: read('lis.key'), cert: read('lis.pem') } });
    await good.write(frame(oneMessage(cbcV251({ filler: 'TLS1' }))));
    expect(ackField((await good.replies(1))[0], 'MSA', 1)).toBe('AA');
    good.end();
    for (const creds of [{}, { key: read('stranger.key'), cert: read('stranger.pem') }]) {
      const bad = await rawMllpClient(s.port, { tls: { ca: read('ca.pem'), ...creds } }).catch(() => undefined);
      if (bad) {
        // TLS 1.3 reports a refused client certificate after the handshake: the connection is closed unanswered
        await bad.write(frame(oneMessage(cbcV251({ filler: 'TLS2' })))).catch(() => undefined);
        await bad.closed;
        expect(bad.received).toEqual([]);
      }
    }
    expect(await s.adapter.readResult('DiagnosticReport', 'TLS2', { signal: signal() })).toBeNull();
    await s.adapter.close();
    rmSync(s.dir, { recursive: true, force: true });
  });
});
