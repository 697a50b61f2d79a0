/**
 * Are Artillery's merged percentiles right? With several workers (locally, or `run-fargate
 * --count N`), each worker keeps its latencies in a DDSketch (relative accuracy 1 %) and the
 * launcher merges the sketches. This compares the merged percentile with the exact one computed
 * from every raw sample of every worker (the processor appends them to LOAD_SAMPLES_FILE).
 *
 * Definition used by the sketch: the value at rank q·(n−1) rounded down (no interpolation),
 * returned as its bucket's representative value, which is within 1 % of the sample's own value.
 * So the merged percentile must be within 1 % of that exact order statistic (plus Artillery's
 * rounding to 0.1 ms); the type-7 (interpolated) percentile is reported beside it for reference.
 */
import { quantileSorted } from '../lib/verdict/stats';

const SKETCH_RELATIVE_ACCURACY = 0.01;
const ROUNDING_MS = 0.05;

export function checkMergedPercentiles(
  samples: readonly number[],
  merged: Record<string, number>,
  quantiles = [0.5, 0.95, 0.99],
) {
  if (samples.length === 0) return [];
  const sorted = [...samples].sort((a, b) => a - b);
  return quantiles.map((q) => {
    const key = `p${Math.round(q * 100)}`;
    const m = merged[key];
    if (m === undefined) throw new Error(`the merged summary has no ${key}`);
    // The order statistic at rank floor(q·(n−1)) of all raw samples: what the sketch approximates.
    const exact = sorted[Math.floor(q * (sorted.length - 1))] as number;
    return {
      quantile: q,
      merged: m,
      exact,
      interpolated: quantileSorted(sorted, q), // R type 7, for reference
      relativeError: exact === 0 ? Math.abs(m) : Math.abs(m - exact) / exact,
      withinPrecision: Math.abs(m - exact) <= SKETCH_RELATIVE_ACCURACY * Math.abs(exact) + ROUNDING_MS,
    };
  });
}
