/**
 * Descriptive statistics of raw samples. (Stub: the shape is fixed; the implementation is
 * being written in this file.)
 */
export interface Stats {
  n: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
  stddev: number;
  /** 95 % confidence interval of the median (order statistics / bootstrap). */
  ci95: { low: number; high: number };
  /** Samples beyond 1.5 IQR of the quartiles: kept, only counted. */
  outliers: number;
}

export function summarize(_samples: readonly number[]): Stats {
  throw new Error('not implemented yet');
}
