/**
 * The checkpoint reporter end to end, without app or browser: a tiny Playwright project
 * (test/fixtures-reporter/) whose tests attach synthetic perf-metrics. Checks exit codes
 * (pass vs fail verdict, also through merge-reports), written reports, harness errors,
 * baseline handling, the Allure verdict, and that `npm run report` (Allure 3) builds.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestResult } from 'allure-js-commons';
import { parseSummary } from '../../lib/report/summary';

const ROOT = resolve(__dirname, '..', '..');
const BIN = join(ROOT, 'node_modules', '.bin');
const CONFIG = join(ROOT, 'test', 'fixtures-reporter', 'playwright.config.ts');
const TMP = mkdtempSync(join(tmpdir(), 'checkpoint-reporter-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, {
      cwd: ROOT,
      env: { ...process.env, CI: '1', FORCE_COLOR: '0', PERF_THRESHOLDS: '', PERF_BASELINE: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`${cmd} ${args.join(' ')} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

const playwright = (dir: string, env: Record<string, string>) =>
  run(join(BIN, 'playwright'), ['test', '-c', CONFIG], { PERF_REPORT_DIR: dir, ...env });
const summaryIn = (dir: string) => parseSummary(JSON.parse(readFileSync(join(dir, 'perf-summary.json'), 'utf8')));
function checkpointResult(dir: string): TestResult {
  const resultsDir = join(dir, 'allure-results');
  for (const f of readdirSync(resultsDir).filter((x) => x.endsWith('-result.json'))) {
    const r = JSON.parse(readFileSync(join(resultsDir, f), 'utf8')) as TestResult;
    if (r.name === 'Checkpoint 7.4') return r;
  }
  throw new Error(`no "Checkpoint 7.4" result in ${resultsDir}`);
}

void test(
  'checkpoint reporter: verdicts, exit codes, reports, merge-reports, baseline, Allure',
  { timeout: 120_000 },
  async (t) => {
    const passDir = join(TMP, 'pass');
    mkdirSync(join(passDir, 'charts'), { recursive: true });
    writeFileSync(join(passDir, 'charts', 'latency-from-an-older-run.svg'), '<svg/>');
    const pass = await playwright(passDir, { SYNTH_MODE: 'pass', BLOB: '1' });

    await t.test('a passing verdict exits 0 and writes json, md, charts and the Allure verdict', () => {
      assert.equal(pass.code, 0, pass.stdout + pass.stderr);
      assert.doesNotMatch(pass.stdout, /failed/);
      assert.match(pass.stdout, /CHECKPOINT 7\.4 VERIFICATION[\s\S]*✓ All checkpoint 7\.4 requirements met!/);
      const s = summaryIn(passDir);
      assert.equal(s.verdict, 'pass');
      assert.equal(s.tests.passed, s.tests.total);
      assert.match(readFileSync(join(passDir, 'perf-summary.md'), 'utf8'), /^## ✅ Checkpoint 7\.4/);
      const charts = readdirSync(join(passDir, 'charts'));
      assert.ok(!charts.includes('latency-from-an-older-run.svg'), "an older run's chart is gone");
      assert.ok(
        charts.includes('memory-scaling.svg') &&
          charts.includes('tokens-per-agent.svg') &&
          charts.some((c) => c.startsWith('latency-')),
        charts.join(),
      );
      assert.ok(charts.includes('relevance.svg'), charts.join());
      const relevanceSvg = readFileSync(join(passDir, 'charts', 'relevance.svg'), 'utf8');
      assert.match(relevanceSvg, /^<svg[\s\S]*Search relevance on the labelled retrieval set/);
      const scalingSvg = readFileSync(join(passDir, 'charts', 'memory-scaling.svg'), 'utf8');
      assert.match(scalingSvg, /growth exponents checked \(database time\): search [\d.]+ \(limit &lt;= 0\.3\)/);
      assert.match(scalingSvg, /^<svg[\s\S]*fitted log-log slope of the API p50s \(shown, not checked\)/);
      const allure = checkpointResult(passDir);
      assert.equal(allure.status, 'passed');
      assert.equal(allure.steps.length, 4);
      assert.ok(allure.labels.some((l) => l.name === 'epic' && l.value === 'Performance'));
      assert.ok(allure.attachments.some((a) => a.name === 'perf-summary.md'));
      assert.ok(existsSync(join(passDir, 'allure-results', 'categories.json')));
    });

    const slowDir = join(TMP, 'slow');
    const badDir = join(TMP, 'bad');
    const v2Dir = join(TMP, 'v2');
    const v2 = join(TMP, 'v2.json');
    writeFileSync(
      v2,
      JSON.stringify({
        ...(JSON.parse(readFileSync(join(passDir, 'perf-summary.json'), 'utf8')) as object),
        schemaVersion: 99,
      }),
    );
    // Independent runs at once, each group as soon as what it reads exists: the file's wall time
    // is the longest chain, and it runs beside the other unit test files.
    const setupErrorDir = join(TMP, 'setup-error');
    const [slow, bad, wrongBaseline, setupError] = await Promise.all([
      playwright(slowDir, { SYNTH_MODE: 'slow', BLOB: '1', PERF_BASELINE: join(passDir, 'perf-summary.json') }),
      playwright(badDir, { SYNTH_MODE: 'bad', SYNTH_CHARTS: '0' }),
      playwright(v2Dir, { SYNTH_MODE: 'pass', PERF_BASELINE: v2, SYNTH_CHARTS: '0' }),
      playwright(setupErrorDir, { SYNTH_SETUP_FAIL: '1', SYNTH_CHARTS: '0' }),
    ]);

    await t.test('a failing verdict fails the "Checkpoint 7.4" test and exits non-zero, naming the criterion', () => {
      assert.equal(slow.code, 1);
      // Every measuring test passed; the one failure is the verdict, with its failed checks as errors.
      assert.match(slow.stdout, /1 failed[\s\S]*Checkpoint 7\.4/);
      assert.match(slow.stdout, /Error: Threshold exceeded: response\.total_ms/);
      assert.equal(summaryIn(slowDir).tests.failed, 0);
      const s = summaryIn(slowDir);
      assert.equal(s.verdict, 'fail');
      assert.deepEqual(
        s.criteria.filter((c) => !c.passed).map((c) => c.id),
        ['response-times'],
      );
      assert.match(slow.stdout, /✗ Checkpoint 7\.4 FAILED: Response times acceptable/);
      const allure = checkpointResult(slowDir);
      assert.equal(allure.status, 'failed');
      assert.match(allure.statusDetails.message ?? '', /Threshold exceeded: response\.total_ms/);
    });

    await t.test('baseline comparison shows the regressions in console, JSON and Markdown', () => {
      const s = summaryIn(slowDir);
      assert.ok(s.baseline && s.baseline.regressions >= 6, JSON.stringify(s.baseline?.regressions));
      assert.match(slow.stdout, /Baseline comparison \(vs .*perf-summary\.json, tolerance 10 %\):\n\s+\d+ regressions/);
      assert.match(
        readFileSync(join(slowDir, 'perf-summary.md'), 'utf8'),
        /### Baseline comparison[\s\S]*❌ regression/,
      );
    });

    await t.test('a corrupt attachment is a harness error naming the test, not a crash', () => {
      assert.equal(bad.code, 1);
      const s = summaryIn(badDir);
      assert.equal(s.harnessErrors.length, 1);
      assert.match(s.harnessErrors[0]?.test ?? '', /corrupt metrics attachment/);
      assert.equal(s.criteria.find((c) => c.id === 'performance-measured')?.passed, false);
    });

    await t.test('a baseline of another schema version: clear message, exit 1, no report written', () => {
      assert.equal(wrongBaseline.code, 1);
      assert.match(wrongBaseline.stderr, /v2\.json: schemaVersion 99 but this suite reads schemaVersion 1 or 2/);
      assert.equal(existsSync(join(v2Dir, 'perf-summary.json')), false);
      assert.equal(existsSync(join(v2Dir, 'perf-summary.md')), false);
    });

    // The second run in passDir writes none of the blob report the merge reads.
    const [mergedFail, mergedPass, again, noReport] = await Promise.all([
      run(
        join(BIN, 'playwright'),
        ['merge-reports', '-c', join(ROOT, 'playwright.merge.config.ts'), join(slowDir, 'blob')],
        { PERF_REPORT_DIR: join(TMP, 'merged-fail') },
      ),
      run(
        join(BIN, 'playwright'),
        ['merge-reports', '-c', join(ROOT, 'playwright.merge.config.ts'), join(passDir, 'blob')],
        { PERF_REPORT_DIR: join(TMP, 'merged-pass') },
      ),
      playwright(passDir, { SYNTH_MODE: 'pass', SYNTH_CHARTS: '0' }),
      run(join(BIN, 'tsx'), ['scripts/report.ts'], { PERF_REPORT_DIR: join(TMP, 'none') }),
    ]);
    // The second run set the first one aside; the report folds it into the history.
    const previousRuns = () => readdirSync(passDir).filter((f) => f.includes('previous-run'));
    const setAside = previousRuns();
    const report = await run(join(BIN, 'tsx'), ['scripts/report.ts'], { PERF_REPORT_DIR: passDir });

    await t.test('merge-reports gives one verdict from blob reports, with the right exit code', () => {
      assert.equal(mergedPass.code, 0, mergedPass.stdout + mergedPass.stderr);
      assert.equal(summaryIn(join(TMP, 'merged-pass')).verdict, 'pass');
      assert.equal(mergedFail.code, 1);
      assert.equal(summaryIn(join(TMP, 'merged-fail')).verdict, 'fail');
      assert.match(mergedFail.stdout + mergedFail.stderr, /Checkpoint 7\.4 failed: response-times/);
      assert.ok(existsSync(join(TMP, 'merged-fail', 'html', 'index.html')));
    });

    await t.test('Allure results hold the current run only; npm run report folds earlier runs into the history', () => {
      assert.equal(again.code, 0, again.stdout + again.stderr);
      const results = readdirSync(join(passDir, 'allure-results')).filter((f) => f.endsWith('-result.json'));
      assert.equal(results.length, summaryIn(passDir).tests.total + 1, results.join());
      // Set aside by the run (a rename), not folded during it.
      assert.equal(setAside.length, 1, setAside.join());
      assert.equal(report.code, 0, report.stdout + report.stderr);
      assert.equal(readFileSync(join(passDir, 'allure-history.jsonl'), 'utf8').trim().split('\n').length, 1);
      assert.deepEqual(previousRuns(), []);
    });

    await t.test('a setup error: one cause in every report, no list of unmeasured metrics, exit 1', () => {
      assert.equal(setupError.code, 1);
      const out = setupError.stdout + setupError.stderr;
      assert.match(out, /Not evaluated: the run stopped before any test\.\n\s+.*not reachable at BASE_URL/);
      assert.doesNotMatch(out, /not measured/);
      const s = summaryIn(setupErrorDir);
      assert.equal(s.verdict, 'fail');
      assert.match(s.setupError ?? '', /not reachable/);
      assert.deepEqual(s.criteria, []);
      assert.match(readFileSync(join(setupErrorDir, 'perf-summary.md'), 'utf8'), /setup error[\s\S]*not reachable/);
      assert.equal(checkpointResult(setupErrorDir).status, 'broken');
    });

    await t.test('npm run report builds the Allure 3 report from the results', () => {
      assert.equal(report.code, 0, report.stdout + report.stderr);
      assert.ok(existsSync(join(passDir, 'allure-report', 'index.html')));
      assert.match(report.stdout, /npm run report:open/);
      assert.equal(noReport.code, 1);
      assert.match(noReport.stderr, /run the tests first/);
    });
  },
);
