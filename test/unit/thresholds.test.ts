import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateCheckpoint, type CheckpointResult } from '../../lib/verdict/checkpoint';
import {
  resolveThresholds,
  ThresholdConfigError,
  evaluateCheck,
  formatNumber,
  formatPercent,
  type ThresholdCheck,
} from '../../lib/verdict/thresholds';
import { summarize } from '../../lib/verdict/stats';
import { PERF_THRESHOLDS } from '../../perf.thresholds';
import { syntheticRun, type SyntheticOptions } from '../fixtures-reporter/synthetic';
import { tempDir } from '../support/temp-dir';

const NO_ENV = {} as NodeJS.ProcessEnv;
const run = (o: SyntheticOptions = {}, env = NO_ENV) =>
  evaluateCheckpoint({ thresholds: PERF_THRESHOLDS, docs: syntheticRun(o), env });
const status = (r: CheckpointResult) => Object.fromEntries(r.criteria.map((c) => [c.id, c.status]));
const failing = (r: CheckpointResult) => r.criteria.filter((c) => !c.passed).map((c) => c.id);

void test('a clean run passes all four criteria (smoke and default profiles)', () => {
  for (const profile of ['smoke', 'default'] as const) {
    const r = run({ profile });
    assert.equal(
      r.verdict,
      'pass',
      JSON.stringify(
        r.criteria.flatMap((c) => c.checks.filter((k) => !k.passed)),
        null,
        1,
      ),
    );
    assert.equal(r.profile, profile);
  }
});

void test('zero metrics fails performance-measured (never a pass)', () => {
  const r = evaluateCheckpoint({ thresholds: PERF_THRESHOLDS, docs: [], env: NO_ENV });
  assert.equal(r.verdict, 'fail');
  assert.equal(status(r)['performance-measured'], 'failed');
  assert.match(
    r.criteria[0]?.checks.find((c) => c.id === 'metrics-recorded')?.message ?? '',
    /no metrics were recorded/,
  );
  assert.equal(status(r)['response-times'], 'not-measured');
});

void test('slow model fails response-times only', () => {
  const r = run({ scale: { 'response.total_ms': 4, 'response.ui_done_ms': 4 } });
  assert.deepEqual(failing(r), ['response-times']);
  const bad = r.criteria[1]?.checks.filter((c) => !c.passed) ?? [];
  assert.equal(bad.length, 6); // 3 scenarios × (API total, UI done)
  assert.match(bad[0]?.message ?? '', /^Threshold exceeded: response\.total_ms \[.*\] p95 = \d+ ms, limit < 5000 ms/);
});

void test('token bloat fails token-usage; missing index and N+1 fail no-bottlenecks', () => {
  assert.deepEqual(failing(run({ set: { 'tokens.total_per_message': 7000 } })), ['token-usage']);
  assert.deepEqual(failing(run({ set: { 'tokens.history_growth_ratio': 3 } })), ['token-usage']);
  assert.deepEqual(failing(run({ set: { 'db.index_used': 0 } })), ['no-bottlenecks']);
  assert.deepEqual(failing(run({ set: { 'bottlenecks.queries_growth_ratio': 10 } })), ['no-bottlenecks']);
  assert.deepEqual(failing(run({ set: { 'memory.search_hit': 0 } })), ['no-bottlenecks']);
  // Relevance gates on the mean over the questions: 0.85 recall@5 / 0.75 MRR are below their limits.
  assert.deepEqual(failing(run({ set: { 'memory.recall_at_5': 0.85 } })), ['no-bottlenecks']);
  assert.deepEqual(failing(run({ set: { 'memory.mrr': 0.75 } })), ['no-bottlenecks']);
  assert.deepEqual(failing(run({ set: { 'memory.recall_at_5': 0.95, 'memory.mrr': 0.9 } })), []);
});

void test('sample errors fail performance-measured with their causes listed', () => {
  const r = run({ profile: 'default', errors: { 'response.total_ms': 3 } });
  assert.deepEqual(failing(r), ['performance-measured']);
  const msgs =
    r.criteria[0]?.checks
      .filter((c) => !c.passed)
      .map((c) => c.message)
      .join('\n') ?? '';
  assert.match(msgs, /Sample errors: response\.total_ms.*errorRate = 15\.0 %.*model_error ×3/);
  // Every timed category: a failed database or UI sample is left out of its p95, so it counts here,
  // also when there are still enough good samples for the coverage check (30 of 530: 5.7 %).
  for (const metric of ['db.session_create_ms', 'db.query_ms', 'ui.long_conversation_render_ms']) {
    const r = run({ profile: 'default', extraErrors: { [metric]: 30 } });
    assert.deepEqual(failing(r), ['performance-measured'], metric);
    const failed = r.criteria[0]?.checks.filter((c) => !c.passed).map((c) => c.id);
    assert.deepEqual(new Set(failed), new Set([`${metric}.errorRate`]), metric);
  }
  // A token ratio from the messages that did not fail: its failed messages count.
  const ratio = run({ profile: 'default', extraErrors: { 'tokens.history_growth_ratio': 1 } });
  assert.deepEqual(failing(ratio), ['performance-measured']);
});

void test('a missing metric of a "*" check is not measured: fails performance-measured, not silently passed', () => {
  const r = run({ omit: ['ui.lcp_ms'] });
  assert.deepEqual(failing(r), ['performance-measured']);
  const nb = r.criteria.find((c) => c.id === 'no-bottlenecks');
  assert.equal(nb?.checks.find((c) => c.id === 'ui.lcp_ms.p95')?.status, 'not-measured');
});

void test('"at n=10000" check is skipped when the profile does not seed 10k, gated when it does', () => {
  const smoke = run({ profile: 'smoke' });
  const skipped = smoke.criteria[3]?.checks.find((c) => c.id === 'memory.search_ms.p95@10k');
  assert.equal(skipped?.status, 'skipped');
  const slow = run({ profile: 'default', set: { 'memory.search_ms': 30 } });
  assert.deepEqual(failing(slow), ['no-bottlenecks']);
});

void test('"*" evaluates every scenario separately', () => {
  const check: ThresholdCheck = {
    id: 'x',
    criterion: 'response-times',
    metric: 'a.b',
    scenario: '*',
    statistic: 'p95',
    op: '<',
    limit: 10,
    unit: 'ms',
    why: '',
  };
  const mk = (scenario: string, samples: number[]) => ({
    name: 'a.b',
    scenario,
    unit: 'ms' as const,
    samples,
    errorCount: 0,
    errorCodes: {},
    stats: summarize(samples),
  });
  const res = evaluateCheck(check, [mk('s1', [1, 2, 3]), mk('s2', [5, 20, 30])]);
  assert.deepEqual(
    res.map((r) => r.passed),
    [true, false],
  );
});

void test('PERF_THRESHOLDS overrides: applied and listed; malformed input names file and field', () => {
  const dir = tempDir('thr-');
  const good = join(dir, 'good.json');
  writeFileSync(
    good,
    JSON.stringify({ 'response.total_ms.p95': { limit: 20000 }, 'ui.lcp_ms.p95': { enabled: false } }),
  );
  const slow = run({ scale: { 'response.total_ms': 4 } }, { PERF_THRESHOLDS: good });
  assert.equal(slow.verdict, 'pass');
  assert.ok(slow.thresholdOverrides.some((o) => o.includes('response.total_ms.p95 limit < 5000 → < 20000')));

  const badJson = join(dir, 'bad.json');
  writeFileSync(badJson, '{ not json');
  assert.throws(
    () => resolveThresholds(PERF_THRESHOLDS, 'default', { PERF_THRESHOLDS: badJson }),
    (e: Error) => e instanceof ThresholdConfigError && e.message.includes(badJson) && /not valid JSON/.test(e.message),
  );
  const badField = join(dir, 'field.json');
  writeFileSync(badField, JSON.stringify({ 'response.total_ms.p95': { limit: 'fast' } }));
  assert.throws(
    () => resolveThresholds(PERF_THRESHOLDS, 'default', { PERF_THRESHOLDS: badField }),
    /field\.json: field response\.total_ms\.p95\.limit/,
  );
  const unknown = join(dir, 'unknown.json');
  writeFileSync(unknown, JSON.stringify({ 'no.such.check': { limit: 1 } }));
  assert.throws(
    () => resolveThresholds(PERF_THRESHOLDS, 'default', { PERF_THRESHOLDS: unknown }),
    /unknown check id "no\.such\.check"/,
  );
  assert.throws(
    () => resolveThresholds(PERF_THRESHOLDS, 'default', { PERF_THRESHOLDS: join(dir, 'missing.json') }),
    /missing\.json: cannot read/,
  );
});

void test('a profile may tighten but never loosen or disable a limit, of any unit', () => {
  const cfg = { ...PERF_THRESHOLDS, profiles: { smoke: { checks: { 'response.total_ms.p95': { limit: 9000 } } } } };
  assert.throws(() => resolveThresholds(cfg, 'smoke', NO_ENV), /never loosen/);
  const tokenCheck = PERF_THRESHOLDS.checks.find((c) => c.unit === 'tokens' && c.op === '<=');
  assert.ok(tokenCheck, 'a token budget check');
  const looser = { checks: { [tokenCheck.id]: { limit: tokenCheck.limit * 2 } } };
  assert.throws(
    () => resolveThresholds({ ...PERF_THRESHOLDS, profiles: { smoke: looser } }, 'smoke', NO_ENV),
    /never loosen/,
  );
  const off = { checks: { [tokenCheck.id]: { enabled: false } } };
  assert.throws(() => resolveThresholds({ ...PERF_THRESHOLDS, profiles: { smoke: off } }, 'smoke', NO_ENV), /disable/);
  const tighter = { ...PERF_THRESHOLDS, profiles: { smoke: { checks: { 'response.total_ms.p95': { limit: 4000 } } } } };
  assert.equal(
    resolveThresholds(tighter, 'smoke', NO_ENV).checks.find((c) => c.id === 'response.total_ms.p95')?.limit,
    4000,
  );
});

void test('every check names a catalog metric and has a unique id', () => {
  const ids = PERF_THRESHOLDS.checks.map((c) => c.id);
  assert.equal(new Set(ids).size, ids.length);
});

void test('percentile checks report their 95 % interval and whether it or the estimate decided', () => {
  const check: ThresholdCheck = {
    id: 'x.p95',
    criterion: 'no-bottlenecks',
    metric: 'x',
    scenario: '*',
    statistic: 'p95',
    op: '<=',
    limit: 5,
    unit: 'ms',
    why: 'test',
  };
  const metric = (samples: number[]) => ({
    name: 'x',
    scenario: 'default',
    unit: 'ms' as const,
    samples,
    errorCount: 0,
    errorCodes: {},
    stats: summarize(samples),
  });
  const clearPass = evaluateCheck(check, [metric(Array.from({ length: 300 }, () => 1))])[0];
  assert.equal(clearPass?.decidedBy, 'interval');
  assert.equal(clearPass?.passed, true);
  const clearFail = evaluateCheck(check, [metric(Array.from({ length: 300 }, () => 9))])[0];
  assert.equal(clearFail?.decidedBy, 'interval');
  assert.equal(clearFail?.passed, false);
  // 6 % slow samples: the interval spans the limit; the estimate (9 ms) decides, and it fails.
  const edge = evaluateCheck(check, [metric(Array.from({ length: 300 }, (_, i) => (i % 50 < 3 ? 9 : 1)))])[0];
  assert.equal(edge?.decidedBy, 'estimate');
  assert.equal(edge?.passed, false);
  // Twenty samples cannot bound a p95 from above: JSON-safe null, decided by the estimate.
  const few = evaluateCheck(check, [metric(Array.from({ length: 20 }, () => 1))])[0];
  assert.equal(few?.interval?.high, null);
  assert.equal(few?.decidedBy, 'estimate');
  assert.equal(few?.passed, true);
});

void test('a figure next to its limit is never rounded onto it', () => {
  assert.equal(formatNumber(4999.6, 'ms', 5000), '4999.6 ms');
  assert.equal(formatNumber(25.04, 'ms', 25), '25.04 ms');
  assert.equal(formatNumber(5.004, 'ms', 5), '5.004 ms');
  assert.equal(formatNumber(12.34, 'ms', 25), '12.3 ms');
  assert.equal(formatNumber(12.34, 'ms'), '12.3 ms');
  assert.equal(formatNumber(25, 'ms', 25), '25 ms');
  assert.equal(formatPercent(0.005), '0.5 %');
  assert.equal(formatPercent(0.05004, 0.05), '5.004 %');
});
