import { readFile } from 'node:fs/promises';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { type FrameEvent, MllpDecoder, mllpFrame } from './mllp-framing';

/**
 * A TCP (or TLS with client certificates) MLLP listener: frames in, one reply per frame out, in
 * order. What it guarantees, whatever the sender does:
 *
 * - one frame of a connection is handled at a time and its reply written before the next frame is
 *   handled (original-mode acknowledgement; a sender that pipelines gets its ACKs in order);
 * - memory per connection is bounded: a frame over `maxMessageBytes` is not kept, and the socket
 *   is paused while more than two frames' worth is waiting (backpressure onto the sender's TCP
 *   window), and while the sender does not read its ACKs (`write` returning false);
 * - a connection idle (or stalled mid-frame) for `idleTimeoutMs` is closed; nothing of an
 *   unfinished frame is handled;
 * - at most `maxConnections` at once; more are closed on arrival.
 */
export interface MllpTlsFiles {
  /** PEM private key and certificate of the listener */
  key: string;
  cert: string;
  /** PEM CA bundle that client certificates must chain to */
  ca?: string;
  /** refuse a client without a certificate signed by `ca` (default true) */
  requireClientCertificate: boolean;
}

export interface MllpListenerOptions {
  host: string;
  port: number;
  tls?: MllpTlsFiles;
  maxMessageBytes: number;
  idleTimeoutMs: number;
  maxConnections: number;
  /** a complete frame (or an oversized one's head) → the reply to send, or null for none */
  handle(frame: Extract<FrameEvent, { kind: 'message' | 'oversized' }>, peer: Peer): Promise<string | null>;
  log: Logger;
}

export interface Peer {
  address: string;
  /** the client certificate's subject CN, when TLS checked one */
  certificateCn?: string;
}

export interface MllpStats {
  connections: number;
  connectionsTotal: number;
  framesDropped: number;
  garbageBytes: number;
  idleClosed: number;
  refusedConnections: number;
}

export class MllpListener {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly busy = new Set<Promise<void>>();
  readonly stats: MllpStats = { connections: 0, connectionsTotal: 0, framesDropped: 0, garbageBytes: 0, idleClosed: 0, refusedConnections: 0 };
  private closing = false;

  constructor(private readonly opts: MllpListenerOptions) {}

  /** Listen; resolves with the port (the one asked, or the one given for port 0). */
  async start(): Promise<number> {
    const onSocket = (socket: net.Socket) => this.accept(socket);
    if (this.opts.tls) {
      const t = this.opts.tls;
      const [key, cert, ca] = await Promise.all([readFile(t.key), readFile(t.cert), t.ca ? readFile(t.ca) : undefined]);
      this.server = tls.createServer({ key, cert, ca, requestCert: t.requireClientCertificate, rejectUnauthorized: t.requireClientCertificate, minVersion: 'TLSv1.2' }, onSocket);
      this.server.on('tlsClientError', (e) => this.opts.log.warn({ reason: (e as NodeJS.ErrnoException).code ?? e.message }, 'mllp tls handshake refused'));
    } else {
      this.server = net.createServer(onSocket);
    }
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.opts.log.error({ reason: (e as NodeJS.ErrnoException).code ?? 'error' }, 'mllp listener error'));
    return (server.address() as AddressInfo).port;
  }

  get port(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  /** Stop accepting, let the frames being handled finish (their ACKs are written), then close every connection. */
  async close(): Promise<void> {
    this.closing = true;
    const server = this.server;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    await Promise.allSettled([...this.busy]);
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private accept(socket: net.Socket): void {
    if (this.closing || this.sockets.size >= this.opts.maxConnections) {
      this.stats.refusedConnections++;
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    this.stats.connections = this.sockets.size;
    this.stats.connectionsTotal++;
    const cert = socket instanceof tls.TLSSocket ? socket.getPeerCertificate() : undefined;
    const peer: Peer = { address: socket.remoteAddress ?? '' };
    const cn = cert?.subject?.CN;
    if (cn) peer.certificateCn = Array.isArray(cn) ? cn[0] : cn;

    const decoder = new MllpDecoder(this.opts.maxMessageBytes);
    const queue: Array<Extract<FrameEvent, { kind: 'message' | 'oversized' }>> = [];
    let queuedBytes = 0;
    let processing = false;
    let paused = false;
    const highWater = 2 * this.opts.maxMessageBytes;

    const pauseIfFull = () => {
      if (!paused && queuedBytes + decoder.buffered > highWater) {
        paused = true;
        socket.pause();
      }
    };
    const resumeIfRoom = () => {
      if (paused && queuedBytes + decoder.buffered <= highWater && !socket.writableNeedDrain) {
        paused = false;
        socket.resume();
      }
    };

    const drain = async () => {
      if (processing) return;
      processing = true;
      try {
        while (queue.length && !socket.destroyed) {
          const frame = queue.shift()!;
          queuedBytes -= frame.kind === 'message' ? frame.bytes.length : frame.head.length;
          let reply: string | null;
          try {
            reply = await this.opts.handle(frame, peer);
          } catch (e) {
            // the handler answers every failure itself; this is a bug: close rather than ACK
            this.opts.log.error({ reason: (e as Error)?.name ?? 'error' }, 'mllp frame handler failed');
            socket.destroy();
            return;
          }
          if (reply !== null && !socket.destroyed) {
            const ok = socket.write(mllpFrame(reply));
            if (!ok) {
              // the sender does not read its ACKs: stop reading its messages until it does
              paused = true;
              socket.pause();
              await new Promise<void>((resolve) => {
                const done = () => {
                  socket.off('drain', done);
                  socket.off('close', done);
                  resolve();
                };
                socket.on('drain', done);
                socket.on('close', done);
              });
            }
          }
          resumeIfRoom();
        }
      } finally {
        processing = false;
      }
    };

    const track = () => {
      const p = drain().catch(() => undefined);
      this.busy.add(p);
      void p.finally(() => this.busy.delete(p));
    };

    socket.setTimeout(this.opts.idleTimeoutMs);
    socket.on('timeout', () => {
      this.stats.idleClosed++;
      this.opts.log.info({ peer: peer.address, midFrame: decoder.inMessage }, 'mllp connection idle: closed');
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => {
      for (const ev of decoder.push(chunk)) {
        if (ev.kind === 'garbage') this.stats.garbageBytes += ev.size;
        else if (ev.kind === 'unterminated') {
          this.stats.framesDropped++;
          this.opts.log.warn({ peer: peer.address, bytes: ev.size }, 'mllp frame without end dropped');
        } else {
          queue.push(ev);
          queuedBytes += ev.kind === 'message' ? ev.bytes.length : ev.head.length;
        }
      }
      pauseIfFull();
      if (queue.length) track();
    });
    socket.on('error', () => undefined); // reset by the peer: 'close' follows
    socket.on('close', () => {
      if (decoder.inMessage) this.stats.framesDropped++;
      this.sockets.delete(socket);
      this.stats.connections = this.sockets.size;
    });
  }
}
