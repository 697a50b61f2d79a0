/**
 * Allure results of the current run only, earlier runs for the Allure history (a Playwright
 * Reporter listed before allure-playwright in playwright.config.ts).
 *
 * At the start of a run it moves the previous run's results aside; `npm run report` folds them
 * into `allure-history.jsonl`, so its trend shows every earlier run (lib/report/allure-history.ts
 * says why not during the run). Past MAX_PENDING_RUNS waiting, a run folds the oldest at its end.
 */
import { join } from 'node:path';
import type { Reporter } from '@playwright/test/reporter';
import { resolveReportDir } from '../lib/run/config';
import { foldPendingRuns, MAX_PENDING_RUNS, setAsideLastRun } from '../lib/report/allure-history';

export default class AllureHistoryReporter implements Reporter {
  private readonly resultsDir: string;
  private waiting = 0;

  constructor(options: { outputDir?: string } = {}) {
    this.resultsDir = join(resolveReportDir(options.outputDir ?? process.env.PERF_REPORT_DIR), 'allure-results');
  }

  printsToStdio(): boolean {
    return false;
  }

  onBegin(): void {
    if (process.argv.includes('--list')) return;
    this.waiting = setAsideLastRun(this.resultsDir).length;
  }

  async onEnd(): Promise<void> {
    if (this.waiting <= MAX_PENDING_RUNS) return;
    process.stderr.write(
      `[allure] ${this.waiting} runs wait for the Allure history: folding the oldest ` +
        `${this.waiting - MAX_PENDING_RUNS} (about 1 s each; npm run report folds them all)\n`,
    );
    const problem = await foldPendingRuns(this.resultsDir, { keep: MAX_PENDING_RUNS });
    if (problem) process.stderr.write(`[allure] ${problem}\n`);
  }
}
