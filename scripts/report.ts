/**
 * `npm run report`: builds the Allure report (Allure 3 CLI, no Java) from
 * `${PERF_REPORT_DIR:-reports}/allure-results` into `${PERF_REPORT_DIR:-reports}/allure-report`.
 * `npm run report:open` (`--open`) serves that report on localhost.
 *
 * Allure 3's default ("awesome") report takes categories from its config, not from
 * categories.json in the results, so this script writes a small generated config with
 * ALLURE_CATEGORIES (threshold exceeded / sample errors / not measured / errors) and passes it.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { ALLURE_CATEGORIES } from '../lib/report/allure';
import { REPO_ROOT, resolveReportDir } from '../lib/run/config';
import { writeFileAtomic } from '../lib/fs-atomic';
import { ALLURE_HISTORY_FILE, foldPendingRuns } from '../lib/report/allure-history';

const GENERATE_TIMEOUT_MS = 180_000;

const shown = (p: string) => relative(process.cwd(), p) || '.';
const allureCli = resolve(REPO_ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'allure.cmd' : 'allure');

async function main(): Promise<number> {
  const reportDir = resolveReportDir(process.env.PERF_REPORT_DIR);
  const resultsDir = join(reportDir, 'allure-results');
  const outDir = join(reportDir, 'allure-report');
  if (process.argv.includes('--open')) return open(outDir);

  const hasResults = existsSync(resultsDir) && readdirSync(resultsDir).some((f) => f.endsWith('-result.json'));
  if (!hasResults) {
    console.error(
      `No Allure results in ${shown(resultsDir)}: run the tests first ` +
        '(npx playwright test --project=perf, or --project=smoke), then npm run report.',
    );
    return 1;
  }

  // Trend across runs (lib/report/allure-history.ts): the runs the test runs set aside go into the
  // history file first. `allure generate` appends the run it renders to its historyPath, and the
  // next test run sets that run aside for the history too, so it gets a copy and the kept file
  // stays one entry per run.
  if (!cliFound()) return 1;
  const problem = await foldPendingRuns(resultsDir);
  if (problem) console.warn(`Allure history: ${problem}`);
  const history = join(reportDir, ALLURE_HISTORY_FILE);
  const historyCopy = join(reportDir, `.${ALLURE_HISTORY_FILE}.report`);
  if (existsSync(history)) copyFileSync(history, historyCopy);
  else rmSync(historyCopy, { force: true });
  const configPath = join(reportDir, 'allurerc.generated.json');
  const allureConfig = {
    name: 'MemoryChat performance (Checkpoint 7.4)',
    categories: ALLURE_CATEGORIES,
    historyPath: historyCopy,
  };
  writeFileAtomic(configPath, `${JSON.stringify(allureConfig, null, 2)}\n`);

  const t0 = performance.now();
  const run = spawnSync(allureCli, ['generate', resultsDir, '--output', outDir, '--config', configPath], {
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: GENERATE_TIMEOUT_MS,
  });
  if (run.error || run.status !== 0) {
    const cause = run.error
      ? run.error.message
      : run.signal
        ? `killed by ${run.signal} (timeout ${GENERATE_TIMEOUT_MS / 1000} s?)`
        : `exit code ${run.status}`;
    console.error(`allure generate failed: ${cause}`);
    return 1;
  }
  console.log(
    `Allure report built in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${shown(join(outDir, 'index.html'))}`,
  );
  console.log(
    'Open it with: npm run report:open   ' +
      '(serves it on localhost; opening index.html from disk does not work in every browser)',
  );
  return 0;
}

function cliFound(): boolean {
  if (existsSync(allureCli)) return true;
  console.error(`Allure CLI not found at ${shown(allureCli)}: run npm ci (the "allure" package provides it).`);
  return false;
}

/** Serves the built report (the same folder `npm run report` wrote, PERF_REPORT_DIR included) until Ctrl-C. */
function open(outDir: string): number {
  if (!existsSync(join(outDir, 'index.html'))) {
    console.error(`No Allure report in ${shown(outDir)}: build it first with npm run report.`);
    return 1;
  }
  if (!cliFound()) return 1;
  const run = spawnSync(allureCli, ['open', outDir], { stdio: 'inherit' });
  if (run.error) console.error(`allure open failed: ${run.error.message}`);
  return run.error ? 1 : (run.status ?? 1);
}

void main().then((code) => {
  process.exitCode = code;
});
