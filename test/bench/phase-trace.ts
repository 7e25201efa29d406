import dc from 'node:diagnostics_channel';

/**
 * BENCH_PHASES=1 (diagnosis only): loaded with `--import` into the gateway and the bare fan-out.
 * For each incoming request that made upstream calls (one per hospital of the bench), when (ms after the request arrived) the
 * first and last upstream requests were created, the first and last upstream answers' headers were
 * read, the last upstream answer's body ended, and the response finished; the medians are printed to stderr at exit. The channels are
 * Node's own (http server, bundled undici), so both sides are measured the same way.
 */
interface Phases {
  t0: number;
  creates: number[];
  headers: number[];
  /** when each upstream answer's body ended (undici's `trailers`) */
  ends: number[];
  finish?: number;
}
const requests: Phases[] = [];
let current: Phases | undefined;
dc.subscribe('http.server.request.start', () => {
  current = { t0: performance.now(), creates: [], headers: [], ends: [] };
  requests.push(current);
});
dc.subscribe('undici:request:create', () => current?.creates.push(performance.now() - current.t0));
dc.subscribe('undici:request:headers', () => current?.headers.push(performance.now() - current.t0));
dc.subscribe('undici:request:trailers', () => current?.ends.push(performance.now() - current.t0));
dc.subscribe('http.server.response.finish', () => {
  if (current) current.finish = performance.now() - current.t0;
});
process.on('exit', () => {
  const fanOuts = requests.filter((r) => r.creates.length > 0 && r.headers.length === r.creates.length && r.finish !== undefined).slice(-400);
  if (!fanOuts.length) return;
  const median = (f: (r: Phases) => number) => {
    const xs = fanOuts.map(f).sort((a, b) => a - b);
    return xs[Math.floor(xs.length / 2)].toFixed(2);
  };
  process.stderr.write(
    `phases ${process.argv[1].split('/').pop()} (n=${fanOuts.length}, ms after arrival, medians): ` +
      `upstream created ${median((r) => r.creates[0])}…${median((r) => r.creates[r.creates.length - 1])}, ` +
      `answers' headers ${median((r) => Math.min(...r.headers))}…${median((r) => Math.max(...r.headers))}, ` +
      `last body ended ${median((r) => (r.ends.length ? Math.max(...r.ends) : NaN))}, ` +
      `finished ${median((r) => r.finish!)}\n`,
  );
});
