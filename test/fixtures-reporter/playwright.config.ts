/**
 * Tiny Playwright project for the checkpoint reporter's own tests (test/unit/reporter.test.ts):
 * no browser, no app; each test attaches a synthetic `perf-metrics` document.
 * SYNTH_MODE = pass | slow | bad | empty; PERF_REPORT_DIR = where reports go; BLOB=1 adds the blob reporter;
 * SYNTH_CHARTS=0 skips charts (faster).
 */
import { defineConfig } from '@playwright/test';
import { ALLURE_CATEGORIES } from '../../lib/allure';

const reportDir = process.env.PERF_REPORT_DIR ?? 'reports';

export default defineConfig({
  testDir: __dirname,
  testMatch: '*.fixture.ts',
  outputDir: `${reportDir}/test-results`,
  workers: 2,
  reporter: [
    ['line'],
    ...(process.env.BLOB ? [['blob', { outputDir: `${reportDir}/blob` }] as const] : []),
    ['allure-playwright', { resultsDir: `${reportDir}/allure-results`, categories: ALLURE_CATEGORIES }],
    ['../../reporters/checkpoint-reporter.ts', { outputDir: reportDir, charts: process.env.SYNTH_CHARTS !== '0' }],
  ],
});
