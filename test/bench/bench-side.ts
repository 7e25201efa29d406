import http from 'node:http';

/**
 * The HTTP side of a bench child that answers searches itself (the bare fan-out, the contract's
 * floor): one keep-alive server on an ephemeral port, 200 with the answer's bytes or 502 when it
 * fails; prints `{port, pid}` for bench.ts and exits when bench.ts closes its stdin.
 */
export function serveSide(answer: (url: string) => Promise<string | Buffer>): void {
  const server = http.createServer((req, res) => {
    answer(req.url ?? '').then(
      (body) => {
        res.writeHead(200, { 'content-type': 'application/fhir+json' });
        res.end(body);
      },
      () => {
        res.writeHead(502);
        res.end();
      },
    );
  });
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: (server.address() as { port: number }).port, pid: process.pid }) + '\n');
  });
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}
