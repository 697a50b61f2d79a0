import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BaselineError,
  MIN_SAMPLES_FOR_DECISION,
  compareMetric,
  compareToBaseline,
  loadBaseline,
  parseTolerance,
  type ComparableMetric,
} from '../../lib/verdict/baseline';
import { PERF_THRESHOLDS } from '../../perf.thresholds';
import { evaluateCheckpoint } from '../../lib/verdict/checkpoint';
import { verdictInputProblem } from '../../lib/verdict/inputs';
import { buildSummary, renderMarkdown } from '../../lib/report/summary';
import { cpuBenchmarkMs, cpuBenchmarkOf } from '../../lib/run/cpu-benchmark';
import { BOOTSTRAP_WORK_CAP, quantile, seededRandom } from '../../lib/verdict/stats';
import { syntheticRun, type SyntheticOptions } from '../fixtures-reporter/synthetic';
import { tempDir } from '../support/temp-dir';

function metric(samples: number[], unit: ComparableMetric['unit'] = 'ms'): ComparableMetric {
  return {
    name: 'response.total_ms',
    scenario: 'simple-query',
    unit,
    samples,
    n: samples.length,
    p50: quantile(samples, 0.5),
    p95: quantile(samples, 0.95),
  };
}
/** Log-normal-ish latencies: median `m`, multiplicative noise `spread`. */
function latencies(n: number, m: number, spread: number, seed: number): number[] {
  const rnd = seededRandom(seed);
  return Array.from({ length: n }, () => m * Math.exp(spread * (rnd() + rnd() + rnd() - 1.5)));
}
const summaryOf = (o: SyntheticOptions) =>
  buildSummary(evaluateCheckpoint({ thresholds: PERF_THRESHOLDS, docs: syntheticRun(o), env: {} }), {
    startedAt: new Date(),
    durationMs: 1,
  });

void test('identical samples: no regression, no improvement', () => {
  const a = latencies(20, 1000, 0.3, 1);
  const c = compareMetric(metric(a), metric([...a]), 0.1);
  assert.equal(c.decision, 'no-change');
  assert.equal(c.ratio, 1);
  assert.equal(c.p50Change, 0);
});

void test('clearly slower (×1.5 with noise) is a regression; the reverse an improvement', () => {
  const before = latencies(20, 1000, 0.2, 2);
  const after = latencies(20, 1500, 0.2, 3);
  const slow = compareMetric(metric(before), metric(after), 0.1);
  assert.equal(slow.decision, 'regression', JSON.stringify(slow));
  assert.ok((slow.ci95?.low ?? 0) > 1.1);
  assert.ok((slow.p50Change ?? 0) > 0.3);
  assert.equal(compareMetric(metric(after), metric(before), 0.1).decision, 'improvement');
});

void test('noisy overlap (same distribution, new draws, ~15 % apart by chance) is no significant change', () => {
  const before = latencies(10, 1000, 1.2, 4);
  const after = latencies(10, 1000, 1.2, 5);
  const c = compareMetric(metric(before), metric(after), 0.1);
  assert.equal(c.decision, 'no-change', JSON.stringify(c));
});

void test('within tolerance is not a regression even when significant', () => {
  const before = latencies(200, 1000, 0.02, 6);
  const after = before.map((x) => x * 1.05); // +5 %, very tight: significant but < 10 %
  assert.equal(compareMetric(metric(before), metric(after), 0.1).decision, 'no-change');
  assert.equal(compareMetric(metric(before), metric(after), 0.02).decision, 'regression');
});

void test('throughput is higher-is-better; tiny samples give insufficient-data', () => {
  const before = latencies(10, 50000, 0.05, 7);
  const after = before.map((x) => x / 2);
  const c = compareMetric(
    { ...metric(before, 'rows/s'), name: 'seeding.memories_rows_per_s' },
    { ...metric(after, 'rows/s'), name: 'seeding.memories_rows_per_s' },
    0.1,
  );
  assert.equal(c.better, 'higher');
  assert.equal(c.decision, 'regression');
  assert.equal(compareMetric(metric([1, 2]), metric([3, 4]), 0.1).decision, 'insufficient-data');
});

void test('relevance is higher-is-better and compared by its mean, as its checks gate', () => {
  // Per-question scores: 0/1 hits for recall@5, 1/rank for MRR. Recall falls from 0.97 to 0.6:
  // the median of the hits stays 1, the mean does not.
  const hits = (n: number, share: number) => Array.from({ length: n }, (_, i) => (i < Math.round(n * share) ? 1 : 0));
  const recall = (samples: number[]) => ({
    ...metric(samples, 'ratio'),
    name: 'memory.recall_at_5',
    scenario: 'ranked',
  });
  const fell = compareMetric(recall(hits(132, 0.97)), recall(hits(132, 0.6)), 0.1);
  assert.equal(fell.better, 'higher');
  assert.equal(fell.decision, 'regression', JSON.stringify(fell));
  assert.ok(Math.abs((fell.ratio ?? 0) - 0.6 / 0.97) < 0.01, String(fell.ratio));
  assert.equal(compareMetric(recall(hits(132, 0.6)), recall(hits(132, 0.97)), 0.1).decision, 'improvement');
  assert.equal(compareMetric(recall(hits(132, 0.97)), recall(hits(132, 0.97)), 0.1).decision, 'no-change');
  // Answers slip from rank 1 to rank 2: MRR halves.
  const mrr = (samples: number[]) => ({ ...metric(samples, 'ratio'), name: 'memory.mrr', scenario: 'ranked' });
  const slipped = compareMetric(mrr(Array<number>(132).fill(1)), mrr(Array<number>(132).fill(0.5)), 0.1);
  assert.equal(slipped.decision, 'regression', JSON.stringify(slipped));
});

void test('a whole run against itself has no regressions; against a slow-model run it has them', () => {
  const clean = summaryOf({ profile: 'default', seed: 1 });
  const again = summaryOf({ profile: 'default', seed: 2 });
  const slow = summaryOf({ profile: 'default', seed: 3, scale: { 'response.total_ms': 3, 'response.ui_done_ms': 3 } });
  const t0 = performance.now();
  const self = compareToBaseline(clean.metrics, clean, { path: 'base.json' });
  assert.ok(performance.now() - t0 < 5000, 'bootstrap work is capped');
  assert.equal(self.regressions, 0);
  assert.equal(compareToBaseline(again.metrics, clean, { path: 'base.json' }).regressions, 0);
  const vsSlow = compareToBaseline(slow.metrics, clean, { path: 'base.json' });
  const regressed = vsSlow.comparisons
    .filter((c) => c.decision === 'regression')
    .map((c) => `${c.name}[${c.scenario}]`)
    .sort();
  assert.deepEqual(regressed, [
    'response.total_ms[large-memory-context]',
    'response.total_ms[long-conversation]',
    'response.total_ms[simple-query]',
    'response.ui_done_ms[large-memory-context]',
    'response.ui_done_ms[long-conversation]',
    'response.ui_done_ms[simple-query]',
  ]);
  assert.ok(!vsSlow.comparisons.some((c) => c.unit === 'bool'), 'boolean facts are not compared');
});

void test('loadBaseline: another schema version, bad JSON or a missing file is a clear BaselineError', () => {
  const dir = tempDir('base-');
  const s = JSON.parse(JSON.stringify(summaryOf({}))) as Record<string, unknown>;
  const ok = join(dir, 'ok.json');
  writeFileSync(ok, JSON.stringify(s));
  assert.equal(loadBaseline(ok).checkpoint, '7.4');
  const v1 = join(dir, 'v1.json');
  writeFileSync(v1, JSON.stringify({ ...s, schemaVersion: 1 }));
  assert.equal(loadBaseline(v1).checkpoint, '7.4', 'a version 1 summary (before compare mode) still reads');
  const v9 = join(dir, 'v9.json');
  writeFileSync(v9, JSON.stringify({ ...s, schemaVersion: 9 }));
  assert.throws(
    () => loadBaseline(v9),
    (e: Error) =>
      e instanceof BaselineError &&
      /v9\.json: schemaVersion 9 but this suite reads schemaVersion 1 or 2/.test(e.message),
  );
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{');
  assert.throws(() => loadBaseline(bad), /bad\.json: not valid JSON/);
  const broken = join(dir, 'broken.json');
  writeFileSync(broken, JSON.stringify({ ...s, metrics: 'x' }));
  assert.throws(() => loadBaseline(broken), /broken\.json: not a valid perf-summary\.json: field metrics/);
  assert.throws(() => loadBaseline(join(dir, 'none.json')), /none\.json: cannot read/);
});

void test('PERF_BASELINE_TOLERANCE accepts fractions and percentages', () => {
  assert.equal(parseTolerance(undefined), 0.1);
  assert.equal(parseTolerance('0.2'), 0.2);
  assert.equal(parseTolerance('15%'), 0.15);
  assert.throws(() => parseTolerance('fast'), /PERF_BASELINE_TOLERANCE=fast/);
  assert.throws(() => parseTolerance('%'), /PERF_BASELINE_TOLERANCE=%/);
});

void test('the method text names the resamples actually drawn, also when the work cap lowered them', () => {
  const clean = summaryOf({ profile: 'smoke', seed: 1 });
  const bootstrapped = (r: ReturnType<typeof compareToBaseline>) => r.comparisons.filter((c) => c.ci95 !== null).length;
  const plain = compareToBaseline(clean.metrics, clean, { path: 'base.json' });
  assert.ok(bootstrapped(plain) > 0);
  assert.match(plain.method, /seeded, 2,000 resamples\)/);
  // One metric with 1,500 samples per side: 3,000 values per resample → capped below 2,000.
  const target = clean.metrics.findIndex((m) => m.unit === 'ms' && m.samples.length >= MIN_SAMPLES_FOR_DECISION);
  assert.ok(target >= 0);
  const big = latencies(1500, 1000, 0.2, 9);
  const capped = Math.floor(BOOTSTRAP_WORK_CAP / (2 * big.length));
  assert.ok(capped < 2000);
  const large = {
    ...clean,
    metrics: clean.metrics.map((m, i) => (i === target ? { ...m, samples: big, n: big.length } : m)),
  };
  const mixed = compareToBaseline(large.metrics, large, { path: 'base.json' });
  assert.match(mixed.method, new RegExp(`seeded, ${capped.toLocaleString('en-US')}–2,000 resamples per metric`));
  assert.doesNotMatch(mixed.method, /seeded, 2,000 resamples\)/);
});

void test('a baseline from another machine: both CPU benchmarks and a warning in the report', () => {
  const onMachine = (cpuBenchmarkMs: number) => ({ machine: { cpuBenchmarkMs } });
  const base = { ...summaryOf({ profile: 'default', seed: 1 }), environment: onMachine(20) };
  const run = summaryOf({ profile: 'default', seed: 2 });
  const slower = compareToBaseline(run.metrics, base, { path: 'base.json', environment: onMachine(28) });
  assert.deepEqual(slower.machines, { baselineCpuMs: 20, currentCpuMs: 28, ratio: 1.4 });
  const md = renderMarkdown({ ...run, environment: onMachine(28), baseline: slower });
  assert.match(
    md,
    /CPU benchmark \(lower is faster\): this machine 28 ms, the baseline's 20 ms \(×1\.40\)\. The machines differ/,
  );
  assert.match(md, /CPU benchmark 28 ms/, 'the run facts name it too');

  const alike = compareToBaseline(run.metrics, base, { path: 'base.json', environment: onMachine(21) });
  assert.doesNotMatch(renderMarkdown({ ...run, baseline: alike }), /The machines differ/);
  // An older baseline (no benchmark) or none recorded now: nothing to say.
  assert.equal(
    compareToBaseline(run.metrics, summaryOf({}), { path: 'b', environment: onMachine(28) }).machines,
    undefined,
  );
  assert.equal(compareToBaseline(run.metrics, base, { path: 'b' }).machines, undefined);
});

void test('the CPU benchmark: a positive time, and read back only from a well-formed environment', () => {
  const ms = cpuBenchmarkMs(2);
  assert.ok(Number.isFinite(ms) && ms > 0, String(ms));
  assert.equal(cpuBenchmarkOf({ machine: { cpuBenchmarkMs: 12.5 } }), 12.5);
  for (const bad of [
    undefined,
    {},
    { machine: null },
    { machine: { cpuBenchmarkMs: 'fast' } },
    { machine: { cpuBenchmarkMs: 0 } },
  ])
    assert.equal(cpuBenchmarkOf(bad as Record<string, unknown> | undefined), undefined);
});

void test('verdict inputs: a bad threshold file, baseline or tolerance is one message naming it', () => {
  const dir = tempDir('inputs-');
  const file = (name: string, body: string) => {
    const path = join(dir, name);
    writeFileSync(path, body);
    return path;
  };
  const good = file('good.json', JSON.stringify(summaryOf({})));
  assert.equal(verdictInputProblem(PERF_THRESHOLDS, {}), undefined);
  assert.equal(verdictInputProblem(PERF_THRESHOLDS, { PERF_BASELINE: good }), undefined);
  assert.match(
    verdictInputProblem(PERF_THRESHOLDS, { PERF_BASELINE: file('v99.json', '{"schemaVersion": 99}') }) ?? '',
    /^PERF_BASELINE=.*v99\.json: schemaVersion 99/,
  );
  assert.match(
    verdictInputProblem(PERF_THRESHOLDS, { PERF_BASELINE: good, PERF_BASELINE_TOLERANCE: 'lots' }) ?? '',
    /PERF_BASELINE_TOLERANCE/,
  );
  assert.match(
    verdictInputProblem(PERF_THRESHOLDS, { PERF_THRESHOLDS: file('limits.json', '{"no.such.check": {"limit": 1}}') }) ??
      '',
    /PERF_THRESHOLDS/,
  );
});
