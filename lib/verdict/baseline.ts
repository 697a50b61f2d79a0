/**
 * Baseline comparison (advisory): `PERF_BASELINE=<earlier perf-summary.json>`, another run, often
 * on another machine; a same-run comparison is compare mode's job (PERF_COMPARE_REF).
 *
 * Per metric present in both runs: the change of p50 and p95, and a decision from a seeded
 * bootstrap 95 % CI of median(current) / median(baseline) (of the means for relevance scores,
 * whose checks gate on the mean; lib/verdict/metric-catalog.ts). For lower-is-better metrics a
 * regression when the CI's lower bound > 1 + tolerance, an improvement when its upper bound
 * < 1 − tolerance (mirrored for the higher-is-better ones: recall, MRR, rows/s), and, as in
 * compare mode, only when the one-sided test stays significant after a Holm correction across
 * all compared metrics. Fewer than 3 samples on either side, or a non-positive center:
 * 'insufficient-data'. Bool facts are not compared.
 */
import {
  SUMMARY_SCHEMA_VERSION,
  perfSummarySchema,
  type BaselineComparison,
  type BaselineResult,
  type MetricSummary,
  type PerfSummary,
} from '../report/summary';
import { cpuBenchmarkOf } from '../run/cpu-benchmark';
import { bootstrapRatio, centerOf, stringSeed, type Center } from './stats';
import { FAMILY_ALPHA, holm } from './compare';
import { metricKey } from './checkpoint';
import { catalogEntry } from './metric-catalog';
import { firstIssue, readJsonFile } from './json-file';

export class BaselineError extends Error {
  override name = 'BaselineError';
}

export const DEFAULT_TOLERANCE = 0.1;
export const MIN_SAMPLES_FOR_DECISION = 3;
const DEFAULT_RESAMPLES = 2000;

/** What PERF_BASELINE_TOLERANCE accepts, for error messages (here and in lib/run/config.ts). */
export const TOLERANCE_FORMS = 'a fraction like 0.1 or a percentage like 10% (0 ≤ tolerance < 10)';

/**
 * A non-empty `PERF_BASELINE_TOLERANCE` as a fraction ("0.1" and "10%" → 0.1); undefined when
 * invalid. The one parser: lib/run/config.ts validates with it, so both accept the same forms.
 */
export function toleranceValue(raw: string): number | undefined {
  const s = raw.trim();
  const percent = s.endsWith('%');
  const digits = (percent ? s.slice(0, -1) : s).trim();
  // Number('') is 0: a blank number part ("%" alone) is not a tolerance.
  if (digits === '') return undefined;
  const v = percent ? Number(digits) / 100 : Number(digits);
  return Number.isFinite(v) && v >= 0 && v < 10 ? v : undefined;
}

/** `PERF_BASELINE_TOLERANCE`: a fraction (0.1) or a percentage ("10%"); unset → the default. */
export function parseTolerance(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return DEFAULT_TOLERANCE;
  const v = toleranceValue(raw);
  if (v === undefined) throw new BaselineError(`PERF_BASELINE_TOLERANCE=${raw}: expected ${TOLERANCE_FORMS}`);
  return v;
}

/** Reads and validates an earlier perf-summary.json; every problem is one clear BaselineError. */
export function loadBaseline(path: string): PerfSummary {
  const json = readJsonFile(path, (problem) => new BaselineError(`PERF_BASELINE=${path}: ${problem}`));
  const version = json && typeof json === 'object' ? (json as { schemaVersion?: unknown }).schemaVersion : undefined;
  // Version 2 only added optional fields (compare mode): a version 1 summary reads as it is.
  if (version !== SUMMARY_SCHEMA_VERSION && version !== 1) {
    throw new BaselineError(
      `PERF_BASELINE=${path}: schemaVersion ${JSON.stringify(version)} ` +
        `but this suite reads schemaVersion 1 or ${SUMMARY_SCHEMA_VERSION}; ` +
        'produce a new baseline with this version of the suite (its reports/perf-summary.json)',
    );
  }
  const parsed = perfSummarySchema.safeParse({ ...(json as object), schemaVersion: SUMMARY_SCHEMA_VERSION });
  if (!parsed.success) {
    throw new BaselineError(`PERF_BASELINE=${path}: not a valid perf-summary.json: ${firstIssue(parsed.error)}`);
  }
  return parsed.data;
}

export type ComparableMetric = Pick<
  MetricSummary,
  'name' | 'scenario' | 'memoryCount' | 'unit' | 'samples' | 'n' | 'p50' | 'p95'
>;

const change = (before: number | null, after: number | null) =>
  before === null || after === null || before === 0 ? null : after / before - 1;

export function compareMetric(
  baseline: ComparableMetric,
  current: ComparableMetric,
  tolerance: number,
  resamples = DEFAULT_RESAMPLES,
): BaselineComparison {
  return compareCounted(baseline, current, tolerance, resamples).comparison;
}

/**
 * {@link compareMetric}, plus, when the bootstrap ran, the resamples it really drew (capped for
 * large samples) and its one-sided p-values, for the correction across metrics.
 */
function compareCounted(
  baseline: ComparableMetric,
  current: ComparableMetric,
  tolerance: number,
  resamples: number,
): { comparison: BaselineComparison; test?: { resamples: number; pWorse: number; pBetter: number } } {
  // A metric the catalog does not know (a newer suite's baseline): lower-is-better by the median.
  const entry = catalogEntry(current.name);
  const better = entry?.better ?? 'lower';
  const center: Center = entry?.center ?? 'median';
  const base = {
    name: current.name,
    scenario: current.scenario,
    ...(current.memoryCount !== undefined ? { memoryCount: current.memoryCount } : {}),
    unit: current.unit,
    better,
    baseline: { n: baseline.n, p50: baseline.p50, p95: baseline.p95 },
    current: { n: current.n, p50: current.p50, p95: current.p95 },
    p50Change: change(baseline.p50, current.p50),
    p95Change: change(baseline.p95, current.p95),
  };
  const cb = centerOf(baseline.samples, center);
  const cc = centerOf(current.samples, center);
  const pointRatio = cb > 0 && cc >= 0 ? cc / cb : null;
  if (
    baseline.samples.length < MIN_SAMPLES_FOR_DECISION ||
    current.samples.length < MIN_SAMPLES_FOR_DECISION ||
    !(cb > 0)
  ) {
    return { comparison: { ...base, ratio: pointRatio, ci95: null, decision: 'insufficient-data' } };
  }
  const ci = bootstrapRatio(baseline.samples, current.samples, {
    resamples,
    seed: stringSeed(metricKey(current)),
    bounds: [1 - tolerance, 1 + tolerance],
    center,
  });
  let decision: BaselineComparison['decision'] = 'no-change';
  const worse = better === 'lower' ? ci.low > 1 + tolerance : ci.high < 1 - tolerance;
  const improved = better === 'lower' ? ci.high < 1 - tolerance : ci.low > 1 + tolerance;
  if (worse) decision = 'regression';
  else if (improved) decision = 'improvement';
  const finite = (v: number) => (Number.isFinite(v) ? v : null);
  // With `bounds`, the bootstrap always sets both p-values.
  const [pWorse, pBetter] = (better === 'lower' ? [ci.pAbove, ci.pBelow] : [ci.pBelow, ci.pAbove]) as [number, number];
  return {
    comparison: { ...base, ratio: finite(ci.ratio), ci95: { low: finite(ci.low), high: finite(ci.high) }, decision },
    test: { resamples: ci.resamples, pWorse, pBetter },
  };
}

/** The resample counts actually drawn, for the method text: "2,000", or "1,200–2,000" when a cap lowered some. */
function describeResamples(counts: readonly number[]): string {
  const fmt = (n: number) => n.toLocaleString('en-US');
  if (counts.length === 0) return 'no resamples drawn: no metric had enough samples on both sides';
  const min = Math.min(...counts);
  const max = Math.max(...counts);
  return min === max
    ? `${fmt(max)} resamples`
    : `${fmt(min)}–${fmt(max)} resamples per metric (fewer where many samples hit the work cap)`;
}

export function compareToBaseline(
  current: readonly ComparableMetric[],
  baseline: PerfSummary,
  opts: { path: string; tolerance?: number; resamples?: number; environment?: Record<string, unknown> },
): BaselineResult {
  const tolerance = opts.tolerance ?? DEFAULT_TOLERANCE;
  const comparable = (m: ComparableMetric) => m.unit !== 'bool';
  const before = new Map(baseline.metrics.filter(comparable).map((m) => [metricKey(m), m]));
  const now = new Map(current.filter(comparable).map((m) => [metricKey(m), m]));
  const comparisons: BaselineComparison[] = [];
  const tested: { comparison: BaselineComparison; resamples: number; pWorse: number; pBetter: number }[] = [];
  for (const [key, m] of now) {
    const b = before.get(key);
    if (!b) continue;
    const { comparison, test } = compareCounted(b, m, tolerance, opts.resamples ?? DEFAULT_RESAMPLES);
    comparisons.push(comparison);
    if (test) tested.push({ comparison, ...test });
  }
  // The same rule as compare mode: a change must also survive Holm's correction across metrics.
  const significant = holm(tested.flatMap((t) => [t.pWorse, t.pBetter]));
  tested.forEach((t, i) => {
    const c = t.comparison;
    if (c.decision === 'regression' && !significant[2 * i]) c.decision = 'no-change';
    if (c.decision === 'improvement' && !significant[2 * i + 1]) c.decision = 'no-change';
  });
  return {
    path: opts.path,
    baselineStartedAt: baseline.startedAt,
    tolerance,
    method:
      // The bootstrap may draw fewer than requested (work cap in lib/verdict/stats.ts): report what was used.
      `Bootstrap 95 % CI of the ratio of medians (of means for relevance scores; seeded, ` +
      `${describeResamples(tested.map((t) => t.resamples))}); ` +
      `regression only when the whole CI lies beyond ±${(tolerance * 100).toFixed(0)} % and the change ` +
      `survives a Holm correction across the ${tested.length} metrics compared (α = ${FAMILY_ALPHA}).`,
    regressions: comparisons.filter((c) => c.decision === 'regression').length,
    improvements: comparisons.filter((c) => c.decision === 'improvement').length,
    comparisons,
    onlyInBaseline: [...before.keys()].filter((k) => !now.has(k)),
    onlyInCurrent: [...now.keys()].filter((k) => !before.has(k)),
    ...machinesOf(baseline.environment, opts.environment),
  };
}

/** Both runs' CPU benchmark, when both have one: a baseline from a slower machine reads "slower" everywhere. */
function machinesOf(
  baseline: Record<string, unknown>,
  current: Record<string, unknown> | undefined,
): Pick<BaselineResult, 'machines'> {
  const baselineCpuMs = cpuBenchmarkOf(baseline);
  const currentCpuMs = cpuBenchmarkOf(current);
  if (baselineCpuMs === undefined || currentCpuMs === undefined) return {};
  return { machines: { baselineCpuMs, currentCpuMs, ratio: currentCpuMs / baselineCpuMs } };
}
