import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PERF_THRESHOLDS } from '../../perf.thresholds';
import { evaluateCheckpoint } from '../../lib/verdict/checkpoint';
import {
  buildSummary,
  parseSummary,
  perfSummarySchema,
  readEnvironment,
  renderConsole,
  renderMarkdown,
  SUMMARY_SCHEMA_VERSION,
} from '../../lib/report/summary';
import { redact as redactString, redactSecrets as redact } from '../../lib/redact';
import { writeFileAtomic } from '../../lib/fs-atomic';
import { PROFILES } from '../../lib/run/profiles';
import { syntheticRun, type SyntheticOptions } from '../fixtures-reporter/synthetic';
import { tempDir } from '../support/temp-dir';
import { latencySpec } from '../../lib/report/charts';

const summaryOf = (o: SyntheticOptions = {}) =>
  buildSummary(evaluateCheckpoint({ thresholds: PERF_THRESHOLDS, docs: syntheticRun(o), env: {} }), {
    startedAt: new Date('2026-01-01T00:00:00Z'),
    durationMs: 1234.5,
  });

void test('perf-summary.json: versioned contract with criteria, metrics (stats + raw samples), verdict', () => {
  const s = summaryOf();
  const round = parseSummary(JSON.parse(JSON.stringify(s)));
  assert.equal(round.schemaVersion, SUMMARY_SCHEMA_VERSION);
  assert.equal(round.checkpoint, '7.4');
  assert.equal(round.verdict, 'pass');
  assert.deepEqual(
    round.criteria.map((c) => c.id),
    ['performance-measured', 'response-times', 'token-usage', 'no-bottlenecks'],
  );
  const total = round.metrics.find((m) => m.name === 'response.total_ms' && m.scenario === 'simple-query');
  assert.ok(total);
  assert.equal(total.samples.length, total.n);
  for (const k of ['min', 'mean', 'p50', 'p90', 'p95', 'p99', 'max', 'stddev'] as const)
    assert.equal(typeof total[k], 'number');
  assert.ok(total.ci95.low !== null && total.ci95.high !== null && total.ci95.low <= (total.p50 ?? 0));
  const check = round.criteria[1]?.checks[0];
  assert.ok(
    check &&
      'metric' in check &&
      'statistic' in check &&
      'value' in check &&
      'limit' in check &&
      'unit' in check &&
      'passed' in check,
  );
  assert.equal(round.durationMs, 1235);
  assert.equal(round.baseline, null);
});

void test('a metric whose samples all failed serializes statistics as null, errors with causes', () => {
  const s = summaryOf({ profile: 'smoke', errors: { 'response.ttft_ms': 99 } });
  const m = s.metrics.find((x) => x.name === 'response.ttft_ms');
  assert.equal(m?.n, 0);
  assert.equal(m?.p95, null);
  // Every sample of the metric (the smoke profile's count per API scenario) failed.
  assert.equal(m?.errors, PROFILES.smoke.apiSamples);
  assert.equal(m?.errorDetails[0]?.code, 'model_error');
  assert.equal(s.verdict, 'fail');
  assert.doesNotThrow(() => perfSummarySchema.parse(JSON.parse(JSON.stringify(s))));
});

void test('schema rejects another schema version and off-contract documents', () => {
  const s = JSON.parse(JSON.stringify(summaryOf())) as Record<string, unknown>;
  assert.throws(() => parseSummary({ ...s, schemaVersion: 99 }));
  assert.throws(() => parseSummary({ ...s, verdict: 'maybe' }));
});

void test('environment is redacted again: URL credentials, key-like fields, bearer tokens, sk- keys', () => {
  assert.equal(redactString('postgres://user:s3cret@127.0.0.1:5432/db'), 'postgres://user:***@127.0.0.1:5432/db');
  assert.equal(redactString('Authorization: Bearer abc.def-123'), 'Authorization: Bearer ***');
  assert.equal(redactString('key sk-proj-abcdefghijkl'), 'key sk-***');
  const r = redact({
    OPENAI_API_KEY: 'sk-live-zzzzzzzzzz',
    db: { url: 'postgres://a:b@h/d', password: 'pw' },
    cores: 2,
    hasKey: true,
    tokenBudget: 5000,
    accessToken: 'x',
  }) as Record<string, unknown>;
  assert.deepEqual(r, {
    OPENAI_API_KEY: '***',
    db: { url: 'postgres://a:***@h/d', password: '***' },
    cores: 2,
    hasKey: true,
    tokenBudget: 5000,
    accessToken: '***',
  });
  const dir = tempDir('env-');
  writeFileSync(
    join(dir, 'environment.json'),
    JSON.stringify({ databaseUrl: 'postgres://perf:hunter2@127.0.0.1:5/x', token: 'abc' }),
  );
  const env = readEnvironment(dir);
  assert.equal(JSON.stringify(env).includes('hunter2'), false);
  assert.equal(env.token, '***');
  assert.deepEqual(readEnvironment(join(dir, 'missing')), {});
});

void test('markdown: verdict first, criteria table, each metric with its distribution, failures with causes', () => {
  const md = renderMarkdown(summaryOf({ set: { 'db.index_used': 0 } }));
  const lines = md.split('\n');
  assert.match(lines[0] ?? '', /^## ❌ Checkpoint 7\.4: \*\*FAIL\*\*/);
  assert.match(md, /\| No major bottlenecks \| ❌ fail \|/);
  assert.match(md, /### Failures[\s\S]*db\.index_used \[sessions-by-user\] min = 0/);
  assert.match(md, /\| Metric \| Scenario \| n \| min \| p50 \(95 % CI\) \| p95 \| p99 \| max \| Limit \|/);
  assert.match(
    md,
    new RegExp(
      `\\| Round trip to the done event \\(API\\) \\| simple-query \\| ${PROFILES.smoke.apiSamples} ` +
        `\\| \\d+ ms \\| \\d+ ms \\(\\d+–\\d+\\) \\| \\d+ ms \\| \\d+ ms \\| \\d+ ms \\| p95 < 5000 ms \\| ✅ \\|`,
    ),
  );
  // A single value (an EXPLAIN check) shows that value alone.
  assert.match(
    md,
    /\| EXPLAIN uses the Step 7\.4 index \| sessions-by-user \| 1 \| {2}\| no \| {2}\| {2}\| {2}\| min >= 1 \| ❌ \|/,
  );
  assert.match(renderMarkdown(summaryOf()), /^## ✅ Checkpoint 7\.4: \*\*PASS\*\*/);
});

void test('console: seed layout sections, p50/p95 with limit and ✓/✗, then the verification block', () => {
  const out = renderConsole(summaryOf({ scale: { 'response.total_ms': 4 } }));
  for (const section of [
    'Response Times:',
    'Token Usage:',
    'Memory Scaling:',
    'Database Performance:',
    'UI:',
    'Bottlenecks:',
    'CHECKPOINT 7.4 VERIFICATION',
  ]) {
    assert.ok(out.includes(section), section);
  }
  assert.match(out, /✗ simple-query\s+p50 \d+ ms\s+p95 \d+ ms\s+limit p95 < 5000 ms/);
  assert.match(out, /✓ Performance measured\n\s+✗ Response times acceptable \(< 5 seconds\)/);
  assert.match(out, /✗ Checkpoint 7\.4 FAILED: Response times acceptable/);
  assert.match(renderConsole(summaryOf()), /✓ All checkpoint 7\.4 requirements met!/);
});

void test('relevance: console and markdown show recall@5 and MRR per mode with CI, ✓/✗ from their checks', () => {
  const pass = summaryOf();
  const out = renderConsole(pass);
  assert.match(out, /Relevance \(labelled retrieval set, top 5; mean over questions, 95 % CI\):/);
  assert.match(out, /limit recall@5 ≥ 0\.9, MRR ≥ 0\.8/);
  for (const mode of ['ranked', 'fuzzy', 'auto']) {
    assert.match(out, new RegExp(`✓ ${mode}\\s+0\\.950\\s.*0\\.900\\s`));
  }
  // Ordered after Memory Scaling, and not listed twice.
  assert.ok(out.indexOf('Memory Scaling:') < out.indexOf('Relevance ('));
  assert.equal(out.includes('(memory.recall_at_5)'), false);
  const md = renderMarkdown(pass);
  assert.match(md, /### Relevance[\s\S]*\| Search mode \| Recall@5 \(95 % CI\) \| MRR \(95 % CI\) \| Questions \|/);
  const n = PROFILES.smoke.relevanceQuestions;
  const cells = String.raw`\| ✅ ranked \| 0\.950 \(0\.950–0\.950\) \| 0\.900 \(0\.900–0\.900\)`;
  assert.match(md, new RegExp(`${cells} \\| ${n} \\|`));
  const fail = summaryOf({ set: { 'memory.recall_at_5': 0.5 } });
  assert.match(renderConsole(fail), /✗ ranked\s+0\.500/);
  const fuzzyRow = /\| ❌ fuzzy \| 0\.500 \(0\.500–0\.500\) \| 0\.900 \(0\.900–0\.900\) \| \d+ \|/u;
  assert.match(renderMarkdown(fail), fuzzyRow);
});

void test('writeFileAtomic replaces the file and leaves no temp files', () => {
  const dir = tempDir('atomic-');
  const p = join(dir, 'sub', 'a.json');
  writeFileAtomic(p, 'one');
  writeFileAtomic(p, 'two');
  assert.equal(readFileSync(p, 'utf8'), 'two');
  assert.deepEqual(readdirSync(join(dir, 'sub')), ['a.json']);
});

void test("charts draw the run's own limits: a PERF_THRESHOLDS override moves the latency rule", () => {
  const thresholds = {
    ...PERF_THRESHOLDS,
    checks: PERF_THRESHOLDS.checks.map((c) => (c.id === 'response.total_ms.p95' ? { ...c, limit: 8000 } : c)),
  };
  const summary = buildSummary(evaluateCheckpoint({ thresholds, docs: syntheticRun(), env: {} }), {
    startedAt: new Date('2026-01-01T00:00:00Z'),
    durationMs: 1,
  });
  const spec = latencySpec(summary, 'simple-query');
  assert.match(JSON.stringify(spec?.title), /limit p95 < 8000 ms/);
  assert.match(JSON.stringify(spec), /"limit":8000/);
  assert.doesNotMatch(JSON.stringify(spec), /5000/);
});

void test('the response criterion names the limit the run held responses to', () => {
  const moved = (ids: string[]) => ({
    ...PERF_THRESHOLDS,
    checks: PERF_THRESHOLDS.checks.map((c) => (ids.includes(c.id) ? { ...c, limit: 8000 } : c)),
  });
  const title = (thresholds: typeof PERF_THRESHOLDS) =>
    evaluateCheckpoint({ thresholds, docs: syntheticRun(), env: {} }).criteria.find((c) => c.id === 'response-times')
      ?.title;
  assert.equal(title(PERF_THRESHOLDS), 'Response times acceptable (< 5 seconds)');
  const all = ['response.total_ms.p95', 'response.ui_done_ms.p95', 'response.ttft_ms.p95'];
  assert.equal(title(moved(all)), 'Response times acceptable (< 8 seconds; Step 7.4 says 5)');
  assert.equal(
    title(moved(['response.ui_done_ms.p95'])),
    'Response times acceptable (round trip < 5 seconds, UI reply < 8 seconds, first token < 5 seconds; ' +
      'Step 7.4 says 5)',
  );
});
