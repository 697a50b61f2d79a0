/**
 * The run's summary in three forms, all rendered from one `PerfSummary` object:
 *  - `perf-summary.json`: a versioned contract for tools (zod schema exported below);
 *  - `perf-summary.md`: GitHub step summary / PR comment, verdict first;
 *  - the console summary in Step 7.4's layout, ending with CHECKPOINT 7.4 VERIFICATION.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { CATEGORIES, evidenceSchema, sampleErrorSchema, UNITS, type Category } from './metrics-schema';
import { PROFILE_NAMES } from './profiles';
import { CRITERION_IDS, OPS, STATISTICS, formatNumber } from './thresholds';
import type { CheckpointResult } from './checkpoint';
import { DECISIONS } from './compare';
import { comparisonConsoleLines, comparisonMarkdown } from './comparison-report';
import { formatMeanCi, RELEVANCE_METRIC_NAMES, RELEVANCE_TOP_K, relevanceRows, type RelevanceRow } from './relevance';
import { redact, redactSecrets } from './redact';

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

/** Compare mode: the base/candidate comparison (lib/compare.ts). Absent in a plain run. */
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
    }),
  ),
  regressions: z.number().int(),
  improvements: z.number().int(),
});

export const criterionSchema = z.object({
  id: z.enum(CRITERION_IDS as [string, ...string[]]),
  title: z.string(),
  passed: z.boolean(),
  status: z.enum(['passed', 'failed', 'not-measured']),
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

export { DECISIONS, type Decision } from './compare';

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

// ---------------------------------------------------------------- shared helpers

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

/** Gating checks of one metric (coverage checks that passed are not interesting per line). */
function checksFor(summary: PerfSummary, m: MetricSummary): Check[] {
  return summary.criteria
    .flatMap((c) => c.checks)
    .filter(
      (k) =>
        k.metric === m.name &&
        k.scenario === m.scenario &&
        (k.memoryCount ?? null) === (m.memoryCount ?? null) &&
        !(k.id.startsWith('coverage:') && k.passed) &&
        !(k.statistic === 'errorRate' && k.passed),
    );
}

function limitText(k: Check): string {
  if (k.statistic === 'errorRate') return `errors ${k.op} ${(k.limit * 100).toFixed(0)} %`;
  if (k.statistic === 'n') return `n ${k.op} ${k.limit}`;
  return `${k.statistic} ${k.op} ${formatNumber(k.limit, k.unit)}`;
}

function isSingleValued(m: MetricSummary): boolean {
  return m.n === 1 || m.unit === 'bool' || m.unit === 'exponent';
}

function valueText(m: MetricSummary): string {
  if (m.n === 0) return m.errors > 0 ? `no samples (${m.errors} failed)` : 'no samples';
  if (m.unit === 'bool')
    return m.min === 1 ? 'yes' : m.n === 1 ? 'no' : `${m.samples.filter((s) => s >= 1).length}/${m.n} yes`;
  if (isSingleValued(m)) return `${formatNumber(m.max, m.unit)}`;
  // Per-question scores (recall@5, reciprocal rank): the mean is the figure; percentiles of 0/1 say nothing.
  if (m.unit === 'ratio') return `mean ${formatNumber(m.mean, m.unit)}`;
  return `p50 ${formatNumber(m.p50, m.unit)}  p95 ${formatNumber(m.p95, m.unit)}`;
}

function pct(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '—';
  return `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)} %`;
}

/** Recall@5 and MRR per search mode, from the per-question samples (lib/relevance.ts). */
function relevanceOf(summary: PerfSummary): RelevanceRow[] {
  return relevanceRows(
    summary.metrics,
    summary.criteria.flatMap((c) => c.checks),
  );
}

const RELEVANCE_TITLE = `Relevance (labelled retrieval set, top ${RELEVANCE_TOP_K}; mean over questions, 95 % CI)`;

function relevanceLimits(rows: readonly RelevanceRow[]): string {
  const r = rows.find((x) => x.limits.recall !== undefined)?.limits.recall;
  const m = rows.find((x) => x.limits.mrr !== undefined)?.limits.mrr;
  const parts = [r !== undefined ? `recall@${RELEVANCE_TOP_K} ≥ ${r}` : '', m !== undefined ? `MRR ≥ ${m}` : ''];
  return parts.filter(Boolean).join(', ');
}

// ---------------------------------------------------------------- console

const RULE = '='.repeat(78);
const center = (s: string) => `${' '.repeat(Math.max(0, Math.floor((RULE.length - s.length) / 2)))}${s}`;

/** The one-line outcome of a run that never reached its tests (every report says the same). */
export const SETUP_FAILED = '✗ Checkpoint 7.4 FAILED: setup error, nothing was measured';
function relevanceConsole(rows: readonly RelevanceRow[]): string[] {
  const limits = relevanceLimits(rows);
  const header = `    ${'mode'.padEnd(10)} ${`recall@${RELEVANCE_TOP_K}`.padEnd(24)} ${'MRR'.padEnd(24)} n`;
  const out = ['', `${RELEVANCE_TITLE}:`, `${header}${limits ? `    limit ${limits}` : ''}`];
  for (const r of rows) {
    const mark = r.passed === undefined ? ' ' : r.passed ? '✓' : '✗';
    const figures = `${formatMeanCi(r.recall).padEnd(24)} ${formatMeanCi(r.mrr).padEnd(24)} ${r.recall.n}`;
    out.push(`  ${mark} ${r.mode.padEnd(10)} ${figures}`);
  }
  return out;
}

export function renderConsole(summary: PerfSummary): string {
  const out: string[] = ['', RULE, center(`PERFORMANCE TEST SUMMARY (profile ${summary.profile})`), RULE];
  const line = (label: string, m: MetricSummary, indent: string) => {
    const checks = checksFor(summary, m);
    const mark = checks.length === 0 ? ' ' : checks.every((k) => k.passed) ? '✓' : '✗';
    const limits = checks
      .map(limitText)
      .filter((v, i, a) => a.indexOf(v) === i)
      .join(', ');
    const errs = m.errors > 0 && m.n > 0 ? `  (${m.errors} failed)` : '';
    const width = 44 - indent.length;
    const text = label.length > width ? `${label.slice(0, width - 1)}…` : label.padEnd(width);
    return `${indent}${mark} ${text} ${valueText(m).padEnd(30)} ${limits ? `limit ${limits}` : ''}${errs}`.trimEnd();
  };
  const relevance = relevanceOf(summary);
  for (const section of SECTIONS) {
    // Relevance metrics get their own section below Memory Scaling.
    const metrics = summary.metrics.filter(
      (m) => section.categories.includes(m.category) && !RELEVANCE_METRIC_NAMES.includes(m.name),
    );
    if (section.categories.includes('database') && relevance.length > 0) out.push(...relevanceConsole(relevance));
    if (metrics.length === 0) continue;
    out.push('', `${section.title}:`);
    const names = [...new Set(metrics.map((m) => m.name))];
    for (const name of names) {
      const group = metrics.filter((m) => m.name === name);
      const first = group[0] as MetricSummary;
      if (group.length === 1 && first.scenario === 'default') {
        out.push(line(first.title ?? name, first, '  '));
        continue;
      }
      out.push(`  ${first.title ?? name} (${name})`);
      for (const m of group) out.push(line(m.scenario, m, '    '));
    }
  }
  if (summary.baseline) {
    const b = summary.baseline;
    out.push('', `Baseline comparison (vs ${b.path}, tolerance ${(b.tolerance * 100).toFixed(0)} %):`);
    const unchanged = b.comparisons.length - b.regressions - b.improvements;
    out.push(`  ${b.regressions} regressions, ${b.improvements} improvements, ${unchanged} without significant change`);
    for (const c of b.comparisons.filter((x) => x.decision === 'regression' || x.decision === 'improvement')) {
      const ci = `${formatNumber(c.ci95?.low ?? null, 'ratio')}–${formatNumber(c.ci95?.high ?? null, 'ratio')}`;
      out.push(
        `  ${c.decision === 'regression' ? '✗ regression ' : '✓ improvement'} ${c.name} [${c.scenario}] ` +
          `p50 ${formatNumber(c.baseline.p50, c.unit)} → ${formatNumber(c.current.p50, c.unit)} ` +
          `(${pct(c.p50Change)}, ratio CI ${ci})`,
      );
    }
  }
  if (summary.comparison) out.push('', ...comparisonConsoleLines(summary.comparison));
  if (summary.thresholdOverrides.length > 0) {
    out.push('', 'Threshold overrides:', ...summary.thresholdOverrides.map((o) => `  • ${o}`));
  }
  if (summary.harnessErrors.length > 0) {
    out.push('', 'Harness errors:', ...summary.harnessErrors.map((e) => `  ✗ ${e.test}: ${e.message}`));
  }
  if (summary.phases) out.push('', phaseLine(summary.phases));
  out.push('', RULE, center('CHECKPOINT 7.4 VERIFICATION'), RULE);
  if (summary.setupError) {
    out.push(
      `  ✗ Not evaluated: the run stopped before any test.`,
      `      ${summary.setupError}`,
      '',
      SETUP_FAILED,
      '',
    );
    return out.join('\n');
  }
  for (const c of summary.criteria) {
    const note = c.status === 'not-measured' ? ' — not measured' : '';
    out.push(`  ${c.passed ? '✓' : '✗'} ${c.title}${note}`);
    if (!c.passed) {
      const bad = c.checks.filter((k) => !k.passed && k.status !== 'skipped');
      for (const k of bad.slice(0, 8)) out.push(`      - ${k.message}`);
      if (bad.length > 8) out.push(`      … and ${bad.length - 8} more (see perf-summary.md)`);
    }
  }
  out.push('');
  out.push(
    summary.verdict === 'pass'
      ? '✓ All checkpoint 7.4 requirements met!'
      : `✗ Checkpoint 7.4 FAILED: ${summary.criteria
          .filter((c) => !c.passed)
          .map((c) => c.title)
          .join('; ')}`,
  );
  out.push('');
  return out.join('\n');
}

/** `Phases: setup 5.9 s · seeding 12.3 s · compare 61.2 s · database 12.1 s · … · reports 1.3 s`. */
export function phaseLine(p: NonNullable<PerfSummary['phases']>): string {
  const s = (ms: number | null) => (ms === null ? '?' : `${(ms / 1000).toFixed(1)} s`);
  const specs = p.specs.map((x) => `${x.file.replace(/\.spec\.ts$/, '').replace(/\.ts$/, '')} ${s(x.ms)}`);
  return (
    `Phases: setup ${s(p.setupMs)} · ${specs.join(' · ')} · reports ${s(p.reportsMs)} ` +
    `(seeding inside the specs: ${s(p.seedingMs)})`
  );
}

// ---------------------------------------------------------------- markdown

const mdCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** How sure a percentile check's decision is: its 95 % interval, and whether the interval decided. */
function intervalNote(k: PerfSummary['criteria'][number]['checks'][number]): string {
  if (!k.interval || !k.decidedBy) return '';
  const bound = (v: number | null, open: string) => (v === null ? open : formatNumber(v, k.unit));
  const range = `95 % interval ${bound(k.interval.low, '−∞')} – ${bound(k.interval.high, '∞')}`;
  return k.decidedBy === 'interval'
    ? ` (${range}: all of it beyond the limit)`
    : ` (${range} spans the limit: decided on the estimate)`;
}

export function renderMarkdown(summary: PerfSummary): string {
  const ok = summary.verdict === 'pass';
  const out: string[] = [];
  out.push(`## ${ok ? '✅' : '❌'} Checkpoint 7.4: **${ok ? 'PASS' : 'FAIL'}**`, '');
  if (summary.setupError) {
    out.push(`**${SETUP_FAILED}**`, '', '```', summary.setupError, '```', '');
    return out.join('\n');
  }
  // The verdict test renders this before the run ends: it knows no duration or test counts yet.
  const t = summary.tests;
  out.push(
    [
      `Profile \`${summary.profile}\``,
      ...(summary.durationMs > 0
        ? [`started ${summary.startedAt}`, `${(summary.durationMs / 1000).toFixed(1)} s`]
        : []),
      ...(t.total > 0
        ? [`tests: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped${t.flaky ? `, ${t.flaky} flaky` : ''}`]
        : []),
    ].join(' · '),
    '',
  );
  out.push('| Criterion | Result | Checks passed |', '|---|---|---|');
  for (const c of summary.criteria) {
    const gated = c.checks.filter((k) => k.status !== 'skipped');
    const result = c.passed ? '✅ pass' : c.status === 'not-measured' ? '❌ not measured' : '❌ fail';
    out.push(`| ${c.title} | ${result} | ${gated.filter((k) => k.passed).length}/${gated.length} |`);
  }
  // Right after the verdict: on a pull request, the comparison is what the reviewer came for.
  if (summary.comparison) out.push('', ...comparisonMarkdown(summary.comparison));
  const failures = summary.criteria.flatMap((c) =>
    c.checks.filter((k) => !k.passed && k.status !== 'skipped').map((k) => ({ c, k })),
  );
  if (failures.length > 0) {
    out.push('', '### Failures', '');
    for (const { c, k } of failures)
      out.push(`- **${c.title}** — ${mdCell(k.message)}${intervalNote(k)}${k.why ? ` _(${mdCell(k.why)})_` : ''}`);
  }
  if (summary.harnessErrors.length > 0) {
    out.push(
      '',
      '### Harness errors',
      '',
      ...summary.harnessErrors.map((e) => `- \`${mdCell(e.test)}\`: ${mdCell(e.message)}`),
    );
  }
  const relevance = relevanceOf(summary);
  if (relevance.length > 0) {
    const limits = relevanceLimits(relevance);
    const intro =
      `Search answers on the labelled retrieval set, top ${RELEVANCE_TOP_K}: mean over the questions ` +
      `with its 95 % CI${limits ? `; limits ${limits}` : ''}.`;
    out.push('', '### Relevance', '', intro, '');
    out.push(`| Search mode | Recall@${RELEVANCE_TOP_K} (95 % CI) | MRR (95 % CI) | Questions | |`);
    out.push('|---|--:|--:|--:|---|');
    for (const r of relevance) {
      const mark = r.passed === undefined ? '' : r.passed ? '✅' : '❌';
      out.push(`| ${mdCell(r.mode)} | ${formatMeanCi(r.recall)} | ${formatMeanCi(r.mrr)} | ${r.recall.n} | ${mark} |`);
    }
  }
  out.push('', '### Metrics', '', '| Metric | Scenario | n | p50 | p95 | Limit | |', '|---|---|--:|--:|--:|---|---|');
  for (const m of summary.metrics) {
    const checks = checksFor(summary, m);
    const mark = checks.length === 0 ? '' : checks.every((k) => k.passed) ? '✅' : '❌';
    const single = isSingleValued(m);
    const perQuestion = m.unit === 'ratio' && !single;
    const p50 = m.n === 0 ? '—' : single || perQuestion ? valueText(m) : formatNumber(m.p50, m.unit);
    const p95 = m.n === 0 || single || perQuestion ? '' : formatNumber(m.p95, m.unit);
    const errs = m.errors > 0 ? ` (+${m.errors} failed)` : '';
    out.push(
      `| ${mdCell(m.title ?? m.name)} | ${mdCell(m.scenario)} | ${m.n}${errs} | ${p50} | ${p95} | ${mdCell(
        checks
          .map(limitText)
          .filter((v, i, a) => a.indexOf(v) === i)
          .join(', '),
      )} | ${mark} |`,
    );
  }
  if (summary.baseline) {
    const b = summary.baseline;
    out.push(
      '',
      `### Baseline comparison`,
      '',
      `Against \`${mdCell(b.path)}\`${b.baselineStartedAt ? ` (run of ${b.baselineStartedAt})` : ''}: ` +
        `**${b.regressions} regressions**, ${b.improvements} improvements. ${b.method}`,
      '',
    );
    const shown = b.comparisons.filter((c) => c.decision === 'regression' || c.decision === 'improvement');
    const few = b.comparisons.filter((c) => c.decision === 'insufficient-data').length;
    if (few > 0)
      out.push(
        `${few} single-valued or tiny metrics (< 3 samples) are not compared statistically; ` +
          'their thresholds still gate them.',
        '',
      );
    if (shown.length > 0) {
      out.push(
        '| Metric | Scenario | p50 before → after | Δ p50 | Δ p95 | ratio (95 % CI) | Decision |',
        '|---|---|---|--:|--:|---|---|',
      );
      for (const c of shown) {
        const ratio = formatNumber(c.ratio, 'ratio');
        const ci = c.ci95
          ? `${ratio} (${formatNumber(c.ci95.low, 'ratio')}–${formatNumber(c.ci95.high, 'ratio')})`
          : ratio;
        const mark = c.decision === 'regression' ? '❌ ' : c.decision === 'improvement' ? '✅ ' : '';
        const d = `${mark}${c.decision}`;
        out.push(
          `| ${mdCell(c.name)} | ${mdCell(c.scenario)} ` +
            `| ${formatNumber(c.baseline.p50, c.unit)} → ${formatNumber(c.current.p50, c.unit)} ` +
            `| ${pct(c.p50Change)} | ${pct(c.p95Change)} | ${ci} | ${d} |`,
        );
      }
    } else {
      out.push('No metric changed significantly.');
    }
  }
  if (summary.thresholdOverrides.length > 0) {
    out.push('', '### Threshold overrides', '', ...summary.thresholdOverrides.map((o) => `- ${mdCell(o)}`));
  }
  if (summary.evidence.length > 0) {
    out.push(
      '',
      '<details><summary>Evidence</summary>',
      '',
      ...summary.evidence.map((e) => `- **${mdCell(e.name)}** [${mdCell(e.scenario)}]: ${mdCell(e.summary)}`),
      '',
      '</details>',
    );
  }
  out.push('');
  return out.join('\n');
}

/** Reads and validates a perf-summary.json (for consumers and the baseline). */
export function parseSummary(json: unknown): PerfSummary {
  return perfSummarySchema.parse(json);
}
