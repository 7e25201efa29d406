/**
 * The Node flags the gateway runs with (package.json's `start` and `gateway` scripts; a test keeps
 * them equal), so the bench measures the gateway as deployed:
 * - `--max-old-space-size=192`: a bounded heap, so V8 collects before the process grows.
 * - `--heap-growing-percent=65`: under 256 MB V8 lets the old generation grow only ~1.3 × what
 *   survived the last full collection before the next one; a search's objects live across young
 *   collections while its hospitals answer, so under load they reach the old generation and full
 *   collections came 5–6 times a second, each marking the whole live heap again. 1.65 × cuts that
 *   count by half (measured: the GC threads' CPU per request down by a third).
 * - `--max-semi-space-size=16`: the young generation V8 gives a heap this size, named so that it
 *   stays: a young collection comes after 16 MB of allocation, so fewer of the objects of requests
 *   in flight (a search holds its hospitals' answers for tens of milliseconds) have lived through
 *   two of them and move to the old generation. Measured with two gateways of each kind and the
 *   floor in turns: 8 MB 0.48–0.52 of the floor, 16 MB 0.59–0.62 (RSS 190 → 211 MB), 24 MB no
 *   better (RSS 246–252; the target is 250). pdfkit loaded on first use paid for it (~15 MB RSS).
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--max-old-space-size=192', '--heap-growing-percent=65', '--max-semi-space-size=16'];
