/**
 * Descriptive statistics of raw samples, the growth exponent of a scaling curve, and the
 * bootstrap used by the baseline comparison.
 *
 * Quantiles: **Hyndman & Fan type 7** (R's `quantile()`, NumPy's `percentile()`): for sorted
 * x[0..n-1], h = (n − 1)·p and Q(p) = x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]); implemented here
 * because simple-statistics' `quantileSorted` is nearest-rank. Mean, standard deviation and
 * regression come from simple-statistics. Empty input gives n = 0 and NaN statistics.
 */
import { errorFunction, linearRegression, mean as ssMean, sampleStandardDeviation } from 'simple-statistics';

export interface Stats {
  n: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
  /** Sample standard deviation (n − 1 denominator); 0 for n < 2. */
  stddev: number;
  /** 95 % confidence interval of the median (order statistics; open, ±Infinity, for n ≤ 5). */
  ci95: { low: number; high: number };
  /** Samples beyond 1.5 IQR of the quartiles (Tukey fences): kept, only counted. */
  outliers: number;
}

/** Type-7 quantile of an ascending-sorted array. */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  if (p <= 0) return sorted[0] as number;
  if (p >= 1) return sorted[n - 1] as number;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const a = sorted[lo] as number;
  const b = sorted[Math.min(lo + 1, n - 1)] as number;
  return a + (h - lo) * (b - a);
}

/** Differences of successive values (frame timestamps → frame times). */
export function successiveDifferences(values: readonly number[]): number[] {
  return values.slice(1).map((v, i) => v - (values[i] as number));
}

/** Type-7 quantile of unsorted samples. */
export function quantile(samples: readonly number[], p: number): number {
  return quantileSorted(Float64Array.from(samples).sort(), p);
}

/** Each tail's share outside a two-sided 95 % interval. */
const ALPHA_HALF = (1 - 0.95) / 2;

const medianRankCache = new Map<number, number>();

/**
 * The 1-based lower rank l of the distribution-free 95 % CI of the median: the count of samples
 * below the true median is Binomial(n, ½), so [x(l), x(n−l+1)] covers it with probability
 * 1 − 2·P(B ≤ l−1); l is the largest whose coverage is ≥ 95 %, or 0 when none is (n ≤ 5).
 * Log-space binomial, so large n does not underflow.
 */
export function medianCiRank(n: number): number {
  const cached = medianRankCache.get(n);
  if (cached !== undefined) return cached;
  const ln2n = n * Math.LN2;
  let logChoose = 0; // ln C(n, 0)
  let cdf = 0; // P(B ≤ i)
  let rank = 0;
  for (let i = 0; i < n; i++) {
    cdf += Math.exp(logChoose - ln2n);
    // [x(i+1), x(n−i)] has coverage 1 − 2·P(B ≤ i).
    if (cdf > ALPHA_HALF + 1e-12) break;
    rank = i + 1;
    logChoose += Math.log(n - i) - Math.log(i + 1);
  }
  medianRankCache.set(n, rank);
  return rank;
}

/** A confidence interval whose bounds may be open (±Infinity) when n is too small to bound that side. */
export interface Interval {
  low: number;
  high: number;
}

/**
 * The 95 % Wilson score interval of a proportion, `hits` of `n`: unlike the normal approximation
 * it stays within 0–1 and holds for the few failures of a short run (1 of 20: 0.9–23.6 %).
 */
export function proportionCi(hits: number, n: number, z = 1.96): Interval {
  if (n <= 0) return { low: Number.NaN, high: Number.NaN };
  const p = hits / n;
  const z2 = z * z;
  const centre = p + z2 / (2 * n);
  const margin = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  const scale = 1 + z2 / n;
  return { low: Math.max(0, (centre - margin) / scale), high: Math.min(1, (centre + margin) / scale) };
}

/**
 * Distribution-free confidence interval of the p-quantile from order statistics (the median's
 * interval above, generalised). The count B of samples below the true quantile is Binomial(n, p);
 * [x(l), x(u)] (1-based) covers it with probability P(l ≤ B ≤ u − 1). We take the largest l with
 * P(B ≤ l − 1) ≤ α/2 and the smallest u with P(B ≥ u) ≤ α/2. When no such u ≤ n exists (a p95 of
 * 20 samples: the sample cannot bound its own tail), `high` is +Infinity, and likewise `low` is
 * −Infinity: the data cannot tell that side, and a check must not pretend it can.
 */
export function quantileCi(sorted: ArrayLike<number>, p: number): Interval {
  const n = sorted.length;
  if (n === 0) return { low: Number.NaN, high: Number.NaN };
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  // pmf(k) in log space, k = 0..n, so n in the thousands neither underflows nor overflows.
  const pmf = new Float64Array(n + 1);
  let logChoose = 0;
  for (let k = 0; k <= n; k++) {
    pmf[k] = Math.exp(logChoose + k * lp + (n - k) * lq);
    logChoose += Math.log(n - k) - Math.log(k + 1);
  }
  let l = 0;
  let lower = 0; // P(B ≤ l − 1)
  while (l < n && lower + (pmf[l] as number) <= ALPHA_HALF + 1e-12) lower += pmf[l++] as number;
  let u = n + 1;
  let upper = 0; // P(B ≥ u)
  while (u > 1 && upper + (pmf[u - 1] as number) <= ALPHA_HALF + 1e-12) upper += pmf[--u] as number;
  return {
    low: l === 0 ? Number.NEGATIVE_INFINITY : (sorted[l - 1] as number),
    high: u > n ? Number.POSITIVE_INFINITY : (sorted[u - 1] as number),
  };
}

export function summarize(samples: readonly number[]): Stats {
  const n = samples.length;
  if (n === 0) {
    const nan = Number.NaN;
    const ci95 = { low: nan, high: nan };
    return { n, min: nan, mean: nan, p50: nan, p90: nan, p95: nan, p99: nan, max: nan, stddev: nan, ci95, outliers: 0 };
  }
  const sorted = Float64Array.from(samples).sort();
  const q = (p: number) => quantileSorted(sorted, p);
  const min = sorted[0] as number;
  const max = sorted[n - 1] as number;
  const q1 = q(0.25);
  const q3 = q(0.75);
  const fence = 1.5 * (q3 - q1);
  let outliers = 0;
  for (const x of sorted) if (x < q1 - fence || x > q3 + fence) outliers++;
  const rank = medianCiRank(n);
  // n ≤ 5: even [min, max] covers the median less than 95 % of the time (93.75 % at 5, 87.5 % at
  // 4), so the interval is open, as quantileCi's; the summary writes it as null.
  const ci95 =
    rank === 0
      ? { low: -Infinity, high: Infinity }
      : { low: sorted[rank - 1] as number, high: sorted[n - rank] as number };
  return {
    n,
    min,
    mean: ssMean(samples),
    p50: q(0.5),
    p90: q(0.9),
    p95: q(0.95),
    p99: q(0.99),
    max,
    stddev: n < 2 ? 0 : sampleStandardDeviation(samples),
    ci95,
    outliers,
  };
}

// ---------------------------------------------------------------- scaling curve

export interface PowerLawFit {
  /** b in value ≈ a·size^b: 0 = flat, 1 = linear, 2 = quadratic. */
  exponent: number;
  /** a in value ≈ a·size^b. */
  coefficient: number;
  /** Coefficient of determination of the log-log fit. */
  r2: number;
}

/** Values are clamped to ≥ 1e-3 before the log: a 0 ms timing means "below timer resolution". */
const MIN_LOG_VALUE = 1e-3;

/** Least-squares fit of log(value) against log(size). Needs ≥ 2 distinct positive sizes. */
export function fitPowerLaw(points: readonly { size: number; value: number }[]): PowerLawFit {
  const usable = points.filter((p) => p.size > 0 && Number.isFinite(p.size) && Number.isFinite(p.value));
  const distinctSizes = new Set(usable.map((p) => p.size));
  if (distinctSizes.size < 2) {
    throw new Error(`growth exponent needs at least 2 distinct positive sizes, got ${distinctSizes.size}`);
  }
  const xy = usable.map((p): [number, number] => [Math.log(p.size), Math.log(Math.max(p.value, MIN_LOG_VALUE))]);
  const { m, b } = linearRegression(xy);
  const meanY = ssMean(xy.map((p) => p[1]));
  let ssTot = 0;
  let ssRes = 0;
  for (const [x, y] of xy) {
    ssTot += (y - meanY) ** 2;
    ssRes += (y - (m * x + b)) ** 2;
  }
  return { exponent: m, coefficient: Math.exp(b), r2: ssTot === 0 ? 1 : 1 - ssRes / ssTot };
}

// ---------------------------------------------------------------- bootstrap (baseline comparison)

/** A 32-bit seed from a text (FNV-1a): one stable, independent bootstrap seed per metric name. */
export function stringSeed(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** mulberry32: tiny seeded PRNG so bootstrap results are reproducible run to run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw from uniform draws of `rnd` (Box–Muller): synthetic log-normal timings. */
export function standardNormal(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}

/**
 * Medians of bootstrap resamples (n draws with replacement from `src`) without sorting each one:
 * `src` is ranked once, a resample is a count per rank, and its median is read off the counts.
 * The same draws give exactly the median a sorted copy gives (quantileSorted at ½), in O(n)
 * instead of O(n log n): 4–7× faster at 300–3,000 samples, and the reporter and compare mode's
 * sampler draw thousands of resamples per metric. `src` must hold no NaN.
 */
export class MedianResampler {
  private readonly sorted: Float64Array;
  private readonly rankOf: Uint32Array;
  private readonly counts: Uint32Array;

  constructor(src: ArrayLike<number>) {
    const n = src.length;
    const value = (i: number) => src[i] as number;
    // `|| 0`: Infinity − Infinity is NaN; equal values may take either rank.
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => value(a) - value(b) || 0);
    this.sorted = Float64Array.from(order, value);
    this.rankOf = new Uint32Array(n);
    order.forEach((i, rank) => (this.rankOf[i] = rank));
    this.counts = new Uint32Array(n);
  }

  /** Draws one resample (n calls of `rnd`, as `src[Math.floor(rnd() * n)]` would) and returns its median. */
  draw(rnd: () => number): number {
    const { counts, rankOf, sorted } = this;
    const n = counts.length;
    if (n === 0) return Number.NaN;
    counts.fill(0);
    for (let i = 0; i < n; i++) (counts[rankOf[Math.floor(rnd() * n)] as number] as number)++;
    // quantileSorted(resample, ½): positions lo and lo + 1 of the sorted resample.
    const h = (n - 1) * 0.5;
    const lo = Math.floor(h);
    let rank = 0;
    let before = 0; // resample values at ranks below `rank`
    while (before + (counts[rank] as number) <= lo) before += counts[rank++] as number;
    const a = sorted[rank] as number;
    if (lo + 1 >= n) return a;
    while (before + (counts[rank] as number) <= lo + 1) before += counts[rank++] as number;
    const b = sorted[rank] as number;
    return a + (h - lo) * (b - a);
  }
}

/** Means of bootstrap resamples (n draws with replacement from `src`), the same draws as MedianResampler. */
export class MeanResampler {
  constructor(private readonly src: ArrayLike<number>) {}

  draw(rnd: () => number): number {
    const n = this.src.length;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += this.src[Math.floor(rnd() * n)] as number;
    return n > 0 ? sum / n : Number.NaN;
  }
}

export type Center = 'median' | 'mean';

/** The median or the mean of `values`; NaN when there are none. */
export function centerOf(values: readonly number[], center: Center): number {
  if (values.length === 0) return Number.NaN;
  return center === 'mean' ? values.reduce((a, b) => a + b, 0) / values.length : quantile(values, 0.5);
}

export interface RatioCi {
  /** center(current) / center(baseline) on the observed samples (the median unless asked otherwise). */
  ratio: number;
  low: number;
  high: number;
  /** Resamples actually drawn (may be capped for large inputs). */
  resamples: number;
  /**
   * With `opts.bounds` [low, high]: one-sided p-values of "not above `high`" and "not below `low`"
   * (normal approximation of the log ratio, with the bootstrap's standard error).
   */
  pAbove?: number;
  pBelow?: number;
}

/** Upper bound of sampled values per bootstrap (resamples × (n₁ + n₂)), to keep the reporter fast. */
export const BOOTSTRAP_WORK_CAP = 4_000_000;

/**
 * Percentile-bootstrap confidence interval of center(current) / center(baseline), the median by
 * default, resampling each group independently with a seeded PRNG. Requires a positive center.
 */
export function bootstrapRatio(
  baseline: readonly number[],
  current: readonly number[],
  opts: { resamples?: number; seed?: number; bounds?: [number, number]; center?: Center } = {},
): RatioCi {
  const center = opts.center ?? 'median';
  if (baseline.length === 0 || current.length === 0) throw new Error('bootstrap needs samples in both groups');
  const perResample = baseline.length + current.length;
  const resamples = Math.max(200, Math.min(opts.resamples ?? 2000, Math.floor(BOOTSTRAP_WORK_CAP / perResample)));
  const rnd = seededRandom(opts.seed ?? 0x7_4);
  const Resampler = center === 'mean' ? MeanResampler : MedianResampler;
  const resampleB = new Resampler(baseline);
  const resampleC = new Resampler(current);
  const ratios = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    const mb = resampleB.draw(rnd);
    const mc = resampleC.draw(rnd);
    ratios[r] = mb > 0 ? mc / mb : Number.POSITIVE_INFINITY;
  }
  ratios.sort();
  const ratio = centerOf(current, center) / centerOf(baseline, center);
  const out: RatioCi = {
    ratio,
    low: quantileSorted(ratios, ALPHA_HALF),
    high: quantileSorted(ratios, 1 - ALPHA_HALF),
    resamples,
  };
  if (opts.bounds) {
    // Normal approximation on the log scale, with the bootstrap's spread: a share of resamples
    // cannot resolve the small p-values a correction over dozens of metrics asks for.
    let sum = 0;
    let sumSq = 0;
    let k = 0;
    for (const r of ratios) {
      if (!(r > 0) || !Number.isFinite(r)) continue;
      const l = Math.log(r);
      sum += l;
      sumSq += l * l;
      k++;
    }
    const se = k > 1 ? Math.sqrt(Math.max(0, (sumSq - (sum * sum) / k) / (k - 1))) : 0;
    const at = (bound: number): number => {
      const z = (Math.log(bound) - Math.log(ratio)) / se;
      // Φ(z) from erf: simple-statistics' table-based CDF stops at |z| ≈ 3 (p ≥ 0.001).
      if (se > 0 && Number.isFinite(z)) return 0.5 * (1 + errorFunction(z / Math.SQRT2));
      return ratio <= bound ? 1 : 0;
    };
    const [low, high] = opts.bounds;
    out.pAbove = at(high);
    out.pBelow = 1 - at(low);
  }
  return out;
}
