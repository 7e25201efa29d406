import net from 'node:net';
import tls from 'node:tls';

/**
 * A raw MLLP peer for tests: writes whatever bytes a test gives (framed or not, in pieces) and
 * collects the framed replies as they come, parsed independently of the gateway's decoder. For the
 * ordinary path the tests use @medplum/hl7's Hl7Client, a real MLLP client of its own.
 */
export const VT = '\x0b';
export const END = '\x1c\r';
export const frame = (message: string) => `${VT}${message}${END}`;

export interface RawMllpClient {
  socket: net.Socket;
  write(data: string | Buffer): Promise<void>;
  /** the next `n` replies (ACK texts), waiting at most `ms` */
  replies(n: number, ms?: number): Promise<string[]>;
  /** replies received so far */
  readonly received: string[];
  /** resolves when the server closes the connection */
  closed: Promise<void>;
  end(): void;
}

export async function rawMllpClient(port: number, opts: { tls?: tls.ConnectionOptions } = {}): Promise<RawMllpClient> {
  const socket: net.Socket = await new Promise((resolve, reject) => {
    const s = opts.tls
      ? tls.connect({ host: '127.0.0.1', port, ...opts.tls }, () => resolve(s))
      : net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
  const received: string[] = [];
  let buffer = '';
  let waiters: Array<() => void> = [];
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    for (;;) {
      const start = buffer.indexOf(VT);
      const end = buffer.indexOf(END, start + 1);
      if (start < 0 || end < 0) break;
      received.push(buffer.slice(start + 1, end));
      buffer = buffer.slice(end + END.length);
    }
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  let taken = 0;
  return {
    socket,
    received,
    closed,
    write: (data) => new Promise<void>((resolve, reject) => socket.write(data, (e) => (e ? reject(e) : resolve()))),
    async replies(n, ms = 5000) {
      const until = Date.now() + ms;
      while (received.length < taken + n) {
        if (Date.now() > until || socket.destroyed) throw new Error(`expected ${n} replies, got ${received.length - taken}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 50);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      const out = received.slice(taken, taken + n);
      taken += n;
      return out;
    },
    end: () => socket.end(),
  };
}

/** The fields of one segment of an ACK (`MSA`, `ERR`, `MSH`), HL7-numbered (MSH-1 is the separator). */
export function ackField(ack: string, segment: string, field: number): string {
  const seg = ack.split('\r').find((s) => s.startsWith(`${segment}|`));
  if (!seg) return '';
  const parts = seg.split('|');
  return segment === 'MSH' ? (field === 1 ? '|' : (parts[field - 1] ?? '')) : (parts[field] ?? '');
}

/**
 * `Hl7Client.sendAndWait` within `ms`, without its own `timeoutMs` (@medplum/hl7 4.5 leaves that
 * timer running after the ACK arrives, which keeps jest from exiting).
 */
export async function sendAndWait(client: import('@medplum/hl7').Hl7Client, msg: import('@medplum/core').Hl7Message, ms = 5000): Promise<import('@medplum/core').Hl7Message> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new Error(`no ACK within ${ms} ms`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([client.sendAndWait(msg), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
