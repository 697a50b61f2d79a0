/**
 * How fast this machine runs single-threaded JavaScript: a fixed workload, timed. The bundled app's
 * own work is CPU work, so its milliseconds scale with this figure, and two runs' absolute times
 * (a baseline from another machine, a verdict that flips on a slower one) read better beside it.
 * The fastest of a few rounds: noise only ever adds time.
 */

/**
 * The workload: fill and sort pseudo-random doubles, then sum square roots. It allocates one array
 * up front and nothing after, so the caller's heap (and its garbage collector) cannot colour it.
 */
const N = 200_000;
function workload(values: Float64Array): number {
  let seed = 0x7_4;
  for (let i = 0; i < N; i++) {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    values[i] = seed / 4_294_967_296;
  }
  values.sort();
  let sum = 0;
  for (let i = 0; i < N; i++) sum += Math.sqrt(values[i] as number);
  return sum;
}

/** Milliseconds of the fastest of `rounds` runs of the workload (one decimal). */
export function cpuBenchmarkMs(rounds = 7): number {
  // Allocated here, not at import: the reports import this module for cpuBenchmarkOf alone.
  const values = new Float64Array(N);
  let best = Number.POSITIVE_INFINITY;
  let sink = 0;
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    sink += workload(values);
    best = Math.min(best, performance.now() - start);
  }
  // `sink` keeps the work from being optimised away.
  return sink > 0 ? Math.round(best * 10) / 10 : best;
}

/** The CPU benchmark recorded in a run's environment (environment.json, perf-summary.json), if any. */
export function cpuBenchmarkOf(environment: Record<string, unknown> | undefined): number | undefined {
  const machine = environment?.machine;
  if (typeof machine !== 'object' || machine === null) return undefined;
  const ms = (machine as Record<string, unknown>).cpuBenchmarkMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? ms : undefined;
}
