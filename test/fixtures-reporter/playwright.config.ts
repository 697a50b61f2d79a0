/**
 * Tiny Playwright project for the checkpoint reporter's own tests (test/unit/reporter.test.ts):
 * no browser, no app; each test attaches a synthetic `perf-metrics` document.
 * SYNTH_MODE = pass | slow | bad | empty; SYNTH_SETUP_FAIL=1 makes global setup fail;
 * PERF_REPORT_DIR = where reports go; BLOB=1 adds the blob reporter; SYNTH_CHARTS=0 skips charts (faster).
 */
import { join } from 'node:path';
import { defineConfig } from '@playwright/test';
import { ALLURE_CATEGORIES } from '../../lib/report/allure';

const reportDir = process.env.PERF_REPORT_DIR ?? 'reports';

export default defineConfig({
  testDir: __dirname,
  outputDir: `${reportDir}/test-results`,
  workers: 2,
  ...(process.env.SYNTH_SETUP_FAIL ? { globalSetup: './failing-setup.ts' } : {}),
  // The suite runs its verdict test (e2e/verdict.ts) as the measuring project's last file; that
  // file is outside this testDir, so here it is a teardown project, which also runs after all.
  projects: [
    { name: 'synthetic', testMatch: '*.fixture.ts', teardown: 'synthetic-checkpoint' },
    {
      name: 'synthetic-checkpoint',
      testDir: join(__dirname, '..', '..', 'e2e'),
      testMatch: /verdict\.ts$/,
      grep: /.*/,
    },
  ],
  reporter: [
    ['line'],
    ...(process.env.BLOB ? [['blob', { outputDir: `${reportDir}/blob` }] as const] : []),
    ['../../reporters/allure-history-reporter.ts', { outputDir: reportDir }],
    ['allure-playwright', { resultsDir: `${reportDir}/allure-results`, categories: ALLURE_CATEGORIES }],
    ['../../reporters/checkpoint-reporter.ts', { outputDir: reportDir, charts: process.env.SYNTH_CHARTS !== '0' }],
  ],
});
