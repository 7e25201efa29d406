import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';

/**
 * The real gateway as a separate process (`node --import tsx gateway/main.ts --config FILE`), for
 * the tests that need several of them on one database: spawning, reading its log (pino JSON lines
 * on stdout), stopping, and telling which process answered a connection. Every process spawned
 * here is remembered, with the worker pids its log names, so {@link killAllGatewayProcesses} in an
 * afterAll leaves nothing behind even when a test failed half-way.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'gateway', 'main.ts');

export type LogLine = Record<string, unknown> & { msg?: string; pid?: number; worker?: number };

export interface GatewayProcess {
  readonly proc: ChildProcess;
  readonly pid: number;
  /** every log line so far, parsed */
  readonly lines: LogLine[];
  /** what the process wrote on stderr (start-up errors) */
  stderr(): string;
  /** resolves with the first line (already seen or to come) that matches */
  waitFor(match: (l: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  /** resolves when the process has exited */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
}

const spawned = new Set<GatewayProcess>();

/** Spawn the gateway entry with `args` (`--config FILE` first) and extra env (PORT, DATABASE_URL, …). */
export function spawnGateway(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []): GatewayProcess {
  const proc = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  const waiters: Array<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  let stderr = '';
  let done = false;
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { msg: text };
    }
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.match(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    }),
  );
  const gp: GatewayProcess = {
    proc,
    pid: proc.pid!,
    lines,
    stderr: () => stderr,
    alive: () => !done,
    exited,
    waitFor(match, what, timeoutMs = 30_000) {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`gateway ${proc.pid}: no log line "${what}" within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`)), timeoutMs);
        const w = {
          match,
          resolve: (l: LogLine) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        waiters.push(w);
        void exited.then(({ code, signal }) => {
          if (!waiters.includes(w)) return;
          clearTimeout(timer);
          reject(new Error(`gateway ${proc.pid} exited (${code ?? signal}) before "${what}"; stderr: ${stderr.slice(-2000)}`));
        });
      });
    },
  };
  spawned.add(gp);
  return gp;
}

export const isListening = (l: LogLine) => l.msg === 'gateway listening';

/** A gateway process that serves, with the port its first worker (or itself) bound. */
export interface ServingGateway {
  gp: GatewayProcess;
  port: number;
  url: string;
}

/**
 * Spawn and wait until `listeners` processes report listening (1 for a single process, N for
 * `--workers N`). PORT=0 unless `env.PORT` says otherwise: the port bound is read from the log.
 */
export async function startGatewayProcess(opts: { configFile: string; env?: Record<string, string>; args?: string[]; listeners?: number; nodeArgs?: string[] }): Promise<ServingGateway> {
  const gp = spawnGateway(['--config', opts.configFile, ...(opts.args ?? [])], { PORT: '0', ...(opts.env ?? {}) }, opts.nodeArgs);
  const want = opts.listeners ?? 1;
  await gp.waitFor(() => gp.lines.filter(isListening).length >= want, `${want} × gateway listening`, 40_000);
  const port = Number(gp.lines.find(isListening)!.port);
  return { gp, port, url: `http://127.0.0.1:${port}` };
}

/** pids the process's log names (its workers under `--workers`), the process itself first. */
export function pidsOf(gp: GatewayProcess): number[] {
  const pids = new Set<number>([gp.pid]);
  for (const l of gp.lines) if (typeof l.pid === 'number') pids.add(l.pid);
  return [...pids];
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILL every process spawned here and every worker their logs named; wait for the spawned ones to exit. */
export async function killAllGatewayProcesses(): Promise<void> {
  for (const gp of spawned) {
    for (const pid of pidsOf(gp).reverse()) {
      // a worker pid is only ours while its parent is our child (or it was reparented after its death: then it is gone)
      if (pid !== gp.pid && parentOf(pid) !== gp.pid) continue;
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    }
    if (gp.alive()) gp.proc.kill('SIGKILL');
  }
  await Promise.all([...spawned].map((gp) => gp.exited));
  spawned.clear();
}

/** The parent pid of a process, from /proc (undefined when it is gone). */
export function parentOf(pid: number): number | undefined {
  try {
    return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** The command line of a process, from /proc ('' when it is gone). */
export function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/**
 * The live children of a process that run the gateway entry, from /proc: its workers. (Others may
 * come and go: tsx's esbuild service while something is compiled.)
 */
export function gatewayChildrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((p) => parentOf(p) === pid && commandOf(p).includes(MAIN));
}

const hexPort = (p: number) => p.toString(16).toUpperCase().padStart(4, '0');

/**
 * Which of `pids` holds the server end of the TCP connection from local port `clientPort` to
 * `serverPort` on 127.0.0.1 — the worker that answers it, since node:cluster hands an accepted
 * socket to one worker and the primary keeps no copy. Read from /proc/net/tcp (the socket's
 * inode) and /proc/<pid>/fd, so the gateway need expose nothing about its processes.
 */
export function connectionOwner(serverPort: number, clientPort: number, pids: number[]): number | undefined {
  const local = `0100007F:${hexPort(serverPort)}`;
  const remote = `0100007F:${hexPort(clientPort)}`;
  let inode: string | undefined;
  for (const row of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = row.trim().split(/\s+/);
    if (f[1] === local && f[2] === remote) inode = f[9];
  }
  if (!inode) return undefined;
  const link = `socket:[${inode}]`;
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === link) return pid;
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

export interface Answer {
  status: number;
  requestId: string;
  body: any;
}

/**
 * One kept-alive TCP connection to a gateway: every request goes over the same socket, so the same
 * worker answers them all; `localPort` names the connection for {@link connectionOwner}.
 */
export class PinnedConnection {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  localPort: number | undefined;

  constructor(private readonly port: number) {}

  request(method: string, pathAndQuery: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: this.port, method, path: pathAndQuery, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON (metrics)
          }
          resolve({ status: res.statusCode!, requestId: String(res.headers['x-request-id'] ?? ''), body: parsed });
        });
        res.on('error', reject);
      });
      req.on('socket', (s) => {
        const note = () => (this.localPort = s.localPort);
        if (s.localPort) note();
        else s.once('connect', note);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
