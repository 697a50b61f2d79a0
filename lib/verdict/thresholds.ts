/**
 * Threshold checks: their types, how profile and env overrides apply, and how one check is
 * evaluated against aggregated metrics. The checks themselves live in `perf.thresholds.ts`
 * (top level), the one file a user edits to change a limit.
 *
 * Statistic semantics:
 *   p50/p95/p99/min/max/mean — from the raw samples (lib/stats, quantiles R type 7);
 *   errorRate — failed samples / (failed + successful);
 *   n — successful samples;
 *   value — for single-valued metrics (ratios, exponents, bool facts): the sample; if several
 *           were recorded (e.g. by several shards), the worst one for the operator
 *           (max for '<'/'<=', min for '>=').
 */
import { z } from 'zod';
import type { Unit } from './metrics-schema';
import type { ProfileName } from '../run/profiles';
import { quantileCi, type Interval, type Stats } from './stats';
import { firstIssue, readJsonFile } from './json-file';

export const CRITERIA = [
  { id: 'performance-measured', title: 'Performance measured' },
  { id: 'response-times', title: 'Response times acceptable (< 5 seconds)' },
  { id: 'token-usage', title: 'Token usage optimized' },
  { id: 'no-bottlenecks', title: 'No major bottlenecks' },
] as const;
/** Compare mode's fifth criterion (lib/verdict/compare.ts): only in a run with a base arm. */
export const NO_REGRESSION = { id: 'no-regression', title: 'No regression vs base' } as const;
export type CriterionId = (typeof CRITERIA)[number]['id'] | typeof NO_REGRESSION.id;
/** Every criterion a report may hold. */
export const CRITERION_IDS = [...CRITERIA.map((c) => c.id), NO_REGRESSION.id] as readonly CriterionId[];

export const STATISTICS = ['p50', 'p95', 'p99', 'max', 'min', 'mean', 'errorRate', 'value', 'n'] as const;
export type Statistic = (typeof STATISTICS)[number];
export const OPS = ['<', '<=', '>='] as const;
export type Op = (typeof OPS)[number];

export interface ThresholdCheck {
  /** Stable id, used by overrides (`PERF_THRESHOLDS`) and in reports. */
  id: string;
  criterion: CriterionId;
  /** Metric name from lib/verdict/metric-catalog.ts. */
  metric: string;
  /** '*' = every scenario of the metric present (each must pass), or one scenario. */
  scenario: string;
  statistic: Statistic;
  op: Op;
  limit: number;
  unit: Unit;
  /** One line: why this limit. */
  why: string;
  /** When true and the metric/scenario is absent, the check is skipped instead of "not measured". */
  optional?: boolean;
  /** Disabled checks are listed nowhere (set by overrides only). */
  enabled?: boolean;
}

const checkOverrideSchema = z
  .object({
    limit: z.number().finite().optional(),
    enabled: z.boolean().optional(),
  })
  .strict();
type CheckOverride = z.infer<typeof checkOverrideSchema>;

export interface ProfileOverride {
  /** Multiplies every catalog minSamples (rounded up, at least 1). Samples only: limits stay. */
  minSamplesFactor?: number;
  /** Per-check overrides; limits of ms checks may only get stricter. */
  checks?: Record<string, CheckOverride>;
}

export interface ThresholdConfig {
  checks: ThresholdCheck[];
  profiles: Partial<Record<ProfileName, ProfileOverride>>;
}

/** The effective checks of a run, with where each change came from. */
export interface ResolvedThresholds {
  checks: ThresholdCheck[];
  minSamplesFactor: number;
  /** Human-readable list of applied overrides, e.g. "PERF_THRESHOLDS (x.json): response.total limit 5000 → 8000". */
  overrides: string[];
}

export class ThresholdConfigError extends Error {
  override name = 'ThresholdConfigError';
}

function isLoosening(check: ThresholdCheck, override: CheckOverride): boolean {
  if (override.enabled === false) return true;
  if (override.limit === undefined) return false;
  return check.op === '>=' ? override.limit < check.limit : override.limit > check.limit;
}

function applyOverrides(
  checks: ThresholdCheck[],
  overrides: Record<string, CheckOverride>,
  source: string,
  notes: string[],
  forbidLoosening: boolean,
): ThresholdCheck[] {
  const byId = new Map(checks.map((c) => [c.id, c]));
  for (const id of Object.keys(overrides)) {
    if (!byId.has(id)) {
      throw new ThresholdConfigError(`${source}: unknown check id "${id}". Known ids: ${[...byId.keys()].join(', ')}`);
    }
  }
  return checks.map((c) => {
    const o = overrides[c.id];
    if (!o) return c;
    // A profile is code everyone runs: it may ask for more, never for less. Loosening for one
    // deployment is PERF_THRESHOLDS' job, and every report lists it.
    if (forbidLoosening && isLoosening(c, o)) {
      throw new ThresholdConfigError(
        `${source}: check "${c.id}": a profile may tighten a limit but never loosen or disable it ` +
          '(for one deployment, use a PERF_THRESHOLDS file: its overrides are listed in every report)',
      );
    }
    const next = {
      ...c,
      ...(o.limit !== undefined ? { limit: o.limit } : {}),
      ...(o.enabled !== undefined ? { enabled: o.enabled } : {}),
    };
    if (o.limit !== undefined && o.limit !== c.limit)
      notes.push(`${source}: ${c.id} limit ${c.op} ${c.limit} → ${c.op} ${o.limit} ${c.unit}`);
    if (o.enabled === false) notes.push(`${source}: ${c.id} disabled`);
    return next;
  });
}

/** Reads and validates a `PERF_THRESHOLDS` file (overrides keyed by check id); errors name the file and the field. */
function readEnvOverrides(path: string): Record<string, CheckOverride> {
  const json = readJsonFile(
    path,
    (problem, unreadable) =>
      new ThresholdConfigError(
        `PERF_THRESHOLDS=${path}: ${problem}` +
          (unreadable ? '. Point it to a JSON file of overrides, e.g. {"response.total_ms.p95": {"limit": 8000}}' : ''),
      ),
  );
  const parsed = z.record(z.string(), checkOverrideSchema).safeParse(json);
  if (!parsed.success) {
    throw new ThresholdConfigError(
      `PERF_THRESHOLDS=${path}: ${firstIssue(parsed.error)}. ` +
        'Expected {"<check id>": {"limit"?: number, "enabled"?: boolean}}',
    );
  }
  return parsed.data;
}

/** Effective checks for a profile: file defaults → profile overrides → PERF_THRESHOLDS file. */
export function resolveThresholds(
  config: ThresholdConfig,
  profile: ProfileName,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedThresholds {
  const ids = new Set<string>();
  for (const c of config.checks) {
    if (ids.has(c.id)) throw new ThresholdConfigError(`perf.thresholds.ts: duplicate check id "${c.id}"`);
    ids.add(c.id);
  }
  const notes: string[] = [];
  const p = config.profiles[profile] ?? {};
  let checks = applyOverrides(config.checks, p.checks ?? {}, `profile ${profile}`, notes, true);
  const file = env.PERF_THRESHOLDS?.trim();
  if (file) checks = applyOverrides(checks, readEnvOverrides(file), `PERF_THRESHOLDS (${file})`, notes, false);
  const factor = p.minSamplesFactor ?? 1;
  if (!(factor > 0)) throw new ThresholdConfigError(`profile ${profile}: minSamplesFactor must be > 0`);
  if (factor !== 1) notes.push(`profile ${profile}: minimum samples × ${factor}`);
  return { checks: checks.filter((c) => c.enabled !== false), minSamplesFactor: factor, overrides: notes };
}

// ---------------------------------------------------------------- evaluation

/** What a check needs to know about one aggregated metric. */
export interface MetricForCheck {
  name: string;
  scenario: string;
  memoryCount?: number;
  unit: Unit;
  samples: readonly number[];
  errorCount: number;
  /** Counts of error codes, for messages ("model_error ×3"). */
  errorCodes: Record<string, number>;
  stats: Stats;
}

export type CheckStatus = 'passed' | 'failed' | 'not-measured' | 'skipped';

export interface CheckResult {
  id: string;
  criterion: CriterionId;
  metric: string;
  scenario: string;
  memoryCount?: number;
  statistic: Statistic;
  op: Op;
  /** null when it could not be computed (no samples). */
  value: number | null;
  limit: number;
  /** Unit of the limit (a metric unit, or 'count' for sample-count checks). */
  unit: string;
  passed: boolean;
  status: CheckStatus;
  message: string;
  why: string;
  /**
   * Percentile checks: the distribution-free 95 % confidence interval of the percentile (null =
   * unbounded on that side: too few samples to bound it), and what decided the check: the whole
   * interval on one side of the limit, or (it straddles the limit even after the recorder sampled
   * more) the point estimate.
   */
  interval?: { low: number | null; high: number | null };
  decidedBy?: 'interval' | 'estimate';
  /** Compare mode: the base arm's paired samples fail this check too (it is not this change's doing). */
  failsOnBase?: boolean;
}

/** Prefix of every failed-threshold message; the Allure categories match on it. */
export const THRESHOLD_EXCEEDED = 'Threshold exceeded';
/** Prefix of a failed error-rate check: the measurement broke, not the limit (own Allure category). */
export const SAMPLE_ERRORS = 'Sample errors';

/** Whether `value` meets `op limit` (e.g. 4.2 meets <= 5). */
export function meetsLimit(value: number, op: Op, limit: number): boolean {
  return op === '<' ? value < limit : op === '<=' ? value <= limit : value >= limit;
}

/**
 * A number as reports show it: fewer decimals for larger values. Given the limit it is held to
 * (`against`), as many more decimals as it takes not to look equal to a limit it is not equal to
 * (p95 4999.6 ms against < 5000 ms reads 4999.6, not 5000).
 */
export function formatNumber(v: number | null | undefined, unit?: string, against?: number): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  const abs = Math.abs(v);
  let digits = unit === 'ratio' || unit === 'exponent' || unit === 'bool' ? 3 : abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  const text = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(digits));
  if (against !== undefined && v !== against && Number.isFinite(v))
    while (digits < 6 && Number(text(v)) === Number(text(against))) digits++;
  const s = text(v);
  return unit && unit !== 'bool' && unit !== 'ratio' && unit !== 'exponent' && unit !== 'count' ? `${s} ${unit}` : s;
}

/** An error rate as reports show it (one decimal, with the same care near the limit). */
export function formatPercent(rate: number, against?: number): string {
  let digits = 1;
  if (against !== undefined && rate !== against)
    while (digits < 6 && (rate * 100).toFixed(digits) === (against * 100).toFixed(digits)) digits++;
  return `${(rate * 100).toFixed(digits)} %`;
}

function statisticValue(m: MetricForCheck, statistic: Statistic, op: Op): number | null {
  switch (statistic) {
    case 'errorRate': {
      const total = m.stats.n + m.errorCount;
      return total === 0 ? null : m.errorCount / total;
    }
    case 'n':
      return m.stats.n;
    case 'value':
      if (m.samples.length === 0) return null;
      return op === '>=' ? m.stats.min : m.stats.max;
    default:
      return Number.isFinite(m.stats[statistic]) ? m.stats[statistic] : null;
  }
}

const PERCENTILE: Partial<Record<Statistic, number>> = { p50: 0.5, p95: 0.95, p99: 0.99 };

/** The quantile a statistic stands for (p95 → 0.95), or undefined for max, mean, … */
export function percentileOf(statistic: Statistic): number | undefined {
  return PERCENTILE[statistic];
}

/** Where a percentile's confidence interval lies relative to a check's limit. */
export function decideByInterval(interval: Interval, op: Op, limit: number): 'pass' | 'fail' | 'straddles' {
  if (Number.isNaN(interval.low) || Number.isNaN(interval.high)) return 'straddles';
  // For '<'/'<=' the worst case is the high end; for '>=' the low end.
  const [worst, best] = op === '>=' ? [interval.low, interval.high] : [interval.high, interval.low];
  if (meetsLimit(worst, op, limit)) return 'pass';
  if (!meetsLimit(best, op, limit)) return 'fail';
  return 'straddles';
}

/** The percentile's interval from raw samples (undefined for statistics that are not percentiles). */
export function percentileInterval(samples: readonly number[], statistic: Statistic): Interval | undefined {
  const p = percentileOf(statistic);
  if (p === undefined || samples.length === 0) return undefined;
  return quantileCi(Float64Array.from(samples).sort(), p);
}

function label(metric: string, scenario: string, memoryCount?: number): string {
  // The count only when the scenario's name does not already say it.
  const count = memoryCount !== undefined && !scenario.includes(String(memoryCount)) ? `, ${memoryCount} memories` : '';
  return `${metric} [${scenario}${count}]`;
}

export function describeErrors(codes: Record<string, number>): string {
  return Object.entries(codes)
    .sort((a, b) => b[1] - a[1])
    .map(([c, k]) => `${c} ×${k}`)
    .join(', ');
}

/** The fields of a check's result that the check itself sets. */
export function checkFields({ id, criterion, metric, scenario, statistic, op, limit, unit, why }: ThresholdCheck) {
  return { id, criterion, metric, scenario, statistic, op, limit, unit, why };
}

/** Evaluates one check against the metrics it matches; an empty array means "no such metric". */
export function evaluateCheck(check: ThresholdCheck, metrics: readonly MetricForCheck[]): CheckResult[] {
  const matching = metrics.filter(
    (m) => m.name === check.metric && (check.scenario === '*' || m.scenario === check.scenario),
  );
  return matching.map((m): CheckResult => {
    const value = statisticValue(m, check.statistic, check.op);
    const base = {
      ...checkFields(check),
      metric: m.name,
      scenario: m.scenario,
      ...(m.memoryCount !== undefined ? { memoryCount: m.memoryCount } : {}),
      value,
    };
    const where = label(m.name, m.scenario, m.memoryCount);
    if (value === null) {
      const cause =
        m.errorCount > 0 ? `all ${m.errorCount} samples failed (${describeErrors(m.errorCodes)})` : 'no samples';
      return { ...base, passed: false, status: 'failed', message: `${where} ${check.statistic}: ${cause}` };
    }
    // The point estimate decides (it lies inside the interval, so a decisive interval agrees with
    // it); the interval says how sure that decision is, and is reported beside it.
    const passed = meetsLimit(value, check.op, check.limit);
    const interval = percentileInterval(m.samples, check.statistic);
    const finiteOrNull = (v: number) => (Number.isFinite(v) ? v : null);
    const intervalFields: Pick<CheckResult, 'interval' | 'decidedBy'> = interval
      ? {
          interval: { low: finiteOrNull(interval.low), high: finiteOrNull(interval.high) },
          decidedBy: decideByInterval(interval, check.op, check.limit) === 'straddles' ? 'estimate' : 'interval',
        }
      : {};
    const show = (v: number, against?: number) =>
      check.statistic === 'errorRate' ? formatPercent(v, against) : formatNumber(v, check.unit, against);
    const shown = show(value, check.limit);
    const limit = show(check.limit);
    const errs = m.errorCount > 0 ? ` — ${m.errorCount} failed samples: ${describeErrors(m.errorCodes)}` : '';
    const message = passed
      ? `${where} ${check.statistic} = ${shown} (limit ${check.op} ${limit})`
      : `${check.statistic === 'errorRate' ? SAMPLE_ERRORS : THRESHOLD_EXCEEDED}: ` +
        `${where} ${check.statistic} = ${shown}, limit ${check.op} ${limit}${errs}`;
    return { ...base, ...intervalFields, passed, status: passed ? 'passed' : 'failed', message };
  });
}
