/**
 * The A/B decision (lib/verdict/compare.ts): no alarm on identical arms, a real slowdown caught, exact
 * counts compared exactly, Holm's correction, and too few pairs reported as such.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compareOne, compareSeries, holm, leaning, within, type PairedSeries } from '../../lib/verdict/compare';
import { seededRandom, standardNormal } from '../../lib/verdict/stats';
import { PERF_THRESHOLDS } from '../../perf.thresholds';
import { evaluateCheckpoint } from '../../lib/verdict/checkpoint';
import type { SampleError, TestMetrics } from '../../lib/verdict/metrics-schema';
import { syntheticRun } from '../fixtures-reporter/synthetic';
import { comparisonSection } from '../../lib/report/comparison-report';
import { buildSummary, renderConsole, renderMarkdown } from '../../lib/report/summary';

/** Log-normal noise around `median`, with a drift shared by both halves of a pair. */
function pairs(n: number, seed: number, median: number, slowdown = 1, noise = 0.15): { b: number[]; c: number[] } {
  const rnd = seededRandom(seed);
  const gauss = () => standardNormal(rnd);
  const b: number[] = [];
  const c: number[] = [];
  for (let i = 0; i < n; i++) {
    const drift = Math.exp(0.3 * Math.sin(i / 7));
    b.push(median * drift * Math.exp(noise * gauss()));
    c.push(median * drift * slowdown * Math.exp(noise * gauss()));
  }
  return { b, c };
}

const ms = (name: string, b: number[], c: number[]): PairedSeries => ({
  name,
  scenario: 'api',
  unit: 'ms',
  base: b,
  candidate: c,
});
const arms = { base: { ref: 'HEAD' }, candidate: {} };

void describe('compare', () => {
  void test('identical arms: no regression and no improvement across 30 comparisons of 10 metrics', () => {
    let alarms = 0;
    for (let run = 0; run < 30; run++) {
      const series = Array.from({ length: 10 }, (_, k) => {
        const { b, c } = pairs(60, run * 100 + k, 1 + k);
        return ms(`db.metric_${k}_ms`, b, c);
      });
      const result = compareSeries(series, arms);
      alarms += result.regressions + result.improvements;
    }
    assert.ok(alarms <= 1, `${alarms} false alarms in 30 clean comparisons`);
  });

  void test('a 25 % slowdown of one metric is a regression, the others stay unchanged', () => {
    const series = Array.from({ length: 8 }, (_, k) => {
      const { b, c } = pairs(120, 7 + k, 0.7, k === 3 ? 1.25 : 1);
      return ms(`db.metric_${k}_ms`, b, c);
    });
    const result = compareSeries(series, arms);
    assert.equal(result.regressions, 1);
    assert.equal(result.improvements, 0);
    const slow = result.metrics[3];
    assert.equal(slow?.decision, 'regression');
    assert.ok(slow.ratio !== null && slow.ratio > 1.15 && slow.ratio < 1.35, `ratio ${slow.ratio}`);
  });

  void test('a large family can still declare a change: the bootstrap resolves its smallest threshold', () => {
    // 60 metrics: Holm's first threshold is 0.05 / 120, below the 1/2001 that 2,000 resamples show.
    // Few pairs each: 60 metrics take 24,000 resamples apiece.
    const series = Array.from({ length: 60 }, (_, k) => {
      const { b, c } = pairs(k === 0 ? 30 : 8, 300 + k, 1, k === 0 ? 2 : 1, 0.05);
      return ms(`db.metric_${k}_ms`, b, c);
    });
    const result = compareSeries(series, arms);
    assert.equal(result.metrics[0]?.decision, 'regression');
    assert.equal(result.regressions, 1);
  });

  void test('a slowdown inside the minimum effect is not a regression', () => {
    const { b, c } = pairs(300, 11, 2, 1.04, 0.05);
    const one = compareSeries([ms('db.session_create_ms', b, c)], arms).metrics[0];
    assert.equal(one?.decision, 'no-change');
  });

  void test("inside a chat turn a change must also exceed the arm's floor of 1 ms", () => {
    // An offset of the arm: 15 % of a 4 ms app overhead is 0.6 ms, inside the 1 ms floor.
    const offset = pairs(60, 5, 4, 1.15, 0.05);
    const same = compareSeries([ms('response.app_overhead_ms', offset.b, offset.c)], arms).metrics[0];
    assert.equal(same?.decision, 'no-change');
    // 1 ms of the base median (≈ 4–5 ms with the generator's drift), more than the usual 10 %.
    assert.ok(same && same.minEffect > 0.18 && same.minEffect < 0.26, `min effect ${same?.minEffect}`);
    const slower = pairs(20, 5, 4, 1.45, 0.05);
    const worse = compareSeries([ms('response.app_overhead_ms', slower.b, slower.c)], arms).metrics[0];
    assert.equal(worse?.decision, 'regression');
    // A millisecond request outside a chat keeps its 10 %.
    const plain = compareSeries([ms('memory.search_ms', offset.b, offset.c)], arms).metrics[0];
    assert.equal(plain?.decision, 'regression');
  });

  void test('counts: +1 token per message is a regression; identical counts are no change', () => {
    const base = Array.from({ length: 12 }, (_, i) => 3000 + i * 17);
    const plusOne = compareOne({
      name: 'tokens.total_per_message',
      scenario: 'api',
      unit: 'tokens',
      base,
      candidate: base.map((v) => v + 1),
    });
    assert.equal(plusOne.difference, 1);
    const same = compareSeries(
      [{ name: 'tokens.total_per_message', scenario: 'api', unit: 'tokens', base, candidate: [...base] }],
      arms,
    );
    assert.equal(same.metrics[0]?.decision, 'no-change');
    assert.equal(within(same.metrics[0]), true, 'an exact tie needs no more samples');
    const worse = compareSeries(
      [{ name: 'tokens.total_per_message', scenario: 'api', unit: 'tokens', base, candidate: base.map((v) => v + 1) }],
      arms,
    );
    assert.equal(worse.metrics[0]?.decision, 'regression');
    assert.equal(worse.regressions, 1);
  });

  void test('a change the Holm correction cannot confirm is no change, reported as likely and unconfirmed', () => {
    // A changed prompt lengthens some replies and not others: the round trip of 20 pairs leans
    // slower (×1.23 [1.10–1.30]), significant at plain 95 % but not across twelve metrics.
    const b = Array.from({ length: 20 }, (_, i) => 1400 + 10 * (i % 5));
    const lengthened = [1.0, 1.2, 1.3, 1.4, 1.0, 1.25, 1.35, 1.0, 1.3, 1.22];
    const roundTrip = ms(
      'response.total_ms',
      b,
      b.map((v, i) => v * (lengthened[i % 10] as number)),
    );
    const others = Array.from({ length: 11 }, (_, k) =>
      ms(
        `response.metric_${k}_ms`,
        b,
        b.map((v, i) => v * (1 + (((i * 7) % 5) - 2) / 1000)),
      ),
    );
    const result = compareSeries([roundTrip, ...others], arms);
    const m = result.metrics[0];
    assert.equal(m?.decision, 'no-change');
    assert.equal(m?.unconfirmed, 'slower');
    assert.ok(result.metrics.slice(1).every((x) => x.decision === 'no-change' && x.unconfirmed === undefined));
    // The sampler takes more pairs past its cap for such a metric, for no other.
    assert.equal(leaning(compareOne(roundTrip)), true);
    assert.ok(others.every((x) => !leaning(compareOne(x))));
    const section = JSON.stringify(comparisonSection(result));
    assert.match(section, /no change \(likely slower, unconfirmed\)/);
    assert.match(section, /1 of them beyond the minimum effect at 95 % but not after the Holm correction/);
  });

  void test('a chat turn on a fast model: an arm offset of a few ms is no change, +50 ms is a regression', () => {
    // The A/A smoke duet (instant model) on a slow machine: first token ×0.825, 49.2 vs 43.6 ms.
    const offset = pairs(60, 21, 49, 0.86, 0.1);
    const onInstant = compareSeries(
      [ms('response.ttft_ms', offset.b, offset.c), ms('response.total_ms', offset.b, offset.c)],
      arms,
    );
    assert.deepEqual(
      onInstant.metrics.map((m) => m.decision),
      ['no-change', 'no-change'],
    );
    const slower = pairs(60, 22, 60, 110 / 60, 0.1); // +50 ms on a 60 ms turn
    assert.equal(compareSeries([ms('response.total_ms', slower.b, slower.c)], arms).regressions, 1);
    // Realistic model: +50 ms on a 370 ms first token (+13.5 %) and a 1.4 s turn (+3.6 %).
    const ttft = pairs(20, 23, 370, 420 / 370, 0.01);
    const total = pairs(20, 24, 1400, 1450 / 1400, 0.005);
    const realistic = compareSeries(
      [ms('response.ttft_ms', ttft.b, ttft.c), ms('response.total_ms', total.b, total.c)],
      arms,
    );
    assert.equal(realistic.regressions, 2);
    // The floor is a chat turn's: other round trips keep their 2 %.
    assert.equal(compareOne(ms('db.session_create_roundtrip_ms', offset.b, offset.c)).minEffect, 0.02);
  });

  void test('leaning: a clear regression or a clear no-change is not leaning', () => {
    const { b, c } = pairs(120, 11, 0.7, 1.25);
    assert.equal(leaning(compareOne(ms('db.slow_ms', b, c))), false);
    const same = pairs(120, 12, 0.7);
    assert.equal(leaning(compareOne(ms('db.same_ms', same.b, same.c))), false);
  });

  void test('too few pairs: insufficient-data, never a verdict', () => {
    const result = compareSeries([ms('db.session_create_ms', [1, 2, 3], [1, 2, 3])], arms);
    assert.equal(result.metrics[0]?.decision, 'insufficient-data');
    assert.equal(result.regressions, 0);
  });

  void test('holm: step-down at alpha / (m − k)', () => {
    assert.deepEqual(holm([0.01, 0.04, 0.03, 0.005], 0.05), [true, false, false, true]);
    assert.deepEqual(holm([0.001, 0.2], 0.05), [true, false]);
  });

  void test('within: only a clear no-change may end the sampling early, never a clear regression', () => {
    const { b, c } = pairs(12, 3, 1, 1.1, 0.3);
    assert.equal(within(compareOne(ms('db.session_create_ms', b, c))), false, 'straddling: more pairs');
    const tight = pairs(400, 3, 1, 1, 0.02);
    assert.equal(within(compareOne(ms('db.session_create_ms', tight.b, tight.c))), true);
    const slow = pairs(120, 11, 0.7, 1.5);
    assert.equal(within(compareOne(ms('db.slow_ms', slow.b, slow.c))), false, 'a regression runs to the cap');
  });

  void test('a series sampled past its cap is decided on both looks, each with its share of α', () => {
    const quiet = Array.from({ length: 11 }, (_, k) => {
      const q = pairs(40, 40 + k, 1);
      return ms(`db.quiet_${k}_ms`, q.b, q.b);
    });
    const decide = (s: PairedSeries) => compareSeries([s, ...quiet], arms).metrics[0]?.decision;
    // Clear in its first 20 pairs (look 1), unchanged after: look 1 decides.
    const early = pairs(40, 31, 1, 1.5, 0.05);
    const fading = ms(
      'db.x_ms',
      early.b,
      early.c.map((c, i) => (i < 20 ? c : (early.b[i] as number))),
    );
    assert.equal(decide({ ...fading, firstLookPairs: 20 }), 'regression');
    assert.equal(decide({ ...fading, firstLookPairs: 0 }), 'no-change', 'on all 40 pairs alone it is not clear');
    // Unclear at look 1 (p ≈ 0.04), p ≈ 0.0008 at look 2: within look 2's fifth of α
    // (0.05 / 24 × 0.2 ≈ 0.0004) it is not, though the full look-1 share (× 0.8) would take it.
    const late = pairs(40, 4, 1, 1.22, 0.15);
    const leaningSeries = ms('db.x_ms', late.b, late.c);
    assert.equal(decide({ ...leaningSeries, firstLookPairs: 20 }), 'no-change');
    assert.equal(decide(leaningSeries), 'regression');
  });
});

void describe('the no-regression criterion in the checkpoint', () => {
  const pairDoc = (factor: number, n = 40): TestMetrics => {
    const { b, c } = pairs(n, 5, 1, factor, 0.05);
    return {
      schemaVersion: 1,
      test: { title: 'compare', file: 'e2e/compare.spec.ts', project: 'perf' },
      profile: 'default',
      metrics: [],
      evidence: [],
      pairs: [
        {
          name: 'db.session_create_ms',
          category: 'database',
          scenario: 'api',
          unit: 'ms',
          order: 'abba',
          base: b,
          candidate: c,
          errors: [],
        },
      ],
    };
  };
  const run = syntheticRun({ profile: 'default', seed: 1 });
  const criterion = (r: ReturnType<typeof evaluateCheckpoint>) => r.criteria.find((x) => x.id === 'no-regression');

  void test('a plain run has no comparison and no no-regression criterion', () => {
    const r = evaluateCheckpoint({ thresholds: PERF_THRESHOLDS, docs: run, env: {} });
    assert.equal(r.comparison, undefined);
    assert.equal(criterion(r), undefined);
  });

  void test('paired samples add the criterion; a regression fails it and the verdict', () => {
    const same = evaluateCheckpoint({ thresholds: PERF_THRESHOLDS, docs: [...run, pairDoc(1)], env: {} });
    assert.equal(criterion(same)?.passed, true);
    const slower = evaluateCheckpoint({ thresholds: PERF_THRESHOLDS, docs: [...run, pairDoc(1.6)], env: {} });
    assert.equal(criterion(slower)?.passed, false);
    assert.equal(slower.verdict, 'fail');
    assert.equal(slower.comparison?.regressions, 1);
  });

  void test("a metric's row shows its Step 7.4 limits, not the comparison's ratio limit", () => {
    const slower = evaluateCheckpoint({ thresholds: PERF_THRESHOLDS, docs: [...run, pairDoc(1.6)], env: {} });
    const out = renderConsole(buildSummary(slower, { startedAt: new Date(), durationMs: 1 }));
    const row = out.split('\n').find((l) => /^\s+[✓✗ ] api\s+p50 .* ms/.test(l));
    assert.ok(row, out);
    assert.match(row, /✓ api .*limit p95 <= 5 ms$/);
  });

  void test('session create: an arm offset of ≈ 0.1 ms on a 1 ms create is not a regression, +0.27 ms is', () => {
    // A constant of the arm, inside the 0.2 ms floor (clean A/A runs: within ±5 % of ≈ 1.4 ms).
    const offset = evaluateCheckpoint({ thresholds: PERF_THRESHOLDS, docs: [...run, pairDoc(1.1, 120)], env: {} });
    assert.equal(offset.comparison?.regressions, 0);
    const slower = evaluateCheckpoint({ thresholds: PERF_THRESHOLDS, docs: [...run, pairDoc(1.27, 120)], env: {} });
    assert.equal(slower.comparison?.regressions, 1);
  });

  void test('a count check shows the difference in units, the limit it is held to', () => {
    const tokens = pairDoc(1, 40);
    const base = Array.from({ length: 40 }, (_, i) => 300 + (i % 3));
    tokens.pairs[0] = {
      ...tokens.pairs[0]!,
      name: 'tokens.total_per_message',
      category: 'tokens',
      scenario: 'simple-query',
      unit: 'tokens',
      base,
      candidate: base.map((t) => t + 2),
    };
    const r = evaluateCheckpoint({ thresholds: PERF_THRESHOLDS, docs: [...run, tokens], env: {} });
    const check = criterion(r)?.checks.find((k) => k.metric === 'tokens.total_per_message');
    assert.equal(check?.value, 2);
    assert.equal(check?.limit, 0.5);
    assert.equal(check?.unit, 'tokens');
    assert.equal(check?.passed, false);
  });

  void test('a compare-only run (--grep @compare) is judged on the comparison alone', () => {
    const stepCriteria = (r: ReturnType<typeof evaluateCheckpoint>) =>
      r.criteria.filter((c) => c.id !== 'no-regression');
    const same = evaluateCheckpoint({ thresholds: PERF_THRESHOLDS, docs: [pairDoc(1)], env: {} });
    assert.equal(same.verdict, 'pass');
    assert.deepEqual(
      stepCriteria(same).map((c) => [c.status, c.checks.length]),
      [
        ['skipped', 0],
        ['skipped', 0],
        ['skipped', 0],
        ['skipped', 0],
      ],
    );
    const out = renderConsole(buildSummary(same, { startedAt: new Date(), durationMs: 1 }));
    assert.match(out, /– Performance measured — not in this run \(compare only\)/);
    assert.match(out, /✓ No regression vs base \(compare only: the Step 7\.4 criteria need a whole run\)/);
    assert.doesNotMatch(out, /All checkpoint 7\.4 requirements met/);
    const md = renderMarkdown(buildSummary(same, { startedAt: new Date(), durationMs: 1 }));
    assert.match(md, /^## ✅ Checkpoint 7\.4 \(compare only\): \*\*PASS\*\*/);

    const slower = evaluateCheckpoint({ thresholds: PERF_THRESHOLDS, docs: [pairDoc(1.6)], env: {} });
    assert.equal(slower.verdict, 'fail', 'a regression still fails it');
    // An unreadable attachment may have held Step 7.4 metrics: the whole checkpoint is judged then.
    const lost = evaluateCheckpoint({
      thresholds: PERF_THRESHOLDS,
      docs: [pairDoc(1)],
      harnessErrors: [{ test: 'ui.spec.ts', message: 'corrupt' }],
      env: {},
    });
    assert.equal(lost.verdict, 'fail');
    assert.ok(stepCriteria(lost).every((c) => c.status !== 'skipped'));
  });

  void test('compare mode without paired samples fails: never a one-armed comparison', () => {
    const r = evaluateCheckpoint({
      thresholds: PERF_THRESHOLDS,
      docs: run,
      env: {},
      compare: { base: { ref: 'main' }, candidate: {} },
    });
    assert.equal(criterion(r)?.passed, false);
    assert.match(criterion(r)?.checks[0]?.message ?? '', /no metric was sampled on both arms/);
  });

  void test('a failed check the base was not measured on says what the comparison found', () => {
    const overheadPairs = pairDoc(1, 40);
    overheadPairs.pairs[0] = { ...overheadPairs.pairs[0]!, name: 'response.app_overhead_ms', scenario: 'simple-query' };
    const slowRun = syntheticRun({
      profile: 'default',
      seed: 1,
      scale: { 'response.app_overhead_ms': 8, 'db.query_ms': 20 },
    });
    const r = evaluateCheckpoint({ thresholds: PERF_THRESHOLDS, docs: [...slowRun, overheadPairs], env: {} });
    const failed = (metric: string, scenario: string) =>
      r.criteria
        .flatMap((c) => c.checks)
        .find((k) => k.metric === metric && k.scenario === scenario && k.status === 'failed');
    assert.match(
      failed('response.app_overhead_ms', 'long-conversation')?.message ?? 'not failed',
      /— not measured on the base in this scenario; compared with the base in simple-query: no change \(×\d\.\d{3}\)$/,
    );
    assert.match(
      failed('db.query_ms', 'sessions-by-user')?.message ?? 'not failed',
      /— not compared with the base \(this metric has no paired samples\)$/,
    );
    // Measured on the base in its own scenario, passing there: nothing added.
    assert.doesNotMatch(failed('response.app_overhead_ms', 'simple-query')?.message ?? 'not failed', /base/);
  });

  /** The plain run with its database test replaced: candidate session create only, beside `paired`. */
  const withSessionCreate = (paired: TestMetrics, samples: number[], errors: SampleError[] = []) =>
    evaluateCheckpoint({
      thresholds: PERF_THRESHOLDS,
      docs: [
        ...run.filter((d) => !d.test.file.includes('database')),
        {
          ...paired,
          pairs: [],
          metrics: [
            {
              name: 'db.session_create_ms',
              category: 'database',
              scenario: 'api',
              unit: 'ms',
              samples,
              errors,
              warmup: 0,
              tags: {},
            },
          ],
        },
        paired,
      ],
      env: {},
    });

  void test('a Step 7.4 check the base fails too is marked as such', () => {
    const slowBoth = pairDoc(1, 40);
    const p = slowBoth.pairs[0]!;
    p.base = p.base.map((v) => v * 10);
    p.candidate = p.candidate.map((v) => v * 10);
    const r = withSessionCreate(slowBoth, p.candidate);
    const failed = r.criteria
      .flatMap((c) => c.checks)
      .filter((k) => k.id === 'db.session_create_ms.p95' && k.status === 'failed');
    assert.ok(failed.length > 0, 'the slow session create fails its Step 7.4 check');
    assert.ok(failed.every((k) => k.failsOnBase === true && /fails on the base too/.test(k.message)));
  });

  void test('a check whose every pair failed is not blamed on the base', () => {
    // The candidate breaks session create: no pair completes, so the base has no samples either.
    const broken = pairDoc(1, 40);
    const p = broken.pairs[0]!;
    p.base = [];
    p.candidate = [];
    const errors = Array.from({ length: 40 }, (_, sample) => ({ code: 'http_500', message: 'POST → 500', sample }));
    const r = withSessionCreate(broken, [], errors);
    const failed = r.criteria.flatMap((c) => c.checks).filter((k) => k.metric === 'db.session_create_ms');
    assert.ok(
      failed.some((k) => k.status === 'failed'),
      'the broken session create fails',
    );
    assert.ok(failed.every((k) => k.failsOnBase !== true && !/fails on the base too/.test(k.message)));
  });
});
