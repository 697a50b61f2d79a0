/**
 * The Allure trend across runs: `allure-history.jsonl` (Allure 3's `historyPath` file), and the
 * results of earlier runs still waiting to go into it.
 *
 * allure-playwright never empties its results folder, so results of every earlier run piled up
 * there and showed as retries. At the start of a run the history reporter
 * (reporters/allure-history-reporter.ts) moves the previous run's results aside (a rename:
 * instant). `npm run report`, the file's reader, folds every run set aside into the file with
 * Allure 3's own `allure history` command before it builds the report (about 1 s a run).
 *
 * Not during the run, as before: the Allure CLI's second of CPU, on a 2-core machine, slowed the
 * worker's start and the first measurements (a smoke run took 1.5–3 s longer), or the verdict
 * worker's start when it came after the measurements. Only a run that finds more than
 * MAX_PENDING_RUNS waiting (nobody builds the report) folds the oldest, at its end, so they never
 * pile up.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { REPO_ROOT } from '../run/config';

export const ALLURE_HISTORY_FILE = 'allure-history.jsonl';
/** Runs waiting before a test run folds the oldest itself (about 1 MB of results each in smoke). */
export const MAX_PENDING_RUNS = 30;
const PREVIOUS_SUFFIX = '.previous-run';
const HISTORY_TIMEOUT_MS = 60_000;

/** Results folders of earlier runs not yet in the history, oldest first. */
export function pendingRuns(resultsDir: string): string[] {
  const parent = dirname(resultsDir);
  if (!existsSync(parent)) return [];
  // `-<epoch ms>` suffixes of equal length: sorting the names sorts by time.
  return readdirSync(parent)
    .filter((f) => f.startsWith(`${basename(resultsDir)}${PREVIOUS_SUFFIX}`))
    .sort()
    .map((f) => join(parent, f));
}

/**
 * Moves the last run's results aside (when it left any), so that this run's folder holds this
 * run only. Returns every run now waiting for the history, oldest first.
 */
export function setAsideLastRun(resultsDir: string): string[] {
  if (existsSync(resultsDir) && readdirSync(resultsDir).some((f) => f.endsWith('-result.json'))) {
    renameSync(resultsDir, `${resultsDir}${PREVIOUS_SUFFIX}-${Date.now()}`);
  } else {
    rmSync(resultsDir, { recursive: true, force: true });
  }
  return pendingRuns(resultsDir);
}

/**
 * Folds the runs waiting into the history, oldest first, all but the newest `keep`: one
 * `allure history <dir> --history-path <file>` each (given several folders, Allure makes one entry
 * of them all), each folder removed once folded. Returns why it stopped, or undefined: the history
 * is a convenience, no verdict depends on it, so a failure leaves the folders for the next try and
 * the caller only warns.
 */
export async function foldPendingRuns(resultsDir: string, opts: { keep?: number } = {}): Promise<string | undefined> {
  const historyFile = join(dirname(resultsDir), ALLURE_HISTORY_FILE);
  const pending = pendingRuns(resultsDir);
  for (const dir of pending.slice(0, Math.max(0, pending.length - (opts.keep ?? 0)))) {
    const problem = await allureHistory(dir, historyFile);
    if (problem) return `earlier results not added to ${historyFile}: ${problem}`;
    rmSync(dir, { recursive: true, force: true });
  }
  return undefined;
}

function allureHistory(dir: string, historyFile: string): Promise<string | undefined> {
  const cli = resolve(REPO_ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'allure.cmd' : 'allure');
  return new Promise<string | undefined>((done) => {
    if (!existsSync(cli)) return done(`Allure CLI not found at ${cli} (npm ci installs it)`);
    const child = spawn(cli, ['history', dir, '--history-path', historyFile], {
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
}
