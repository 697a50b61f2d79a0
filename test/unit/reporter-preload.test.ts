/**
 * The checkpoint reporter loads its chart modules (≈ 0.6 s of CPU) once every measuring test has
 * its final result, never earlier: CPU taken while a test measures would be in its figures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FullConfig, Suite, TestCase, TestResult } from '@playwright/test/reporter';
import CheckpointReporter from '../../reporters/checkpoint-reporter';

class Probe extends CheckpointReporter {
  calls = 0;
  protected override measuringDone(): void {
    this.calls++;
  }
}

const testCase = (id: string, file: string, retries = 0) =>
  ({ id, retries, location: { file: `/repo/e2e/${file}`, line: 1, column: 1 } }) as unknown as TestCase;
const result = (status: TestResult['status'], retry = 0) =>
  ({ status, retry, attachments: [] }) as unknown as TestResult;
const suiteOf = (tests: TestCase[]) => ({ allTests: () => tests }) as unknown as Suite;

void test('chart modules load after the last measuring test, not before, and once', () => {
  const a = testCase('a', 'database.spec.ts');
  const b = testCase('b', 'response.spec.ts');
  const verdict = testCase('v', 'checkpoint.verdict.ts');
  const reporter = new Probe({ outputDir: 'reports' });
  reporter.onBegin({} as FullConfig, suiteOf([a, b, verdict]));
  reporter.onTestEnd(a, result('passed'));
  assert.equal(reporter.calls, 0);
  reporter.onTestEnd(b, result('failed'));
  assert.equal(reporter.calls, 1, 'a failed test without retries left is final');
  reporter.onTestEnd(verdict, result('passed'));
  assert.equal(reporter.calls, 1);
});

void test('a failed attempt with a retry to come is not final: the retry still measures', () => {
  const a = testCase('a', 'database.spec.ts', 1);
  const reporter = new Probe({ outputDir: 'reports' });
  reporter.onBegin({} as FullConfig, suiteOf([a, testCase('v', 'checkpoint.verdict.ts')]));
  reporter.onTestEnd(a, result('failed', 0));
  assert.equal(reporter.calls, 0);
  reporter.onTestEnd(a, result('passed', 1));
  assert.equal(reporter.calls, 1);
});

void test('skipped tests count as ended; without charts nothing loads', () => {
  const a = testCase('a', 'compare.spec.ts');
  const withCharts = new Probe({ outputDir: 'reports' });
  withCharts.onBegin({} as FullConfig, suiteOf([a]));
  withCharts.onTestEnd(a, result('skipped'));
  assert.equal(withCharts.calls, 1);
  const noCharts = new Probe({ outputDir: 'reports', charts: false });
  noCharts.onBegin({} as FullConfig, suiteOf([a]));
  noCharts.onTestEnd(a, result('skipped'));
  assert.equal(noCharts.calls, 0);
});
