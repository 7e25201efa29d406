/**
 * The Node flags the gateway runs with (package.json's `start` and `gateway` scripts; a test keeps
 * them equal), so the bench measures the gateway as deployed:
 * - `--max-old-space-size=192`: a bounded heap, so V8 collects before the process grows.
 * - `--heap-growing-percent=65`: under 256 MB V8 lets the old generation grow only ~1.3 × what
 *   survived the last full collection before the next one; a search's objects live across young
 *   collections while its hospitals answer, so under load they reach the old generation and full
 *   collections came 5–6 times a second, each marking the whole live heap again. 1.65 × cuts that
 *   count by half (measured: the GC threads' CPU per request down by a third).
 * - `--max-semi-space-size=8`: a young generation half V8's default, which pays for that room:
 *   RSS under load ~222 MB in `npm run bench` (at 1.8 × it reached 253; the target is 250).
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--max-old-space-size=192', '--heap-growing-percent=65', '--max-semi-space-size=8'];
