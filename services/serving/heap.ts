/**
 * How the serving process's V8 heap grows: by a fixed factor of 4 after each full collection,
 * instead of V8's dynamic one.
 *
 * Why: a 100 × 50 lookup allocates ~0.6 MB (Redis reply chunks, the records, the answer), so the
 * young generation is collected every ~0.8 s at 100 lookups/s and a little survives into the old
 * one each time. Under that load V8's dynamic factor settles near its minimum, so the old
 * generation's limit sits a few MB above what is live (~26 MB) plus the young generation's size,
 * and in some runs every young collection then starts an incremental mark-compact that frees
 * almost nothing: 6–20 of them in 6 s, and those pauses were the lookups' p99 (`npm run
 * bench:online` reports them per run as `pacedGc`). With the factor fixed at 4 the limit sits at
 * ~4× the live heap, a full collection comes every few tens of seconds, and the p99 is the
 * floor's again (bench/RESULTS.md, 2026-12-04). The cost is memory: the heap may grow to about
 * 4× what is live before it is collected (~120 MB here).
 *
 * `--initial-old-space-size` does the same from the command line, but Node refuses it in
 * NODE_OPTIONS and `node bin/tributary.mjs serve` would not get it; the growing factor is read
 * at every collection, so it can be set once the process runs. A `--heap-growing-percent` given
 * to node explicitly wins.
 */
import v8 from 'node:v8';

/** The old generation grows to (1 + this / 100) × what survived the last full collection. */
export const SERVING_HEAP_GROWING_PERCENT = 300;

/** Sets the growing factor for this process (V8 flags are per process), unless node was given one. */
export function tuneHeapForServing(): void {
  if (process.execArgv.some((arg) => arg.startsWith('--heap-growing-percent'))) return;
  v8.setFlagsFromString(`--heap-growing-percent=${SERVING_HEAP_GROWING_PERCENT}`);
}
