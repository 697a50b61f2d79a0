/**
 * The checkpoint reporter judges the metrics and starts drawing the charts (≈ 0.5 s of CPU) once
 * every measuring test has its final result, never earlier: CPU taken while a test measures would
 * be in its figures. onEnd uses that judgement unless metrics arrived after it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FullConfig, Suite, TestCase, TestResult } from '@playwright/test/reporter';
import CheckpointReporter from '../../reporters/checkpoint-reporter';

class Probe extends CheckpointReporter {
  judged = 0;
  protected override judge(...args: Parameters<CheckpointReporter['judge']>): ReturnType<CheckpointReporter['judge']> {
    this.judged++;
    return super.judge(...args);
  }
}

const testCase = (id: string, file: string, retries = 0) =>
  ({
    id,
    retries,
    location: { file: `/repo/e2e/${file}`, line: 1, column: 1 },
    titlePath: () => ['', 'smoke', file, id],
    title: id,
    outcome: () => 'expected',
    results: [],
  }) as unknown as TestCase;
const result = (status: TestResult['status'], retry = 0, attachments: TestResult['attachments'] = []) =>
  ({ status, retry, attachments }) as unknown as TestResult;
const suiteOf = (tests: TestCase[]) => ({ allTests: () => tests }) as unknown as Suite;
const badMetrics = { name: 'perf-metrics', contentType: 'application/json', body: Buffer.from('{"not":"metrics"}') };

/**
 * A whole run in a throw-away report folder: one measuring test, then the verdict test with these
 * attachments, then onEnd (its console summary swallowed). Returns how often the metrics were judged.
 */
async function judgementsOfRun(verdictAttachments: TestResult['attachments']): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'early-judgement-'));
  const write = process.stdout.write.bind(process.stdout);
  try {
    const a = testCase('a', 'database.spec.ts');
    const verdict = testCase('v', 'verdict.ts');
    const reporter = new Probe({ outputDir: dir, charts: false });
    reporter.onBegin({} as FullConfig, suiteOf([a, verdict]));
    reporter.onTestEnd(a, result('passed'));
    reporter.onTestEnd(verdict, result('passed', 0, verdictAttachments));
    process.stdout.write = () => true;
    await reporter.onEnd({ status: 'passed', startTime: new Date(), duration: 1 });
    return reporter.judged;
  } finally {
    process.stdout.write = write;
    rmSync(dir, { recursive: true, force: true });
  }
}

void test('the metrics are judged after the last measuring test, not before, and once', () => {
  const a = testCase('a', 'database.spec.ts');
  const b = testCase('b', 'response.spec.ts');
  const verdict = testCase('v', 'verdict.ts');
  const reporter = new Probe({ outputDir: 'reports', charts: false });
  reporter.onBegin({} as FullConfig, suiteOf([a, b, verdict]));
  reporter.onTestEnd(a, result('passed'));
  assert.equal(reporter.judged, 0);
  reporter.onTestEnd(b, result('failed'));
  assert.equal(reporter.judged, 1, 'a failed test without retries left is final');
  reporter.onTestEnd(verdict, result('passed'));
  assert.equal(reporter.judged, 1);
});

void test('a failed attempt with a retry to come is not final: the retry still measures', () => {
  const a = testCase('a', 'database.spec.ts', 1);
  const reporter = new Probe({ outputDir: 'reports', charts: false });
  reporter.onBegin({} as FullConfig, suiteOf([a, testCase('v', 'verdict.ts')]));
  reporter.onTestEnd(a, result('failed', 0));
  assert.equal(reporter.judged, 0);
  reporter.onTestEnd(a, result('passed', 1));
  assert.equal(reporter.judged, 1);
});

void test('skipped tests count as ended', () => {
  const a = testCase('a', 'compare.spec.ts');
  const reporter = new Probe({ outputDir: 'reports', charts: false });
  reporter.onBegin({} as FullConfig, suiteOf([a]));
  reporter.onTestEnd(a, result('skipped'));
  assert.equal(reporter.judged, 1);
});

void test('onEnd takes the early judgement when nothing came after it', async () => {
  assert.equal(await judgementsOfRun([]), 1);
});

void test('onEnd judges again when a harness error arrived after the early judgement', async () => {
  assert.equal(await judgementsOfRun([badMetrics]), 2);
});
