/**
 * The Allure history's bookkeeping (lib/report/allure-history.ts): a run sets the last one aside,
 * folding keeps one history entry per run, oldest first, and leaves the newest `keep` waiting; a
 * test run folds only past MAX_PENDING_RUNS waiting.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  ALLURE_HISTORY_FILE,
  foldPendingRuns,
  MAX_PENDING_RUNS,
  pendingRuns,
  setAsideLastRun,
} from '../../lib/report/allure-history';
import AllureHistoryReporter from '../../reporters/allure-history-reporter';

const TMP = mkdtempSync(join(tmpdir(), 'allure-history-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

/** A results folder holding one passed test, started at `start` (ms). */
function writeRun(resultsDir: string, start: number): void {
  mkdirSync(resultsDir, { recursive: true });
  const result = {
    uuid: `u${start}`,
    historyId: 'h1',
    testCaseId: 'c1',
    name: 'one test',
    fullName: 'suite one test',
    status: 'passed',
    stage: 'finished',
    start,
    stop: start + 1000,
    labels: [],
    links: [],
    parameters: [],
    attachments: [],
    steps: [],
  };
  writeFileSync(join(resultsDir, `u${start}-result.json`), JSON.stringify(result));
}

void test('each run set aside becomes one history entry, oldest first; the newest `keep` wait', async () => {
  const results = join(TMP, 'reports', 'allure-results');
  // Nothing to set aside yet: an empty folder is removed, nothing waits.
  mkdirSync(results, { recursive: true });
  assert.deepEqual(setAsideLastRun(results), []);
  const starts = [1_765_000_000_000, 1_765_000_100_000, 1_765_000_200_000];
  for (const [i, start] of starts.entries()) {
    writeRun(results, start);
    assert.equal(setAsideLastRun(results).length, i + 1);
    // Distinct millisecond suffixes.
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal(readdirSync(join(TMP, 'reports')).includes('allure-results'), false, 'set aside, not copied');

  assert.equal(await foldPendingRuns(results, { keep: 1 }), undefined);
  const history = join(TMP, 'reports', ALLURE_HISTORY_FILE);
  const entries = () =>
    readFileSync(history, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { testResults: Record<string, { start: number }> });
  assert.deepEqual(
    entries().map((e) => Object.values(e.testResults)[0]?.start),
    starts.slice(0, 2),
  );
  assert.equal(pendingRuns(results).length, 1, 'the newest waits');

  assert.equal(await foldPendingRuns(results), undefined);
  assert.equal(entries().length, 3);
  assert.deepEqual(pendingRuns(results), []);
});

void test('a run that finds more than MAX_PENDING_RUNS waiting folds the oldest at its end', async () => {
  const reportDir = join(TMP, 'many');
  const results = join(reportDir, 'allure-results');
  const start = 1_766_000_000_000;
  for (let i = 0; i <= MAX_PENDING_RUNS; i++) {
    writeRun(join(reportDir, `allure-results.previous-run-${start + i}`), start + i);
  }
  writeRun(results, start + 1_000);
  const reporter = new AllureHistoryReporter({ outputDir: reportDir });
  reporter.onBegin();
  assert.equal(pendingRuns(results).length, MAX_PENDING_RUNS + 2);
  await reporter.onEnd();
  assert.equal(pendingRuns(results).length, MAX_PENDING_RUNS);
  const folded = readFileSync(join(reportDir, ALLURE_HISTORY_FILE), 'utf8').trim().split('\n');
  assert.equal(folded.length, 2, 'the two oldest, one entry each');

  // At the bound or below, a run folds nothing.
  const again = new AllureHistoryReporter({ outputDir: reportDir });
  again.onBegin();
  await again.onEnd();
  assert.equal(pendingRuns(results).length, MAX_PENDING_RUNS);
});
