/**
 * Config for `npx playwright merge-reports -c playwright.merge.config.ts <blob dir>` (sharded CI):
 * one HTML report and one Checkpoint 7.4 verdict over all shards. merge-reports ignores a
 * reporter's returned status, so the checkpoint reporter fails the merge by a reporter error
 * (exit code 1) when the verdict fails.
 */
import { defineConfig } from '@playwright/test';

const reportDir = process.env.PERF_REPORT_DIR ?? 'reports';

export default defineConfig({
  reporter: [
    ['list'],
    ['html', { outputFolder: `${reportDir}/html`, open: 'never' }],
    ['./reporters/checkpoint-reporter.ts', { outputDir: reportDir, failViaError: true }],
  ],
});
