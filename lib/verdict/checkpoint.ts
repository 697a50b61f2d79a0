/**
 * Checkpoint 7.4: aggregate every test's metrics (also across shards), compute statistics from
 * the raw samples, evaluate the checks of perf.thresholds.ts, and decide the four criteria.
 * In compare mode (paired samples from a base arm), a fifth: "No regression vs base"
 * (lib/verdict/compare.ts). The verdict is "pass" only when every criterion passes.
 */
import { compareSeries, type Comparison, type ComparisonBase } from './compare';
import { effectText, minEffectText } from '../report/comparison-report';
import { redactUrl } from '../redact';
import type { Category, Evidence, PairedSeriesDoc, SampleError, TestMetrics, Unit } from './metrics-schema';
import { METRIC_CATALOG, catalogEntry, expectedScenarios } from './metric-catalog';
import { PROFILES, PROFILE_NAMES, type ProfileName } from '../run/profiles';
import { isHighStealTest, MIN_JUDGED_TICKS, stealShare } from '../run/cpu-steal';
import { summarize } from './stats';
import {
  CRITERIA,
  describeErrors,
  evaluateCheck,
  NO_REGRESSION,
  resolveThresholds,
  type CheckResult,
  checkFields,
  type CriterionId,
  type MetricForCheck,
  type ThresholdCheck,
  type ThresholdConfig,
} from './thresholds';

export interface AggregatedMetric extends MetricForCheck {
  category: Category;
  unit: Unit;
  /** Title from the catalog, when the metric is in it. */
  title?: string;
  tags: Record<string, string | number | boolean>;
  errors: SampleError[];
  warmup: number;
  /** Titles of the tests that recorded it. */
  tests: string[];
}

export interface HarnessError {
  /** The test whose attachment could not be used ("<file> › <title>"), or "reporter". */
  test: string;
  message: string;
}

/**
 * `skipped`: not in this run. Only a compare-only run (`--grep @compare`: paired samples of both
 * arms, no Step 7.4 metric) skips the four Step 7.4 criteria; `passed` is then true, so that the
 * verdict is the comparison's.
 */
export type CriterionStatus = 'passed' | 'failed' | 'not-measured' | 'skipped';

export interface CriterionResult {
  id: CriterionId;
  title: string;
  passed: boolean;
  status: CriterionStatus;
  checks: CheckResult[];
}

export interface CheckpointResult {
  verdict: 'pass' | 'fail';
  profile: ProfileName;
  criteria: CriterionResult[];
  metrics: AggregatedMetric[];
  evidence: Evidence[];
  harnessErrors: HarnessError[];
  /** Applied threshold overrides (profile, PERF_THRESHOLDS), for transparency. */
  thresholdOverrides: string[];
  /** Compare mode only: the base/candidate comparison behind the no-regression criterion. */
  comparison?: Comparison;
  /** CPU steal over the measuring tests, where they recorded it (lib/run/cpu-steal.ts). */
  host?: HostSteal;
}

/** How much CPU time the host took from the measuring tests. Not gated: reports show it beside the verdict. */
export interface HostSteal {
  /** Steal over the CPU time the machine wanted (lib/run/cpu-steal.ts), every test with a reading together. */
  stealShare: number;
  /** Tests long enough to be judged on their own (MIN_JUDGED_TICKS). */
  tests: number;
  /** Of those, the tests whose own share was high (isHighSteal). */
  testsHigh: number;
}

/** The steal of the tests that recorded it; undefined when none did (not Linux, older documents). */
export function hostSteal(docs: readonly TestMetrics[]): HostSteal | undefined {
  const readings = docs.flatMap((d) => (d.host ? [{ wanted: d.host.wantedTicks, steal: d.host.stealTicks }] : []));
  const share = stealShare({
    wanted: readings.reduce((n, h) => n + h.wanted, 0),
    steal: readings.reduce((n, h) => n + h.steal, 0),
  });
  if (share === undefined) return undefined;
  const tests = readings.filter((h) => h.wanted >= MIN_JUDGED_TICKS).length;
  return { stealShare: share, tests, testsHigh: readings.filter(isHighStealTest).length };
}

/** Identity of a metric across tests, shards and runs. */
export function metricKey(m: { name: string; scenario: string; memoryCount?: number | undefined }): string {
  return `${m.name}|${m.scenario}|${m.memoryCount ?? ''}`;
}

function memoryCountOf(tags: Record<string, string | number | boolean>): number | undefined {
  const v = tags.memoryCount;
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : Number.NaN;
  return Number.isFinite(n) ? n : undefined;
}

/** Merges metrics with the same (name, scenario, tags.memoryCount) by concatenating samples and errors. */
export function aggregate(docs: readonly TestMetrics[]): { metrics: AggregatedMetric[]; evidence: Evidence[] } {
  const byKey = new Map<string, AggregatedMetric>();
  const evidence: Evidence[] = [];
  for (const doc of docs) {
    const testName = `${doc.test.file} › ${doc.test.title}`;
    evidence.push(...doc.evidence);
    for (const m of doc.metrics) {
      const memoryCount = memoryCountOf(m.tags);
      const key = metricKey({ name: m.name, scenario: m.scenario, memoryCount });
      let agg = byKey.get(key);
      if (!agg) {
        const title = catalogEntry(m.name)?.title;
        agg = {
          name: m.name,
          category: m.category,
          scenario: m.scenario,
          unit: m.unit,
          ...(title ? { title } : {}),
          ...(memoryCount !== undefined ? { memoryCount } : {}),
          tags: { ...m.tags },
          samples: [],
          errors: [],
          warmup: 0,
          tests: [],
          errorCount: 0,
          errorCodes: {},
          stats: summarize([]),
        };
        byKey.set(key, agg);
      }
      for (const [k, v] of Object.entries(m.tags)) if (!(k in agg.tags)) agg.tags[k] = v;
      // push in a loop: spreading very large sample arrays into push() can overflow the stack
      for (const s of m.samples) (agg.samples as number[]).push(s);
      agg.errors.push(...m.errors);
      agg.warmup += m.warmup;
      if (!agg.tests.includes(testName)) agg.tests.push(testName);
    }
  }
  const metrics = [...byKey.values()];
  for (const m of metrics) {
    m.stats = summarize(m.samples);
    m.errorCount = m.errors.length;
    m.errorCodes = {};
    for (const e of m.errors) m.errorCodes[e.code] = (m.errorCodes[e.code] ?? 0) + 1;
  }
  // Catalog order (as the specs and reports describe them), then memory count, then scenario order.
  const rank = new Map<string, number>(METRIC_CATALOG.map((e, i) => [e.name, i]));
  const scenarioRank = (m: AggregatedMetric) => {
    const s = catalogEntry(m.name)?.scenarios;
    const i = Array.isArray(s) ? (s as readonly string[]).indexOf(m.scenario) : -1;
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  };
  metrics.sort(
    (a, b) =>
      (rank.get(a.name) ?? 1e9) - (rank.get(b.name) ?? 1e9) ||
      a.name.localeCompare(b.name) ||
      (a.memoryCount ?? 0) - (b.memoryCount ?? 0) ||
      scenarioRank(a) - scenarioRank(b) ||
      a.scenario.localeCompare(b.scenario),
  );
  return { metrics, evidence };
}

function pickProfile(docs: readonly TestMetrics[], env: NodeJS.ProcessEnv, harnessErrors: HarnessError[]): ProfileName {
  const counts = new Map<ProfileName, number>();
  for (const d of docs) counts.set(d.profile, (counts.get(d.profile) ?? 0) + 1);
  if (counts.size === 0) {
    const fromEnv = env.PERF_PROFILE as ProfileName | undefined;
    return fromEnv && (PROFILE_NAMES as readonly string[]).includes(fromEnv) ? fromEnv : 'default';
  }
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1]);
  if (ranked.length > 1) {
    harnessErrors.push({
      test: 'run',
      message:
        `metrics from several profiles in one run (${ranked.map(([p, n]) => `${p}: ${n} tests`).join(', ')}); ` +
        'run one project at a time for a clean checkpoint',
    });
  }
  return (ranked[0] as [ProfileName, number])[0];
}

function coverageChecks(metrics: readonly AggregatedMetric[], profileName: ProfileName, factor: number): CheckResult[] {
  const profile = PROFILES[profileName];
  const results: CheckResult[] = [];
  for (const entry of METRIC_CATALOG) {
    for (const scenario of expectedScenarios(entry, profile)) {
      const found = metrics.filter((m) => m.name === entry.name && m.scenario === scenario);
      const n = found.reduce((sum, m) => sum + m.stats.n, 0);
      const errors = found.reduce((sum, m) => sum + m.errorCount, 0);
      const need = Math.max(1, Math.ceil(entry.minSamples(profile) * factor));
      const passed = found.length > 0 && n >= need;
      const codes: Record<string, number> = {};
      for (const m of found) for (const [c, k] of Object.entries(m.errorCodes)) codes[c] = (codes[c] ?? 0) + k;
      const failedNote = errors > 0 ? `; ${errors} failed: ${describeErrors(codes)}` : '';
      results.push({
        ...RUN_COUNT,
        id: `coverage:${entry.name}[${scenario}]`,
        criterion: 'performance-measured',
        metric: entry.name,
        scenario,
        op: '>=',
        value: found.length === 0 ? null : n,
        limit: need,
        passed,
        status: found.length === 0 ? 'not-measured' : passed ? 'passed' : 'failed',
        message:
          found.length === 0
            ? `${entry.name} [${scenario}] not measured (expected ≥ ${need} samples for profile ${profileName})`
            : passed
              ? `${entry.name} [${scenario}] ${n} samples (≥ ${need})`
              : `${entry.name} [${scenario}] only ${n} of ${need} samples${failedNote}`,
        why: `lib/verdict/metric-catalog.ts expects it for profile ${profileName}`,
      });
    }
  }
  return results;
}

/** The fields of a check on a count (metrics, errors, samples, pairs); '*' = the whole run. */
const RUN_COUNT = { metric: '*', scenario: '*', statistic: 'n', unit: 'count' } as const;
/** The response limit the Step 7.4 criterion's title names ("< 5 seconds"). */
const STEP_7_4_RESPONSE_MS = 5_000;

/** A failed check fails the criterion; otherwise it passes when at least one check passed. */
function criterionStatus(checks: readonly CheckResult[]): CriterionStatus {
  if (checks.some((c) => c.status === 'failed')) return 'failed';
  return checks.some((c) => c.status === 'passed') ? 'passed' : 'not-measured';
}

export interface EvaluateOptions {
  docs: readonly TestMetrics[];
  harnessErrors?: readonly HarnessError[];
  /** Defaults to the profile the tests reported (or PERF_PROFILE when there are none). */
  profile?: ProfileName;
  /** The checks and their limits (perf.thresholds.ts): given, never imported, so the judge stays below the config. */
  thresholds: ThresholdConfig;
  env?: NodeJS.ProcessEnv;
  /**
   * Compare mode: the arms' identities. Set → a no-regression criterion, which fails when no
   * paired samples arrived (never a one-armed run presented as a comparison). Also implied when
   * the documents hold paired samples (a merged, sharded run). Default: from the environment.
   */
  compare?: { base: ComparisonBase; candidate: ComparisonBase };
}

/** The arms of a compare run, from what global setup handed on; undefined in a plain run. */
function compareArmsFromEnv(env: NodeJS.ProcessEnv): { base: ComparisonBase; candidate: ComparisonBase } | undefined {
  const url = env.BASELINE_URL?.trim();
  if (!url && !env.PERF_COMPARE_REF?.trim()) return undefined;
  const ref = env.PERF_COMPARE_BASE_REF ?? env.PERF_COMPARE_REF;
  const base: ComparisonBase = {
    ...(ref ? { ref } : {}),
    ...(env.PERF_COMPARE_BASE_COMMIT ? { commit: env.PERF_COMPARE_BASE_COMMIT } : {}),
    // A bundled base's URL is a random local port: only a deployment's URL identifies it.
    ...(url && !ref ? { url: redactUrl(url) } : {}),
  };
  return { base, candidate: env.GITHUB_SHA ? { commit: env.GITHUB_SHA } : {} };
}

/** Paired series of every document, merged by (name, scenario) in document order. */
function mergePairs(docs: readonly TestMetrics[]): PairedSeriesDoc[] {
  const byKey = new Map<string, PairedSeriesDoc>();
  for (const doc of docs) {
    for (const p of doc.pairs) {
      const key = `${p.name}|${p.scenario}`;
      const into = byKey.get(key);
      if (!into) byKey.set(key, { ...p, base: [...p.base], candidate: [...p.candidate], errors: [...p.errors] });
      else {
        for (let i = 0; i < p.base.length; i++) {
          into.base.push(p.base[i] as number);
          into.candidate.push(p.candidate[i] as number);
        }
        into.errors.push(...p.errors);
        // Two samplings in one series (not how the compare spec records): their looks are unknown,
        // so the decision takes only the stricter second look's share of α.
        into.firstLookPairs = 0;
      }
    }
  }
  return [...byKey.values()];
}

/**
 * A criterion's title; Step 7.4's "< 5 seconds" says the limit the run held responses to, so a
 * PERF_THRESHOLDS file that moved it must not leave every report reading "< 5 seconds".
 */
function titleOf(c: (typeof CRITERIA)[number], checks: readonly ThresholdCheck[]): string {
  if (c.id !== 'response-times') return c.title;
  const timed = checks.filter((k) => k.criterion === c.id && k.unit === 'ms' && k.enabled !== false);
  const limits = [...new Set(timed.map((k) => k.limit))];
  if (limits.length === 0 || (limits.length === 1 && limits[0] === STEP_7_4_RESPONSE_MS)) return c.title;
  const seconds = (ms: number) => `${ms / 1000} seconds`;
  const held =
    limits.length === 1
      ? `< ${seconds(limits[0] as number)}`
      : timed.map((k) => `${RESPONSE_LABEL[k.metric] ?? k.metric} < ${seconds(k.limit)}`).join(', ');
  return `Response times acceptable (${held}; Step 7.4 says 5)`;
}

/** How a response check reads in the criterion's title when the limits differ. */
const RESPONSE_LABEL: Record<string, string> = {
  'response.total_ms': 'round trip',
  'response.ui_done_ms': 'UI reply',
  'response.ttft_ms': 'first token',
};

/** The no-regression criterion: one check per compared metric. */
function noRegressionChecks(comparison: Comparison): CheckResult[] {
  if (comparison.metrics.length === 0) {
    return [
      {
        ...RUN_COUNT,
        id: 'no-regression:measured',
        criterion: NO_REGRESSION.id,
        op: '>=',
        value: 0,
        limit: 1,
        passed: false,
        status: 'not-measured',
        message: 'compare mode, but no metric was sampled on both arms: did e2e/compare.spec.ts run (--grep @compare)?',
        why: 'A comparison needs paired samples from both arms',
      },
    ];
  }
  return comparison.metrics.map((m) => {
    const passed = m.decision !== 'regression' && m.decision !== 'insufficient-data';
    return {
      id: `no-regression:${m.name}[${m.scenario}]`,
      criterion: NO_REGRESSION.id,
      metric: m.name,
      scenario: m.scenario,
      statistic: m.kind === 'difference' ? 'mean' : 'p50',
      op: '<=',
      // In the limit's terms: tokens or statements more per message, or the ratio of the times.
      value: m.kind === 'difference' ? (m.difference ?? null) : m.ratio,
      limit: m.kind === 'difference' ? m.minEffect : 1 + m.minEffect,
      unit: m.kind === 'difference' ? m.unit : 'ratio',
      passed,
      status: m.decision === 'insufficient-data' ? 'not-measured' : passed ? 'passed' : 'failed',
      message:
        `${m.name} [${m.scenario}] candidate vs base ${effectText(m)}, n=${m.base.n}: ${m.decision}` +
        (m.decision === 'insufficient-data' ? ' (too few pairs)' : '') +
        (m.failedPairs > 0 ? ` (${m.failedPairs} pairs failed: see the compare test's errors)` : '') +
        ` (minimum effect ${minEffectText(m)})`,
      why: 'The change must not make this slower than the base beyond its minimum effect',
    };
  });
}

/**
 * Says, for every failed absolute check of a compare run, what the base did: fails it too (its
 * paired samples, same scenario: "fails on the base too"); or, not measured on the base in that
 * scenario, what the comparison found for the same metric elsewhere; or that it was not compared.
 * A pull request's reviewer then reads from the failure itself whether the change caused it.
 */
function markBaseFailures(
  criteria: CriterionResult[],
  pairs: readonly PairedSeriesDoc[],
  checks: readonly ThresholdCheck[],
  comparison: Comparison,
) {
  // A series whose every pair failed has no base samples: not measured there, not failed there.
  const baseMetrics: MetricForCheck[] = pairs
    .filter((p) => p.base.length > 0)
    .map((p) => ({
      name: p.name,
      scenario: p.scenario,
      unit: p.unit,
      samples: p.base,
      errorCount: 0,
      errorCodes: {},
      stats: summarize(p.base),
    }));
  for (const criterion of criteria) {
    for (const result of criterion.checks) {
      if (result.status !== 'failed') continue;
      const check = checks.find((c) => c.id === result.id);
      if (!check) continue;
      const onBase = evaluateCheck(check, baseMetrics).find((r) => r.scenario === result.scenario);
      if (onBase && onBase.status === 'failed') {
        result.failsOnBase = true;
        result.message += ' — fails on the base too (not caused by this change)';
      } else if (!onBase) {
        result.message += ` — ${baseNotMeasured(result.metric, comparison)}`;
      }
    }
  }
}

/** What the comparison says about a metric the base was not measured on in the failed check's scenario. */
function baseNotMeasured(metric: string, comparison: Comparison): string {
  const compared = comparison.metrics.filter((m) => m.name === metric);
  if (compared.length === 0) return 'not compared with the base (this metric has no paired samples)';
  const found = compared.map((m) => {
    return `${m.scenario}: ${m.decision.replace('-', ' ')}${m.ratio === null ? '' : ` (×${m.ratio.toFixed(3)})`}`;
  });
  return `not measured on the base in this scenario; compared with the base in ${found.join(', ')}`;
}

/**
 * Evaluates Checkpoint 7.4. Throws ThresholdConfigError for a bad PERF_THRESHOLDS file (call it
 * before writing anything, so no report is half-written).
 */
export function evaluateCheckpoint(opts: EvaluateOptions): CheckpointResult {
  const env = opts.env ?? process.env;
  const harnessErrors = [...(opts.harnessErrors ?? [])];
  const profile = opts.profile ?? pickProfile(opts.docs, env, harnessErrors);
  const resolved = resolveThresholds(opts.thresholds, profile, env);
  const { metrics, evidence } = aggregate(opts.docs);

  const byCriterion = new Map<CriterionId, CheckResult[]>(CRITERIA.map((c) => [c.id, []]));
  const add = (r: CheckResult) => byCriterion.get(r.criterion)?.push(r);

  // performance-measured: something was recorded at all, the harness lost nothing, coverage.
  add({
    ...RUN_COUNT,
    id: 'metrics-recorded',
    criterion: 'performance-measured',
    op: '>=',
    value: metrics.length,
    limit: 1,
    passed: metrics.length > 0,
    status: metrics.length > 0 ? 'passed' : 'failed',
    message:
      metrics.length > 0
        ? `${metrics.length} metrics from ${opts.docs.length} tests`
        : 'no metrics were recorded: did the perf specs run, and do they attach "perf-metrics"?',
    why: 'A run without measurements proves nothing',
  });
  add({
    ...RUN_COUNT,
    id: 'harness-errors',
    criterion: 'performance-measured',
    op: '<=',
    value: harnessErrors.length,
    limit: 0,
    passed: harnessErrors.length === 0,
    status: harnessErrors.length === 0 ? 'passed' : 'failed',
    message:
      harnessErrors.length === 0
        ? 'every metrics attachment was valid'
        : `${harnessErrors.length} unusable metrics attachments: ` +
          harnessErrors.map((e) => `${e.test}: ${e.message}`).join('; '),
    why: 'A lost or corrupt attachment means missing measurements',
  });
  const coverage = coverageChecks(metrics, profile, resolved.minSamplesFactor);
  for (const c of coverage) add(c);
  const uncovered = new Set(coverage.filter((c) => c.status !== 'passed').map((c) => c.metric));

  for (const check of resolved.checks) {
    const results = evaluateCheck(check, metrics);
    if (results.length > 0) {
      for (const r of results) add(r);
      continue;
    }
    const { id, metric, scenario, why, optional = false } = check;
    add({
      ...checkFields(check),
      value: null,
      passed: optional,
      status: optional ? 'skipped' : 'not-measured',
      message: `${metric} [${scenario}] ${optional ? 'not in this run (optional check)' : 'not measured'}`,
    });
    // Not measured must not pass silently: it fails performance-measured (once per metric).
    if (!optional && !uncovered.has(metric)) {
      uncovered.add(metric);
      add({
        ...RUN_COUNT,
        id: `measured:${id}`,
        criterion: 'performance-measured',
        metric,
        scenario,
        op: '>=',
        value: null,
        limit: 1,
        passed: false,
        status: 'not-measured',
        message: `${metric} not measured (needed by check ${id})`,
        why,
      });
    }
  }

  const pairs = mergePairs(opts.docs);
  // Paired samples and nothing else, every attachment readable: the run asked whether a change
  // made things slower, not whether Step 7.4 holds. Its four criteria are not in it.
  const compareOnly = metrics.length === 0 && pairs.length > 0 && harnessErrors.length === 0;
  const criteria: CriterionResult[] = CRITERIA.map((c) => {
    const title = titleOf(c, resolved.checks);
    if (compareOnly) return { id: c.id, title, passed: true, status: 'skipped', checks: [] };
    const checks = byCriterion.get(c.id) ?? [];
    // performance-measured: any missing/failed check fails it; the others fail only on a failed check
    // or when nothing at all was measured.
    const status: CriterionStatus =
      c.id === 'performance-measured' ? (checks.every((k) => k.passed) ? 'passed' : 'failed') : criterionStatus(checks);
    return { id: c.id, title, passed: status === 'passed', status, checks };
  });

  const arms = opts.compare ?? compareArmsFromEnv(env);
  let comparison: Comparison | undefined;
  if (arms || pairs.length > 0) {
    comparison = compareSeries(
      pairs.map((p) => ({ ...p, failedPairs: p.errors.length })),
      arms ?? { base: {}, candidate: {} },
    );
    const checks = noRegressionChecks(comparison);
    const passed = checks.every((k) => k.passed);
    criteria.push({ ...NO_REGRESSION, passed, status: passed ? 'passed' : 'failed', checks });
    markBaseFailures(criteria, pairs, resolved.checks, comparison);
  }
  const host = hostSteal(opts.docs);
  return {
    verdict: criteria.every((c) => c.passed) ? 'pass' : 'fail',
    profile,
    criteria,
    metrics,
    evidence,
    harnessErrors,
    thresholdOverrides: resolved.overrides,
    ...(comparison ? { comparison } : {}),
    ...(host ? { host } : {}),
  };
}
