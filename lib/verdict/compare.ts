/**
 * Did this change make it slower? The decision of an A/B comparison (compare mode,
 * docs/compare-mode.md), from samples of both arms taken in pairs (the same request, close
 * together in time), so the machine's drift and the model's time hit both halves alike.
 *
 * - Times (ms): the median of the paired ratios candidate/base; counts (tokens, statements): the
 *   mean paired difference. Both with a seeded percentile-bootstrap interval over the pairs.
 * - A regression is a change beyond the metric's minimum effect ({@link minEffectFor}), with
 *   confidence after a Holm correction across the metrics compared (with a dozen metrics, plain
 *   95 % intervals would call up to one clean run in four slower: 1 − 0.975¹² ≈ 0.26).
 * - The sampler looks at the pairs after every batch, but only a "no change" may end it early
 *   ({@link within}): a regression is tested where nobody chose to stop, at the cap (look 1), and
 *   for a metric that leans beyond its bound there, once more at twice the cap (look 2), the
 *   family's α split between the two looks. Stopping at the first look that crossed the bound
 *   would call a change of exactly the minimum effect a regression six times as often as stated
 *   (scripts/compare-looks.ts).
 */
import { MeanResampler, MedianResampler, quantile, quantileSorted, seededRandom, stringSeed } from './stats';
import type { Unit } from './metrics-schema';

export const DECISIONS = ['regression', 'improvement', 'no-change', 'insufficient-data'] as const;
export type Decision = (typeof DECISIONS)[number];

/** Family-wise false-alarm rate of one comparison (all its metrics together). */
export const FAMILY_ALPHA = 0.05;
/** One side of a plain 95 % interval: the level of an `unconfirmed` change. */
const UNCORRECTED_ALPHA = 0.025;
/**
 * Share of each metric's α spent at the cap (look 1); the rest is look 2's, for a series the
 * sampler extended (Bonferroni over the two looks: each p-value divided by its share).
 */
export const FIRST_LOOK_SHARE = 0.8;
/** Fewer pairs than this cannot support a decision. */
export const MIN_PAIRS = 6;
/** Bootstrap resamples: the smallest p-value one can show is 1/(RESAMPLES + 1). */
const RESAMPLES = 2000;

/** The samples of one metric from both arms, index-aligned (pair i = base[i], candidate[i]). */
export interface PairedSeries {
  name: string;
  scenario: string;
  unit: Unit;
  base: number[];
  candidate: number[];
  /** Pairs dropped because a half failed (their causes stay in the metrics documents). */
  failedPairs?: number;
  /**
   * Set when the sampler went past its cap (a metric leaned beyond its bound there): the pairs
   * it had at the cap, where look 1 is taken.
   */
  firstLookPairs?: number;
}

export type EffectKind = 'ratio' | 'difference';

/**
 * Two stacks of the same code can differ in some app times by a constant for a whole run, every
 * pair agreeing: an offset of the arm, not of the pair, which pairing cannot cancel. A change in
 * these metrics must exceed it too (ms of the base median).
 * - Inside a chat turn (the app's overhead, the retriever's time), both sampled ABBA on instant
 *   models. The offset was PostgreSQL planning the retriever's query (1.9 vs 1.0 ms in two
 *   databases with the same rows) and reached 1.7 ms, hence a 2 ms floor at first. Since the app
 *   prepares its statements and reads the question once per query, planning takes 0.1–0.6 ms, and
 *   12 A/A runs differed by at most ×0.95–1.05 (≈ 0.4 ms) in overhead and ×0.91–1.08 (≈ 0.3 ms)
 *   in retrieval: so 1 ms for the overhead. A fault elsewhere in the turn also moves the
 *   retriever's time by up to ×1.11 (CPU before it) or ×0.92 (a wait before it), so its floor is
 *   above that: 0.5 ms of ≈ 2.6.
 * - Session create, smaller. Before prepared statements a clean A/A `npm test` once measured
 *   ×1.20 (1.02 vs 1.31 ms), and the first run against a new base commit (every pull request)
 *   ×1.07–1.22, hence 0.3 ms. Since then: 15 A/A runs of its ABBA test ×0.970–1.037, five first
 *   runs in fresh clones ×0.949–1.027 (≤ 0.05–0.08 ms of ≈ 1.4 ms), so 0.2 ms, about +14 %.
 */
const ARM_OFFSET_MS: Partial<Record<string, number>> = {
  'response.app_overhead_ms': 1,
  'memory.chat_retrieval_ms': 0.5,
  'db.session_create_ms': 0.2,
};

/**
 * A chat turn's round trip (API or page, to the first token or to the last) holds the app's arm
 * offsets above, and on a fast model little else: two stacks of the same code answering at once on
 * the instant model (the smoke duet) measured ×0.825 [0.73–0.93] for the first token (49.2 vs
 * 43.6 ms) and ×0.834 for the last in one A/A run on a slower machine, a false "improvement". A
 * change must exceed this many ms too. On the realistic model (first token ≈ 0.37 s, last ≈ 1.4 s)
 * it is 4 % and 1 % of the base: +50 ms per turn is still caught.
 */
const ROUND_TRIP_FLOOR_MS = 15;

/** A round trip's name; a chat turn's when it is also a `response.*` metric. */
const ROUND_TRIP = /round_?trip|total_ms|ttft_ms|ui_done|ui_first/;

/**
 * The smallest change that counts, per metric. Times: a share of the base (0.10 = 10 % slower);
 * round trips, which the model dominates and the pairing makes precise, a smaller share (first
 * token in the page: 5 %). Then one floor in ms: a metric's arm offset (ARM_OFFSET_MS), or for a
 * chat turn's round trip ROUND_TRIP_FLOOR_MS. Counts: half a unit of mean difference, so that one
 * more token or statement counts.
 */
function minEffectFor(name: string, unit: Unit, baseMedian: number): { kind: EffectKind; minEffect: number } {
  if (unit === 'tokens' || unit === 'count') return { kind: 'difference', minEffect: 0.5 };
  const roundTrip = ROUND_TRIP.test(name);
  // The page's first rendered token varies more between two pages than the API's first token
  // (A/A after 20 pairs: [0.979–1.035] vs [0.997–1.006]); +50 ms of it is still +13 %.
  const share = /ui_first/.test(name) ? 0.05 : roundTrip ? 0.02 : 0.1;
  const floorMs = ARM_OFFSET_MS[name] ?? (roundTrip && name.startsWith('response.') ? ROUND_TRIP_FLOOR_MS : 0);
  return { kind: 'ratio', minEffect: baseMedian > 0 ? Math.max(share, floorMs / baseMedian) : share };
}

export interface ArmSummary {
  n: number;
  p50: number | null;
  p95: number | null;
}

export interface ComparedMetric {
  name: string;
  scenario: string;
  unit: Unit;
  base: ArmSummary;
  candidate: ArmSummary;
  /** Candidate / base: median paired ratio (times) or mean(candidate) / mean(base) (counts). */
  ratio: number | null;
  /** 95 % bootstrap interval of the ratio (not corrected; the decision is). */
  ci95: { low: number | null; high: number | null };
  /** Counts only: mean paired difference candidate − base, in the metric's unit. */
  difference?: number;
  kind: EffectKind;
  /** Share of the base (ratio) or units (difference) below which nothing is a regression. */
  minEffect: number;
  /**
   * One-sided p-values over all pairs: "slower by more than minEffect", "faster by more than
   * minEffect". The decision divides them by their look's share ({@link FIRST_LOOK_SHARE}).
   */
  pRegression: number | null;
  pImprovement: number | null;
  /** Pairs dropped because a half failed. */
  failedPairs: number;
  decision: Decision;
  /**
   * A `no-change` whose plain 95 % interval lies beyond the minimum effect: likely slower (or
   * faster), not confirmed after the Holm correction. Does not gate; more pairs would decide.
   */
  unconfirmed?: 'slower' | 'faster';
}

export interface ComparisonBase {
  ref?: string;
  commit?: string;
  url?: string;
}

export interface Comparison {
  base: ComparisonBase;
  candidate: ComparisonBase;
  method: string;
  metrics: ComparedMetric[];
  regressions: number;
  improvements: number;
}

const COMPARISON_METHOD =
  'paired samples (same request on both arms; ABBA blocks with a random start, or both at once), ' +
  'times: median paired ratio, counts: mean paired difference, 95 % percentile bootstrap over pairs; ' +
  `a regression is a change beyond the metric's minimum effect, Holm-corrected across metrics (α = ${FAMILY_ALPHA}); ` +
  'sampling stops early only on no change; a change is decided at the cap, or for a metric leaning there ' +
  `at twice the cap, each metric's α split ${Math.round(FIRST_LOOK_SHARE * 100)}/` +
  `${Math.round((1 - FIRST_LOOK_SHARE) * 100)} between the two looks`;

function summarizeArm(values: readonly number[]): ArmSummary {
  if (values.length === 0) return { n: 0, p50: null, p95: null };
  return { n: values.length, p50: quantile(values, 0.5), p95: quantile(values, 0.95) };
}

/**
 * Bootstrap distribution (sorted) of the median or the mean of the pairs, resampling pair indices.
 * The sampler calls this after every batch, for every metric: the median's resamples are not sorted
 * one by one (MedianResampler).
 */
function bootstrap(values: readonly number[], stat: 'median' | 'mean', seed: number, resamples: number): Float64Array {
  const rnd = seededRandom(seed);
  const out = new Float64Array(resamples);
  const resample = stat === 'median' ? new MedianResampler(values) : new MeanResampler(values);
  for (let r = 0; r < resamples; r++) out[r] = resample.draw(rnd);
  return out.sort();
}

const meanOf = (buf: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < buf.length; i++) s += buf[i] as number;
  return buf.length > 0 ? s / buf.length : 0;
};

/** Share of a sorted distribution at or below / at or above x, as a one-sided p-value. */
function pAtMost(sorted: Float64Array, x: number): number {
  let k = 0;
  while (k < sorted.length && (sorted[k] as number) <= x) k++;
  return (k + 1) / (sorted.length + 1);
}
function pAtLeast(sorted: Float64Array, x: number): number {
  let k = sorted.length;
  while (k > 0 && (sorted[k - 1] as number) >= x) k--;
  return (sorted.length - k + 1) / (sorted.length + 1);
}

/** Times below this are treated as this (a ratio needs positive values). */
const TINY = 1e-3;

/**
 * Compares one metric, without the correction across metrics (see {@link compareSeries}).
 * `resamples`: of the bootstrap; its p-values are never below 1/(resamples + 1).
 */
export function compareOne(series: PairedSeries, resamples = RESAMPLES): ComparedMetric {
  const pairs = Math.min(series.base.length, series.candidate.length);
  const base = series.base.slice(0, pairs);
  const cand = series.candidate.slice(0, pairs);
  const { kind, minEffect } = minEffectFor(series.name, series.unit, quantile(base, 0.5));
  const out: ComparedMetric = {
    name: series.name,
    scenario: series.scenario,
    unit: series.unit,
    base: summarizeArm(series.base),
    candidate: summarizeArm(series.candidate),
    ratio: null,
    ci95: { low: null, high: null },
    kind,
    minEffect,
    pRegression: null,
    pImprovement: null,
    failedPairs: series.failedPairs ?? 0,
    decision: 'insufficient-data',
  };
  if (pairs < MIN_PAIRS) return out;
  const seed = stringSeed(`${series.name}|${series.scenario}`);
  if (kind === 'ratio') {
    const logRatios = base.map((b, i) => Math.log(Math.max(cand[i] as number, TINY) / Math.max(b, TINY)));
    const dist = bootstrap(logRatios, 'median', seed, resamples);
    const upper = Math.log(1 + minEffect);
    out.ratio = Math.exp(quantile(logRatios, 0.5));
    out.ci95 = { low: Math.exp(quantileSorted(dist, 0.025)), high: Math.exp(quantileSorted(dist, 0.975)) };
    out.pRegression = pAtMost(dist, upper);
    out.pImprovement = pAtLeast(dist, -upper);
  } else {
    const diffs = base.map((b, i) => (cand[i] as number) - b);
    const dist = bootstrap(diffs, 'mean', seed, resamples);
    const baseMean = meanOf(base);
    const toRatio = (d: number): number | null => (baseMean > 0 ? 1 + d / baseMean : null);
    out.difference = meanOf(diffs);
    out.ratio = toRatio(out.difference);
    out.ci95 = { low: toRatio(quantileSorted(dist, 0.025)), high: toRatio(quantileSorted(dist, 0.975)) };
    out.pRegression = pAtMost(dist, minEffect);
    out.pImprovement = pAtLeast(dist, -minEffect);
  }
  out.decision = 'no-change';
  return out;
}

/**
 * Holm's step-down correction: which of the p-values are significant at family-wise `alpha`.
 * Sorted ascending, the k-th smallest (0-based) must be ≤ alpha / (m − k), and the first that
 * is not stops the procedure.
 */
export function holm(pValues: readonly number[], alpha = FAMILY_ALPHA): boolean[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p);
  const significant = new Array<boolean>(m).fill(false);
  for (let k = 0; k < m; k++) {
    const { p, i } = order[k] as { p: number; i: number };
    if (p > alpha / (m - k)) break;
    significant[i] = true;
  }
  return significant;
}

/**
 * Enough resamples that the smallest p-value the bootstrap can show, divided by the smaller look's
 * share of α, is at most half of Holm's first threshold (α over both directions of `metrics`):
 * otherwise a second look could never decide (with 2,000 resamples, not even with twelve
 * metrics), and with more metrics no look could. Twelve metrics: 4,800.
 */
export function resamplesFor(metrics: number): number {
  const smallestShare = Math.min(FIRST_LOOK_SHARE, 1 - FIRST_LOOK_SHARE);
  return Math.max(RESAMPLES, Math.ceil((2 * (2 * metrics)) / (FAMILY_ALPHA * smallestShare)));
}

/** Compares every metric and decides each, Holm-corrected across all of them. */
export function compareSeries(
  series: readonly PairedSeries[],
  arms: { base: ComparisonBase; candidate: ComparisonBase },
): Comparison {
  const resamples = resamplesFor(series.length);
  const metrics = series.map((s) => compareOne(s, resamples));
  const tested = metrics.filter((m) => m.decision !== 'insufficient-data');
  // Two one-sided tests per metric: the family is every direction of every metric.
  const pValues = tested.flatMap((m) => {
    const s = series[metrics.indexOf(m)] as PairedSeries;
    return sequentialP(s, m, resamples);
  });
  const significant = holm(pValues);
  tested.forEach((m, i) => {
    if (significant[2 * i]) m.decision = 'regression';
    else if (significant[2 * i + 1]) m.decision = 'improvement';
    // Said, not hidden: a change the corrected test could not confirm reads "likely", not "none".
    else if ((m.pRegression ?? 1) <= UNCORRECTED_ALPHA) m.unconfirmed = 'slower';
    else if ((m.pImprovement ?? 1) <= UNCORRECTED_ALPHA) m.unconfirmed = 'faster';
  });
  return {
    base: arms.base,
    candidate: arms.candidate,
    method: COMPARISON_METHOD,
    metrics,
    regressions: metrics.filter((m) => m.decision === 'regression').length,
    improvements: metrics.filter((m) => m.decision === 'improvement').length,
  };
}

/**
 * The [regression, improvement] p-values of a metric as its looks allow (Bonferroni over them):
 * look 1 at the cap gets FIRST_LOOK_SHARE of the α, look 2 (only for an extended series) the rest.
 * A series that stopped before its cap stopped on "no change", where neither can be significant.
 */
function sequentialP(s: PairedSeries, final: ComparedMetric, resamples: number): [number, number] {
  const adjust = (p: number | null, share: number) => Math.min(1, (p ?? 1) / share);
  const n = Math.min(s.base.length, s.candidate.length);
  if (s.firstLookPairs === undefined || s.firstLookPairs >= n)
    return [adjust(final.pRegression, FIRST_LOOK_SHARE), adjust(final.pImprovement, FIRST_LOOK_SHARE)];
  const first = compareOne(
    { ...s, base: s.base.slice(0, s.firstLookPairs), candidate: s.candidate.slice(0, s.firstLookPairs) },
    resamples,
  );
  const second = 1 - FIRST_LOOK_SHARE;
  return [
    Math.min(adjust(first.pRegression, FIRST_LOOK_SHARE), adjust(final.pRegression, second)),
    Math.min(adjust(first.pImprovement, FIRST_LOOK_SHARE), adjust(final.pImprovement, second)),
  ];
}

/**
 * Metrics a comparison usually holds (e2e/compare.spec.ts: twelve), for the sampler's stopping
 * rule before the whole family is known.
 */
export const EXPECTED_FAMILY_SIZE = 12;
/** The sampler's level: Bonferroni over the expected family, both directions (no looser than Holm). */
const SAMPLER_LEVEL = FAMILY_ALPHA / (2 * EXPECTED_FAMILY_SIZE);

/**
 * Whether a metric is clearly within its minimum effect: "slower than the bound" and "faster than
 * the bound" both rejected at the level the decision uses (Bonferroni over the expected family,
 * both directions: no looser than Holm). The only answer the sampler may stop early on: it can
 * never be a regression, so stopping on it costs no false alarms; a real change runs to the cap.
 */
export function within(metric: ComparedMetric): boolean {
  if (metric.decision === 'insufficient-data') return false;
  const pUp = metric.pRegression;
  const pDown = metric.pImprovement;
  if (pUp === null || pDown === null) return true;
  return 1 - pUp <= SAMPLER_LEVEL && 1 - pDown <= SAMPLER_LEVEL;
}

/**
 * Whether a metric leans beyond its minimum effect at the cap without being decided there: its
 * plain 95 % interval clears the bound, look 1's share of the corrected level does not. The sampler
 * then takes a second look at twice the cap: a change that differs by request (a longer prompt
 * lengthens some replies, not others) leaned this way at 20 pairs and was confirmed with more.
 */
export function leaning(metric: ComparedMetric): boolean {
  if (metric.decision === 'insufficient-data') return false;
  const pUp = metric.pRegression ?? 1;
  const pDown = metric.pImprovement ?? 1;
  const decided = FIRST_LOOK_SHARE * SAMPLER_LEVEL;
  if (pUp <= decided || pDown <= decided) return false;
  return pUp <= UNCORRECTED_ALPHA || pDown <= UNCORRECTED_ALPHA;
}
