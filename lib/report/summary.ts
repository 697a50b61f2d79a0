/**
 * The run's summary, `PerfSummary`: `perf-summary.json`, a versioned contract for tools (zod schema
 * exported below), and `perfReport`, the same as a report (lib/report/) that renders as
 * `perf-summary.md` (GitHub step summary / PR comment, verdict first) and as the console summary in
 * Step 7.4's layout, ending with CHECKPOINT 7.4 VERIFICATION.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { CATEGORIES, evidenceSchema, sampleErrorSchema, UNITS, type Category } from '../verdict/metrics-schema';
import { HIGH_STEAL_SHARE, isHighSteal } from '../run/cpu-steal';
import { cpuBenchmarkOf } from '../run/cpu-benchmark';
import { PROFILE_NAMES } from '../run/profiles';
import { CRITERION_IDS, NO_REGRESSION, OPS, STATISTICS, formatNumber, formatPercent } from '../verdict/thresholds';
import type { CheckpointResult } from '../verdict/checkpoint';
import { DECISIONS } from '../verdict/compare';
import { comparisonSection } from './comparison-report';
import { formatMeanCi, RELEVANCE_METRIC_NAMES, RELEVANCE_TOP_K, relevanceRows } from '../figures/relevance';
import { redact, redactSecrets } from '../redact';
import { code, list, table, text, type Block, type Format, type Report, type Row, type Section } from './document';
import { renderConsoleReport } from './console';
import { renderMarkdownReport } from './markdown';

/** 2: compare mode's `comparison` and no-regression criterion; checks' `failsOnBase`. */
export const SUMMARY_SCHEMA_VERSION = 2;
export const SUMMARY_JSON = 'perf-summary.json';
export const SUMMARY_MD = 'perf-summary.md';

/** NaN/absent statistics serialize as null. */
const num = z.number().nullable();

export const checkResultSchema = z.object({
  id: z.string(),
  criterion: z.enum(CRITERION_IDS as [string, ...string[]]),
  metric: z.string(),
  scenario: z.string(),
  memoryCount: z.number().optional(),
  statistic: z.enum(STATISTICS),
  op: z.enum(OPS),
  value: num,
  limit: z.number(),
  unit: z.string(),
  passed: z.boolean(),
  status: z.enum(['passed', 'failed', 'not-measured', 'skipped']),
  message: z.string(),
  why: z.string(),
  interval: z.object({ low: num, high: num }).optional(),
  decidedBy: z.enum(['interval', 'estimate']).optional(),
  failsOnBase: z.boolean().optional(),
});

const armSchema = z.object({ n: z.number().int(), p50: num, p95: num });
const comparisonBaseSchema = z.object({
  ref: z.string().optional(),
  commit: z.string().optional(),
  url: z.string().optional(),
});

/** Compare mode: the base/candidate comparison (lib/verdict/compare.ts). Absent in a plain run. */
export const comparisonSchema = z.object({
  base: comparisonBaseSchema,
  candidate: comparisonBaseSchema,
  method: z.string(),
  metrics: z.array(
    z.object({
      name: z.string(),
      scenario: z.string(),
      unit: z.enum(UNITS),
      base: armSchema,
      candidate: armSchema,
      ratio: num,
      ci95: z.object({ low: num, high: num }),
      difference: z.number().optional(),
      kind: z.enum(['ratio', 'difference']),
      minEffect: z.number(),
      pRegression: num,
      pImprovement: num,
      failedPairs: z.number().int(),
      decision: z.enum(DECISIONS),
      unconfirmed: z.enum(['slower', 'faster']).optional(),
    }),
  ),
  regressions: z.number().int(),
  improvements: z.number().int(),
});

export const criterionSchema = z.object({
  id: z.enum(CRITERION_IDS as [string, ...string[]]),
  title: z.string(),
  passed: z.boolean(),
  status: z.enum(['passed', 'failed', 'not-measured', 'skipped']),
  checks: z.array(checkResultSchema),
});

export const metricSummarySchema = z.object({
  name: z.string(),
  category: z.enum(CATEGORIES),
  scenario: z.string(),
  title: z.string().optional(),
  memoryCount: z.number().optional(),
  unit: z.enum(UNITS),
  /** Successful samples. */
  n: z.number().int(),
  /** Failed samples (count); causes in `errorDetails`. */
  errors: z.number().int(),
  errorRate: num,
  errorDetails: z.array(sampleErrorSchema),
  warmup: z.number().int(),
  min: num,
  mean: num,
  p50: num,
  p90: num,
  p95: num,
  p99: num,
  max: num,
  stddev: num,
  ci95: z.object({ low: num, high: num }),
  outliers: z.number().int(),
  tags: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  /** Raw samples (warm-up removed), so any tool can recompute or compare. */
  samples: z.array(z.number()),
  tests: z.array(z.string()),
});
export type MetricSummary = z.infer<typeof metricSummarySchema>;

export const baselineComparisonSchema = z.object({
  name: z.string(),
  scenario: z.string(),
  memoryCount: z.number().optional(),
  unit: z.string(),
  /** 'lower' for latencies/tokens, 'higher' for throughput. */
  better: z.enum(['lower', 'higher']),
  baseline: z.object({ n: z.number(), p50: num, p95: num }),
  current: z.object({ n: z.number(), p50: num, p95: num }),
  /** Relative change, e.g. 0.12 = +12 %. */
  p50Change: num,
  p95Change: num,
  /** median(current) / median(baseline) and its bootstrap 95 % CI. */
  ratio: num,
  ci95: z.object({ low: num, high: num }).nullable(),
  decision: z.enum(DECISIONS),
});
export type BaselineComparison = z.infer<typeof baselineComparisonSchema>;

export const baselineSchema = z.object({
  path: z.string(),
  baselineStartedAt: z.string().optional(),
  /** Changes smaller than this (fraction) never count. */
  tolerance: z.number(),
  method: z.string(),
  regressions: z.number().int(),
  improvements: z.number().int(),
  comparisons: z.array(baselineComparisonSchema),
  /** Metrics only in one of the two runs. */
  onlyInBaseline: z.array(z.string()),
  onlyInCurrent: z.array(z.string()),
  /**
   * Both runs' CPU benchmark (ms, lower is faster; lib/run/cpu-benchmark.ts) and this run's over
   * the baseline's, when both recorded one.
   */
  machines: z.object({ baselineCpuMs: z.number(), currentCpuMs: z.number(), ratio: z.number() }).optional(),
});
export type BaselineResult = z.infer<typeof baselineSchema>;

export const perfSummarySchema = z.object({
  schemaVersion: z.literal(SUMMARY_SCHEMA_VERSION),
  checkpoint: z.literal('7.4'),
  verdict: z.enum(['pass', 'fail']),
  profile: z.enum(PROFILE_NAMES),
  startedAt: z.string(),
  durationMs: z.number(),
  generatedAt: z.string(),
  tests: z.object({
    total: z.number().int(),
    passed: z.number().int(),
    failed: z.number().int(),
    skipped: z.number().int(),
    flaky: z.number().int(),
  }),
  criteria: z.array(criterionSchema),
  metrics: z.array(metricSummarySchema),
  evidence: z.array(evidenceSchema),
  harnessErrors: z.array(z.object({ test: z.string(), message: z.string() })),
  thresholdOverrides: z.array(z.string()),
  environment: z.record(z.string(), z.unknown()),
  baseline: baselineSchema.nullable(),
  comparison: comparisonSchema.optional(),
  /** Where the run's time went: global setup, seeding (inside the tests), each spec file, the reports. */
  phases: z
    .object({
      setupMs: num,
      seedingMs: z.number(),
      specs: z.array(z.object({ file: z.string(), ms: z.number() })),
      reportsMs: z.number(),
    })
    .optional(),
  /** The run stopped before any test (global setup): its one cause. Verdict `fail`, no criteria. */
  setupError: z.string().optional(),
  /** CPU steal over the measuring tests (lib/run/cpu-steal.ts); absent where /proc/stat is unreadable. */
  host: z
    .object({
      stealShare: z.number(),
      tests: z.number().int(),
      testsHigh: z.number().int(),
    })
    .optional(),
});
export type PerfSummary = z.infer<typeof perfSummarySchema>;

/** `${reportDir}/environment.json` written by global setup, redacted again; {} when absent. */
export function readEnvironment(reportDir: string): Record<string, unknown> {
  const path = join(reportDir, 'environment.json');
  if (!existsSync(path)) return {};
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (redactSecrets(parsed) as Record<string, unknown>)
      : {};
  } catch (error) {
    return { error: `environment.json unreadable: ${(error as Error).message}` };
  }
}

// ---------------------------------------------------------------- build

const orNull = (v: number) => (Number.isFinite(v) ? v : null);

export interface SummaryContext {
  startedAt: Date;
  durationMs: number;
  tests?: PerfSummary['tests'];
  environment?: Record<string, unknown>;
  baseline?: BaselineResult | null;
  /** Set when the run stopped in global setup: the checkpoint was not evaluated. */
  setupError?: string;
}

export function buildSummary(result: CheckpointResult, ctx: SummaryContext): PerfSummary {
  const summary: PerfSummary = {
    schemaVersion: SUMMARY_SCHEMA_VERSION,
    checkpoint: '7.4',
    verdict: result.verdict,
    profile: result.profile,
    startedAt: ctx.startedAt.toISOString(),
    durationMs: Math.round(ctx.durationMs),
    generatedAt: new Date().toISOString(),
    tests: ctx.tests ?? { total: 0, passed: 0, failed: 0, skipped: 0, flaky: 0 },
    criteria: result.criteria.map((c) => ({
      ...c,
      checks: c.checks.map((k) => ({ ...k, value: k.value !== null && Number.isFinite(k.value) ? k.value : null })),
    })),
    metrics: result.metrics.map((m) => ({
      name: m.name,
      category: m.category,
      scenario: m.scenario,
      ...(m.title ? { title: m.title } : {}),
      ...(m.memoryCount !== undefined ? { memoryCount: m.memoryCount } : {}),
      unit: m.unit,
      n: m.stats.n,
      errors: m.errorCount,
      errorRate: m.stats.n + m.errorCount === 0 ? null : m.errorCount / (m.stats.n + m.errorCount),
      errorDetails: m.errors.map((e) => ({ ...e, message: redact(e.message) })),
      warmup: m.warmup,
      min: orNull(m.stats.min),
      mean: orNull(m.stats.mean),
      p50: orNull(m.stats.p50),
      p90: orNull(m.stats.p90),
      p95: orNull(m.stats.p95),
      p99: orNull(m.stats.p99),
      max: orNull(m.stats.max),
      stddev: orNull(m.stats.stddev),
      ci95: { low: orNull(m.stats.ci95.low), high: orNull(m.stats.ci95.high) },
      outliers: m.stats.outliers,
      tags: m.tags,
      samples: [...m.samples],
      tests: m.tests,
    })),
    evidence: result.evidence.map((e) => redactSecrets(e) as (typeof result.evidence)[number]),
    harnessErrors: result.harnessErrors,
    thresholdOverrides: result.thresholdOverrides,
    environment: ctx.environment ?? {},
    baseline: ctx.baseline ?? null,
    // A run stopped in global setup compared nothing: no comparison, however compare mode was asked for.
    ...(result.comparison && !ctx.setupError ? { comparison: publishedComparison(result.comparison) } : {}),
    ...(result.host ? { host: result.host } : {}),
    ...(ctx.setupError ? { setupError: redact(ctx.setupError), verdict: 'fail' as const, criteria: [] } : {}),
  };
  // Validate what we publish: a bug here must fail loudly, not produce an off-contract file.
  return perfSummarySchema.parse(summary);
}

/** The published comparison: a ratio that is not finite (a zero base) serializes as null. */
function publishedComparison(c: NonNullable<CheckpointResult['comparison']>): z.infer<typeof comparisonSchema> {
  return {
    ...c,
    metrics: c.metrics.map((m) => ({ ...m, ratio: m.ratio !== null && Number.isFinite(m.ratio) ? m.ratio : null })),
  };
}

// ---------------------------------------------------------------- report

type Check = PerfSummary['criteria'][number]['checks'][number];

const SECTIONS: { title: string; categories: Category[] }[] = [
  { title: 'Response Times', categories: ['response'] },
  { title: 'Token Usage', categories: ['tokens'] },
  { title: 'Memory Scaling', categories: ['memory'] },
  { title: 'Database Performance', categories: ['database'] },
  { title: 'UI', categories: ['ui'] },
  { title: 'Bottlenecks', categories: ['bottlenecks'] },
  { title: 'Harness', categories: ['seeding', 'harness'] },
];

/**
 * Gating checks of one metric (coverage checks that passed are not interesting per line). Not the
 * comparison's: its table shows them, and a ratio limit beside a p95 in ms would read as nonsense.
 */
function checksFor(summary: PerfSummary, m: MetricSummary): Check[] {
  return summary.criteria
    .filter((c) => c.id !== NO_REGRESSION.id)
    .flatMap((c) => c.checks)
    .filter((k) => {
      if (k.metric !== m.name || k.scenario !== m.scenario) return false;
      // Coverage counts a metric per scenario, whatever the memory count it was measured at.
      if (k.id.startsWith('coverage:')) return !k.passed;
      return (k.memoryCount ?? null) === (m.memoryCount ?? null) && !(k.statistic === 'errorRate' && k.passed);
    });
}

function limitText(k: Check): string {
  if (k.statistic === 'errorRate') return `errors ${k.op} ${formatPercent(k.limit)}`;
  if (k.statistic === 'n') return `n ${k.op} ${k.limit}`;
  return `${k.statistic} ${k.op} ${formatNumber(k.limit, k.unit)}`;
}
const limitsText = (checks: Check[]) => [...new Set(checks.map(limitText))].join(', ');
const markOf = (checks: Check[]) => (checks.length === 0 ? ' ' : checks.every((k) => k.passed) ? '✓' : '✗');

function isSingleValued(m: MetricSummary): boolean {
  return m.n === 1 || m.unit === 'bool' || m.unit === 'exponent';
}

/** The limit a row's `statistic` is held to, so that its figure is not rounded onto it. */
const limitFor = (checks: Check[], statistic: string) => checks.find((k) => k.statistic === statistic)?.limit;

function valueText(m: MetricSummary, checks: Check[] = []): string {
  if (m.n === 0) return m.errors > 0 ? `no samples (${m.errors} failed)` : 'no samples';
  if (m.unit === 'bool')
    return m.min === 1 ? 'yes' : m.n === 1 ? 'no' : `${m.samples.filter((s) => s >= 1).length}/${m.n} yes`;
  if (isSingleValued(m)) return `${formatNumber(m.max, m.unit, limitFor(checks, 'value') ?? limitFor(checks, 'max'))}`;
  // Per-question scores (recall@5, reciprocal rank): the mean is the figure; percentiles of 0/1 say nothing.
  if (m.unit === 'ratio') return `mean ${formatNumber(m.mean, m.unit, limitFor(checks, 'mean'))}`;
  const p50 = formatNumber(m.p50, m.unit, limitFor(checks, 'p50'));
  return `p50 ${p50}  p95 ${formatNumber(m.p95, m.unit, limitFor(checks, 'p95'))}`;
}

function pct(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '—';
  return `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)} %`;
}

/** The one-line outcome of a run that never reached its tests (every report says the same). */
export const SETUP_FAILED = '✗ Checkpoint 7.4 FAILED: setup error, nothing was measured';
const VERIFICATION = 'CHECKPOINT 7.4 VERIFICATION';

/** The console's lines of one category: a caption per metric measured in several scenarios, a row per scenario. */
function categoryTable(summary: PerfSummary, metrics: MetricSummary[]): Block {
  const row = (label: string, m: MetricSummary, indent: string) => {
    const checks = checksFor(summary, m);
    const limits = limitsText(checks);
    const errs = m.errors > 0 && m.n > 0 ? `  (${m.errors} failed)` : '';
    return [`${indent}${markOf(checks)} ${label}`, valueText(m, checks), `${limits ? `limit ${limits}` : ''}${errs}`];
  };
  const rows: Row[] = [];
  for (const name of new Set(metrics.map((m) => m.name))) {
    const group = metrics.filter((m) => m.name === name);
    const first = group[0] as MetricSummary;
    if (group.length === 1 && first.scenario === 'default') rows.push(row(first.title ?? name, first, ''));
    else rows.push(`${first.title ?? name} (${name})`, ...group.map((m) => row(m.scenario, m, '  ')));
  }
  return table(undefined, rows, '', 'console');
}

/** Recall@5 and MRR per search mode, from the per-question samples (lib/figures/relevance.ts). */
function relevanceSection(summary: PerfSummary): Section | undefined {
  const rows = relevanceRows(
    summary.metrics,
    summary.criteria.flatMap((c) => c.checks),
  );
  const r = rows.find((x) => x.limits.recall !== undefined)?.limits.recall;
  const m = rows.find((x) => x.limits.mrr !== undefined)?.limits.mrr;
  const limits = [r !== undefined && `recall@${RELEVANCE_TOP_K} ≥ ${r}`, m !== undefined && `MRR ≥ ${m}`].filter(
    Boolean,
  );
  const cells = rows.map((x) => [
    `${x.passed === undefined ? ' ' : x.passed ? '✓' : '✗'} ${x.mode}`,
    formatMeanCi(x.recall),
    formatMeanCi(x.mrr),
    String(x.recall.n),
  ]);
  const head = ['Search mode', `Recall@${RELEVANCE_TOP_K} (95 % CI)`, 'MRR (95 % CI)', 'Questions'];
  return rows.length === 0
    ? undefined
    : {
        heading: `Relevance (labelled retrieval set, top ${RELEVANCE_TOP_K}; mean over questions, 95 % CI)`,
        blocks: [limits.length > 0 && text(`limit ${limits.join(', ')}`), table(head, cells, 'lrrr')],
      };
}

/** How sure a percentile check's decision is: its 95 % interval, and whether the interval decided. */
function intervalNote(k: Check): string {
  if (!k.interval || !k.decidedBy) return '';
  const bound = (v: number | null, open: string) => (v === null ? open : formatNumber(v, k.unit));
  const range = `95 % interval ${bound(k.interval.low, '−∞')} – ${bound(k.interval.high, '∞')}`;
  return k.decidedBy === 'interval'
    ? ` (${range}: all of it beyond the limit)`
    : ` (${range} spans the limit: decided on the estimate)`;
}

/**
 * Every metric with its distribution: n, min, p50 with the 95 % interval of the median, p95, p99,
 * max. A single value, a mean over questions (relevance) or a yes/no shows that value alone.
 */
function metricsTable(summary: PerfSummary): Block {
  const rows = summary.metrics.map((m) => {
    const checks = checksFor(summary, m);
    const n = `${m.n}${m.errors > 0 ? ` (+${m.errors} failed)` : ''}`;
    const head = [m.title ?? m.name, m.scenario, n];
    const tail = [limitsText(checks), markOf(checks).trim()];
    if (m.n === 0) return [...head, '', '—', '', '', '', ...tail];
    if (isSingleValued(m) || m.unit === 'ratio') return [...head, '', valueText(m, checks), '', '', '', ...tail];
    const at = (v: number | null, statistic?: 'p50' | 'p95' | 'p99') =>
      formatNumber(v, m.unit, statistic && limitFor(checks, statistic));
    // The median's interval: open (n ≤ 5) when even [min, max] would cover it less than 95 % of the time.
    const { low, high } = m.ci95;
    const ci = low === null || high === null ? 'open' : `${formatNumber(low)}–${formatNumber(high)}`;
    return [...head, at(m.min), `${at(m.p50, 'p50')} (${ci})`, at(m.p95, 'p95'), at(m.p99, 'p99'), at(m.max), ...tail];
  });
  const columns = ['Metric', 'Scenario', 'n', 'min', 'p50 (95 % CI)', 'p95', 'p99', 'max', 'Limit', ''];
  return table(columns, rows, 'llrrrrrr', 'markdown');
}

function baselineSection(b: BaselineResult): Section {
  const shown = b.comparisons.filter((c) => c.decision === 'regression' || c.decision === 'improvement');
  const few = b.comparisons.filter((c) => c.decision === 'insufficient-data').length;
  const unchanged = b.comparisons.length - b.regressions - b.improvements;
  const rows = shown.map((c) => {
    const ratio = formatNumber(c.ratio, 'ratio');
    const ci = c.ci95 ? `${ratio} (${formatNumber(c.ci95.low, 'ratio')}–${formatNumber(c.ci95.high, 'ratio')})` : ratio;
    const p50 = `${formatNumber(c.baseline.p50, c.unit)} → ${formatNumber(c.current.p50, c.unit)}`;
    const decision = c.decision === 'regression' ? '✗ regression' : '✓ improvement';
    return [c.name, c.scenario, p50, pct(c.p50Change), pct(c.p95Change), ci, decision];
  });
  const head = ['Metric', 'Scenario', 'p50 before → after', 'Δ p50', 'Δ p95', 'ratio (95 % CI)', 'Decision'];
  const run = `without significant change${b.baselineStartedAt ? ` (baseline run of ${b.baselineStartedAt})` : ''}`;
  const fewNote = `${few} single-valued or tiny metrics (< 3 samples) are not compared statistically; `;
  return {
    heading: `Baseline comparison (vs ${b.path}, tolerance ${(b.tolerance * 100).toFixed(0)} %)`,
    blocks: [
      text(`**${b.regressions} regressions**, ${b.improvements} improvements, ${unchanged} ${run}.`),
      text(b.method, 'markdown'),
      b.machines && text(machinesNote(b.machines)),
      few > 0 && text(`${fewNote}their thresholds still gate them.`, 'markdown'),
      shown.length > 0 ? table(head, rows, 'lllrr') : text('No metric changed significantly.'),
    ],
  };
}

/**
 * Beyond this share, two machines' CPU benchmarks differ enough to move every CPU-bound time. One
 * machine measured itself 30–38 ms in eight runs: a smaller difference may be the same machine.
 */
const MACHINES_DIFFER = 0.25;

function machinesNote(m: NonNullable<BaselineResult['machines']>): string {
  const figures =
    `CPU benchmark (lower is faster): this machine ${formatNumber(m.currentCpuMs, 'ms')}, ` +
    `the baseline's ${formatNumber(m.baselineCpuMs, 'ms')} (×${m.ratio.toFixed(2)}).`;
  if (Math.abs(m.ratio - 1) < MACHINES_DIFFER) return figures;
  return (
    `${figures} The machines differ: the app's own CPU-bound times move by about that much with no change ` +
    'at all. Compare mode (PERF_COMPARE_REF) measures base and change on one machine.'
  );
}

/**
 * The warning beside the verdict when the host withheld much of the CPU time the machine wanted
 * (isHighSteal); undefined otherwise. Every report shows this same text.
 */
export function hostWarning(summary: Pick<PerfSummary, 'host' | 'comparison'>): string | undefined {
  const host = summary.host;
  if (!host || !isHighSteal(host.stealShare)) return undefined;
  const advice = summary.comparison
    ? "The comparison's two arms shared the host: it adds noise to both, it does not favour one."
    : 'Re-run later, or judge a change with compare mode (PERF_COMPARE_REF): its two arms share the host.';
  const tests =
    host.tests > 0 ? `; ${host.testsHigh} of ${host.tests} tests lost ${formatPercent(HIGH_STEAL_SHARE)} or more` : '';
  return (
    `⚠ The host withheld ${formatPercent(host.stealShare)} of the CPU time this machine wanted while ` +
    `the tests ran (CPU steal${tests}). CPU-bound times ran slower with no change to the app, so a ` +
    `failed limit may be the host. ${advice}`
  );
}

/** A criterion a compare-only run (`--grep @compare`) does not judge. */
const NOT_IN_RUN = 'not in this run (compare only)';

/** The run as a report: verdict first in Markdown (criteria, failures), last on the console (Step 7.4's layout). */
export function perfReport(summary: PerfSummary): Report {
  const title = `PERFORMANCE TEST SUMMARY (profile ${summary.profile})`;
  const phases = summary.phases && { blocks: [text(phaseLine(summary.phases), 'console')] };
  const compareOnly = summary.criteria.some((c) => c.status === 'skipped');
  const heading =
    `${summary.verdict === 'pass' ? '✓' : '✗'} Checkpoint 7.4${compareOnly ? ' (compare only)' : ''}: ` +
    `**${summary.verdict.toUpperCase()}**`;
  if (summary.setupError) {
    const blocks = [
      list(['✗ Not evaluated: the run stopped before any test.'], 'console'),
      text(`**${SETUP_FAILED}**`, 'markdown'),
      code(summary.setupError),
    ];
    const outcome = [{ heading: VERIFICATION, banner: true, blocks }];
    return { title, verdict: { heading, line: SETUP_FAILED }, sections: [phases], outcome };
  }
  const failing = summary.criteria.filter((c) => !c.passed);
  const failures = summary.criteria.flatMap((c) =>
    c.checks
      .filter((k) => !k.passed && k.status !== 'skipped')
      .map((k) => `**${c.title}** — ${k.message}${intervalNote(k)}${k.why ? ` _(${k.why})_` : ''}`),
  );
  // The verdict test renders this before the run ends: it knows no duration or test counts yet.
  const t = summary.tests;
  const cpuMs = cpuBenchmarkOf(summary.environment);
  const facts = [
    `Profile \`${summary.profile}\``,
    ...(summary.durationMs > 0 ? [`started ${summary.startedAt}`, `${(summary.durationMs / 1000).toFixed(1)} s`] : []),
    ...(cpuMs !== undefined ? [`CPU benchmark ${formatNumber(cpuMs, 'ms')}`] : []),
    ...(summary.host ? [`CPU steal ${formatPercent(summary.host.stealShare)}`] : []),
    ...(t.total > 0
      ? [`tests: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped${t.flaky ? `, ${t.flaky} flaky` : ''}`]
      : []),
  ];
  const criteria = summary.criteria.map((c) => {
    if (c.status === 'skipped') return [c.title, `– ${NOT_IN_RUN}`, '—'];
    const gated = c.checks.filter((k) => k.status !== 'skipped');
    const result = c.passed ? '✓ pass' : c.status === 'not-measured' ? '✗ not measured' : '✗ fail';
    return [c.title, result, `${gated.filter((k) => k.passed).length}/${gated.length}`];
  });
  const verification = summary.criteria.map((c) => {
    if (c.status === 'skipped') return `– ${c.title} — ${NOT_IN_RUN}`;
    const line = `${c.passed ? '✓' : '✗'} ${c.title}${c.status === 'not-measured' ? ' — not measured' : ''}`;
    const bad = c.checks.filter((k) => !k.passed && k.status !== 'skipped');
    const more = bad.length > 8 ? [`… and ${bad.length - 8} more (see perf-summary.md)`] : [];
    return c.passed ? line : { text: line, items: [...bad.slice(0, 8).map((k) => k.message), ...more] };
  });
  const categories = SECTIONS.flatMap(({ title, categories }) => {
    // Relevance metrics get their own section below Memory Scaling.
    const metrics = summary.metrics.filter(
      (m) => categories.includes(m.category) && !RELEVANCE_METRIC_NAMES.includes(m.name),
    );
    return [
      categories.includes('database') && relevanceSection(summary),
      metrics.length > 0 && { heading: title, blocks: [categoryTable(summary, metrics)] },
    ];
  });
  const bullets = (heading: string, items: string[], only?: Format) =>
    items.length > 0 && { heading, blocks: [list(items, only)] };
  const evidence = summary.evidence.map((e) => `**${e.name}** [${e.scenario}]: ${e.summary}`);
  const warning = hostWarning(summary);
  return {
    title,
    verdict: {
      heading,
      line:
        summary.verdict === 'fail'
          ? `✗ Checkpoint 7.4 FAILED: ${failing.map((c) => c.title).join('; ')}`
          : compareOnly
            ? `✓ No regression vs base (compare only: the Step 7.4 criteria need a whole run)`
            : '✓ All checkpoint 7.4 requirements met!',
    },
    outcome: [
      {
        blocks: [
          text(facts.join(' · '), 'markdown'),
          table(['Criterion', 'Result', 'Checks passed'], criteria, '', 'markdown'),
        ],
      },
      warning !== undefined && { blocks: [text(warning)] },
      // Right after the verdict: on a pull request, the comparison is what the reviewer came for.
      summary.comparison && comparisonSection(summary.comparison),
      bullets('Failures', failures, 'markdown'),
      bullets(
        'Harness errors',
        summary.harnessErrors.map((e) => `✗ \`${e.test}\`: ${e.message}`),
      ),
      { heading: VERIFICATION, banner: true, blocks: [list(verification, 'console')] },
    ],
    sections: [
      ...categories,
      { heading: 'Metrics', blocks: [metricsTable(summary)] },
      summary.baseline && baselineSection(summary.baseline),
      bullets('Threshold overrides', summary.thresholdOverrides),
      phases,
      { blocks: [evidence.length > 0 && { kind: 'details', summary: 'Evidence', items: evidence }] },
    ],
  };
}

export const renderConsole = (summary: PerfSummary): string => renderConsoleReport(perfReport(summary));
export const renderMarkdown = (summary: PerfSummary): string => renderMarkdownReport(perfReport(summary));

/** `Phases: setup 5.9 s · seeding 12.3 s · compare 61.2 s · database 12.1 s · … · reports 1.3 s`. */
export function phaseLine(p: NonNullable<PerfSummary['phases']>): string {
  const s = (ms: number | null) => (ms === null ? '?' : `${(ms / 1000).toFixed(1)} s`);
  const specs = p.specs.map((x) => `${x.file.replace(/\.spec\.ts$/, '').replace(/\.ts$/, '')} ${s(x.ms)}`);
  return (
    `Phases: setup ${s(p.setupMs)} · ${specs.join(' · ')} · reports ${s(p.reportsMs)} ` +
    `(seeding inside the specs: ${s(p.seedingMs)})`
  );
}

/** Reads and validates a perf-summary.json (for consumers and the baseline). */
export function parseSummary(json: unknown): PerfSummary {
  return perfSummarySchema.parse(json);
}
