/**
 * Allure results of the current run only, earlier runs as Allure history (a Playwright Reporter
 * listed before allure-playwright in playwright.config.ts).
 *
 * allure-playwright never empties its results folder, so results of every earlier run piled up
 * there and showed as retries. At the start of a run this reporter moves the previous run's
 * results aside (a rename: instant), folds them into `allure-history.jsonl` with Allure 3's own
 * `allure history` command while the tests run, and removes them at the end. `npm run report`
 * reads that file (Allure 3 `historyPath`), so its trend shows every earlier run.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Reporter } from '@playwright/test/reporter';
import { REPO_ROOT, resolveReportDir } from '../lib/run/config';

export const ALLURE_HISTORY_FILE = 'allure-history.jsonl';
const PREVIOUS_SUFFIX = '.previous-run';
const HISTORY_TIMEOUT_MS = 60_000;

export default class AllureHistoryReporter implements Reporter {
  private readonly resultsDir: string;
  private folding: Promise<void> | undefined;

  constructor(options: { outputDir?: string } = {}) {
    this.resultsDir = join(resolveReportDir(options.outputDir ?? process.env.PERF_REPORT_DIR), 'allure-results');
  }

  printsToStdio(): boolean {
    return false;
  }

  onBegin(): void {
    if (process.argv.includes('--list')) return;
    const parent = dirname(this.resultsDir);
    // Earlier runs that were killed before their fold finished come first, then the last run.
    const pending = existsSync(parent)
      ? readdirSync(parent)
          .filter((f) => f.startsWith(`${basename(this.resultsDir)}${PREVIOUS_SUFFIX}`))
          .sort()
          .map((f) => join(parent, f))
      : [];
    if (existsSync(this.resultsDir) && readdirSync(this.resultsDir).some((f) => f.endsWith('-result.json'))) {
      const aside = `${this.resultsDir}${PREVIOUS_SUFFIX}-${Date.now()}`;
      renameSync(this.resultsDir, aside);
      pending.push(aside);
    } else {
      rmSync(this.resultsDir, { recursive: true, force: true });
    }
    if (pending.length > 0) this.folding = foldIntoHistory(pending, join(parent, ALLURE_HISTORY_FILE));
  }

  async onEnd(): Promise<void> {
    await this.folding;
  }
}

/** `allure history <dirs> --history-path <file>`, then removes the dirs; a failure only warns. */
async function foldIntoHistory(dirs: string[], historyFile: string): Promise<void> {
  const cli = resolve(REPO_ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'allure.cmd' : 'allure');
  const outcome = await new Promise<string | undefined>((done) => {
    if (!existsSync(cli)) return done(`Allure CLI not found at ${cli} (npm ci installs it)`);
    const child = spawn(cli, ['history', ...dirs, '--history-path', historyFile], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), HISTORY_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      done(e.message);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      done(
        code === 0
          ? undefined
          : `allure history ended with ${signal ?? `exit code ${code}`}: ${stderr.trim().slice(0, 300)}`,
      );
    });
  });
  if (outcome) {
    // History is a convenience: the run's own results and verdict do not depend on it.
    process.stderr.write(`[allure] earlier results not added to ${historyFile}: ${outcome}\n`);
    return;
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
