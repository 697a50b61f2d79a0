/**
 * Checkpoint 7.4 reporter (Playwright Reporter). Works in `npx playwright test` and in
 * `npx playwright merge-reports` (sharded CI gets one verdict).
 *
 * onTestEnd: collects each test's `perf-metrics` attachment (body or path — blob/merge gives a
 * path), validates it; a bad attachment is a harness error naming the test, never a crash. Once
 * the last measuring test has ended, it judges the metrics and starts drawing the charts, so that
 * this runs while the verdict test's worker starts (≈ 1 s), not after it.
 * onEnd: aggregates, evaluates perf.thresholds.ts (or takes that early judgement when no metrics
 * came after it), compares with PERF_BASELINE if set, then
 * writes — only after everything was computed, each file atomically — under PERF_REPORT_DIR
 * (default `reports`): perf-summary.json, perf-summary.md, charts/*.svg, and the "Checkpoint 7.4"
 * result into allure-results; prints the console summary; and fails the run when the verdict
 * fails (exit code ≠ 0 even if every test passed).
 *
 * Options (playwright.config.ts):
 *   ['./reporters/checkpoint-reporter.ts', { outputDir?, charts?, failViaError? }]
 */
import { readFileSync, rmSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import type {
  FullConfig,
  FullResult,
  Reporter,
  Suite,
  TestCase,
  TestError,
  TestResult,
} from '@playwright/test/reporter';
import { METRICS_ATTACHMENT, SEEDING_ANNOTATION, type TestMetrics } from '../lib/verdict/metrics-schema';
import { parseMetricsDocument } from '../lib/verdict/checkpoint-input';
import { evaluateCheckpoint, type CheckpointResult, type HarnessError } from '../lib/verdict/checkpoint';
import { ThresholdConfigError } from '../lib/verdict/thresholds';
import { PERF_THRESHOLDS } from '../perf.thresholds';
import { BaselineError, compareToBaseline, loadBaseline, parseTolerance } from '../lib/verdict/baseline';
import { verdictInputProblem } from '../lib/verdict/inputs';
import {
  SUMMARY_JSON,
  SUMMARY_MD,
  buildSummary,
  readEnvironment,
  renderConsole,
  renderMarkdown,
  type PerfSummary,
} from '../lib/report/summary';
import { renderCharts, type Chart } from '../lib/report/charts';
import { removeAllureResults, writeAllureCheckpoint } from '../lib/report/allure';
import { writeFileAtomic } from '../lib/fs-atomic';
import { resolveReportDir, smokeOnly } from '../lib/run/config';

interface CheckpointReporterOptions {
  /** Report directory; default env PERF_REPORT_DIR or 'reports'. Relative → against the repo root. */
  outputDir?: string;
  /** Render SVG charts (default true). */
  charts?: boolean;
  /**
   * Signal a failed verdict by throwing from onEnd (a reporter error) instead of returning
   * status 'failed'. `merge-reports` ignores the returned status, so this defaults to true there.
   */
  failViaError?: boolean;
}

/** Raised (after all reports are written) in merge-reports mode so the exit code is non-zero. */
class CheckpointFailedError extends Error {
  override name = 'CheckpointFailedError';
  constructor(message: string) {
    super(message);
    // The message says everything; a stack trace into the reporter would only add noise.
    this.stack = `${this.name}: ${message}`;
  }
}

/** The verdict test (e2e/verdict.ts), the last file of perf and of smoke. */
const CHECKPOINT_TEST_FILE = 'verdict.ts';
const isCheckpointTest = (test: TestCase) => basename(test.location.file) === CHECKPOINT_TEST_FILE;
/** allure-playwright's copy of the verdict test: full name `<file relative to testDir, with /> › <title>`. */
const isCheckpointAllureResult = (r: { fullName?: string }) =>
  r.fullName?.split(' › ')[0]?.split('/').pop() === CHECKPOINT_TEST_FILE;
/** Which count of the summary's `tests` a test's outcome adds to. */
const OUTCOME_COUNT = { expected: 'passed', unexpected: 'failed', skipped: 'skipped', flaky: 'flaky' } as const;
// eslint-disable-next-line no-control-regex
const stripAnsi = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, '');

/** The verdict and the charts of one set of metrics documents. */
interface Judgement {
  docs: readonly TestMetrics[];
  harnessErrors: readonly HarnessError[];
  checkpoint: CheckpointResult;
  /** The rendered charts, or why they could not be (charts never decide anything). */
  charts: Promise<Chart[] | Error>;
}

const sameItems = <T>(a: readonly T[], b: readonly T[]) => a.length === b.length && a.every((x, i) => x === b[i]);

const testName = (test: TestCase) => {
  const file = test.location.file.split(/[\\/]/).slice(-2).join('/');
  return `${file} › ${test.titlePath().slice(3).join(' › ') || test.title}`;
};

export default class CheckpointReporter implements Reporter {
  private readonly outputDir: string;
  private readonly charts: boolean;
  private readonly failViaError: boolean;
  /** Latest attempt per test: earlier (retried) attempts' metrics are superseded. */
  private readonly perTest = new Map<string, { test: TestCase; docs: TestMetrics[]; errors: HarnessError[] }>();
  private configError: string | undefined;
  private setupError: string | undefined;
  /** Measuring tests (all but the verdict test) not yet at their final result; judged early at 0. */
  private measuringLeft = new Set<string>();
  /** The judgement made when the last measuring test ended (measuringDone). */
  private early: Judgement | undefined;

  constructor(options: CheckpointReporterOptions = {}) {
    // Same resolution as playwright.config.ts (lib/run/config.ts): not process.cwd(), or a run started
    // from a sub-folder would read environment.json from and write the summary to another folder.
    this.outputDir = resolveReportDir(options.outputDir ?? process.env.PERF_REPORT_DIR);
    this.charts = options.charts ?? true;
    this.failViaError = options.failViaError ?? process.argv.includes('merge-reports');
  }

  printsToStdio(): boolean {
    return true;
  }

  onBegin(_config: FullConfig, suite: Suite): void {
    this.measuringLeft = new Set(
      suite
        .allTests()
        .filter((t) => !isCheckpointTest(t))
        .map((t) => t.id),
    );
    // Validate overrides and baseline now, so a typo is visible before a long run, not after
    // (the suite's global setup then stops the run; see lib/verdict/inputs.ts).
    const problem = verdictInputProblem(PERF_THRESHOLDS);
    if (problem === undefined) return;
    this.configError = problem;
    process.stderr.write(
      `\n[checkpoint] ${problem}\n[checkpoint] No checkpoint report will be written; the run will fail.\n\n`,
    );
  }

  /** Errors outside tests; one before any test began is the run's setup error (global setup). */
  onError(error: TestError): void {
    if (this.perTest.size > 0 || this.setupError) return;
    const text = stripAnsi(error.message ?? error.value ?? 'unknown error');
    this.setupError =
      text
        .split('\n')
        .find((l) => l.trim())
        ?.trim() ?? text;
  }

  onTestEnd(test: TestCase, result: TestResult): void {
    const docs: TestMetrics[] = [];
    const errors: HarnessError[] = [];
    for (const a of result.attachments) {
      if (a.name !== METRICS_ATTACHMENT) continue;
      try {
        const text = a.body ? a.body.toString('utf8') : a.path ? readFileSync(a.path, 'utf8') : undefined;
        if (text === undefined) throw new Error('attachment has neither body nor path');
        docs.push(parseMetricsDocument(text));
      } catch (error) {
        errors.push({ test: testName(test), message: (error as Error).message });
      }
    }
    this.perTest.set(test.id, { test, docs, errors });
    // A failed attempt that will be retried is not final: its retry still measures.
    const final = result.status === 'passed' || result.status === 'skipped' || result.retry >= test.retries;
    if (final && this.measuringLeft.delete(test.id) && this.measuringLeft.size === 0) this.measuringDone();
  }

  /**
   * Every measuring test has its final result: from here on, CPU taken by the reports disturbs no
   * figure. Judging and drawing now overlaps the start of the verdict test's worker; onEnd uses
   * this judgement unless metrics came after it (then it judges again).
   */
  protected measuringDone(): void {
    if (this.configError) return;
    try {
      this.early = this.judge(this.collected());
    } catch {
      // A threshold file that fails here fails again in onEnd, which reports it.
      this.early = undefined;
    }
  }

  /** Every metrics document and harness error collected so far, in test order. */
  private collected(): Pick<Judgement, 'docs' | 'harnessErrors'> {
    const all = [...this.perTest.values()];
    return { docs: all.flatMap((t) => t.docs), harnessErrors: all.flatMap((t) => t.errors) };
  }

  /** Evaluates the checkpoint over these documents and starts rendering their charts. */
  protected judge({ docs, harnessErrors }: Pick<Judgement, 'docs' | 'harnessErrors'>): Judgement {
    // A run without metrics (e.g. global setup failed) is judged against `--project=smoke` when
    // that is what was asked for, not PERF_PROFILE's default.
    const checkpoint = evaluateCheckpoint({
      thresholds: PERF_THRESHOLDS,
      docs,
      harnessErrors,
      profile: docs.length === 0 && smokeOnly() ? 'smoke' : undefined,
    });
    const drawn = buildSummary(checkpoint, { startedAt: new Date(), durationMs: 0 });
    const charts = this.charts
      ? renderCharts(drawn).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))))
      : Promise.resolve([]);
    return { docs, harnessErrors, checkpoint, charts };
  }

  async onEnd(result: FullResult): Promise<{ status?: FullResult['status'] } | undefined> {
    // `--list` runs no test: there is nothing to judge, and no report to overwrite.
    if (process.argv.includes('--list')) return undefined;
    let outcome: { summary: PerfSummary; files: string[] };
    try {
      if (this.configError) throw new ThresholdConfigError(this.configError);
      outcome = await this.produce(result);
    } catch (error) {
      if (error instanceof ThresholdConfigError || error instanceof BaselineError) {
        process.stderr.write(
          `\n✗ Checkpoint 7.4 not evaluated: ${error.message}\n` +
            `  Nothing was written to ${this.outputDir}. Fix the file or unset the variable.\n\n`,
        );
        if (this.failViaError) throw new CheckpointFailedError(error.message);
        return { status: 'failed' };
      }
      throw error;
    }
    process.stdout.write(renderConsole(outcome.summary));
    const shown = outcome.files.map((f) => relative(process.cwd(), f));
    process.stdout.write(`Reports: ${shown.join(', ')}\n\n`);
    if (outcome.summary.verdict === 'fail') {
      const failed = outcome.summary.criteria
        .filter((c) => !c.passed)
        .map((c) => c.id)
        .join(', ');
      if (this.failViaError)
        throw new CheckpointFailedError(`Checkpoint 7.4 failed: ${failed} (see ${join(this.outputDir, SUMMARY_MD)})`);
      if (result.status === 'passed') return { status: 'failed' };
    }
    return undefined;
  }

  /** Computes everything in memory, then writes all files. Throws config errors before any write. */
  private async produce(result: FullResult): Promise<{ summary: PerfSummary; files: string[] }> {
    const reportsStarted = performance.now();
    const all = [...this.perTest.values()];
    const collected = this.collected();
    const { early } = this;
    const reuse =
      early && sameItems(early.docs, collected.docs) && sameItems(early.harnessErrors, collected.harnessErrors);
    const judged = reuse ? early : this.judge(collected);
    const { docs, checkpoint } = judged;

    const tests = { total: 0, passed: 0, failed: 0, skipped: 0, flaky: 0 };
    // The "Checkpoint 7.4" test is the verdict, not one of the measuring tests it counts.
    for (const { test } of all.filter((t) => !isCheckpointTest(t.test))) {
      tests.total++;
      tests[OUTCOME_COUNT[test.outcome()]]++;
    }
    const { duration: durationMs, startTime: startedAt } = result;
    // A run that stopped before any test has one cause; no criterion was evaluated.
    const setupError = docs.length === 0 ? this.setupError : undefined;
    let summary = buildSummary(checkpoint, {
      startedAt,
      durationMs,
      tests,
      environment: readEnvironment(this.outputDir),
      ...(setupError ? { setupError } : {}),
    });

    const baselinePath = process.env.PERF_BASELINE?.trim();
    if (baselinePath) {
      const baseline = loadBaseline(baselinePath);
      const tolerance = parseTolerance(process.env.PERF_BASELINE_TOLERANCE);
      summary = {
        ...summary,
        baseline: compareToBaseline(summary.metrics, baseline, {
          path: baselinePath,
          tolerance,
          environment: summary.environment,
        }),
      };
    }

    const drawn = await judged.charts;
    // Charts are illustrations: their failure must not hide or change the verdict.
    if (drawn instanceof Error) process.stderr.write(`[checkpoint] charts not rendered: ${drawn.message}\n`);
    const charts: Chart[] = drawn instanceof Error ? [] : drawn;
    // The reports' time at the end of the run: what judging and charts took beyond the verdict
    // worker's start, and aggregation (writing the files is not counted).
    if (!setupError) summary = { ...summary, phases: this.phases(all, summary.environment, reportsStarted) };
    const json = `${JSON.stringify(summary, null, 2)}\n`;
    const markdown = renderMarkdown(summary);

    const files: string[] = [];
    const write = (path: string, data: string) => {
      writeFileAtomic(path, data);
      files.push(path);
    };
    write(join(this.outputDir, SUMMARY_JSON), json);
    write(join(this.outputDir, SUMMARY_MD), markdown);
    // Only this run's charts: an older run's (a chart this run did not draw) must not pass for new.
    rmSync(join(this.outputDir, 'charts'), { recursive: true, force: true });
    for (const c of charts) write(join(this.outputDir, 'charts', c.file), c.svg);
    const resultsDir = join(this.outputDir, 'allure-results');
    try {
      // The reporter's "Checkpoint 7.4" result (criteria as steps, summary and charts attached)
      // stands for the verdict test, whose plain allure-playwright copy would show it twice.
      removeAllureResults(resultsDir, isCheckpointAllureResult);
      writeAllureCheckpoint({
        resultsDir,
        summary,
        markdown,
        json,
        charts,
        start: startedAt.getTime(),
        stop: startedAt.getTime() + durationMs,
      });
    } catch (error) {
      process.stderr.write(`[checkpoint] Allure verdict not written to ${resultsDir}: ${(error as Error).message}\n`);
    }
    return { summary, files };
  }

  /** Time per spec file (tests' own durations), seeding inside them, and global setup's, for the phase line. */
  private phases(
    all: readonly { test: TestCase }[],
    environment: Record<string, unknown>,
    reportsStarted: number,
  ): NonNullable<PerfSummary['phases']> {
    const perFile = new Map<string, number>();
    let seedingMs = 0;
    for (const { test } of all) {
      const last = test.results[test.results.length - 1];
      if (!last || last.status === 'skipped') continue;
      const file = test.location.file.split(/[\\/]/).pop() ?? test.location.file;
      perFile.set(file, (perFile.get(file) ?? 0) + last.duration);
      for (const a of last.annotations ?? test.annotations) {
        if (a.type === SEEDING_ANNOTATION) seedingMs += Number(a.description) || 0;
      }
    }
    const setupMs = typeof environment.setupMs === 'number' ? environment.setupMs : null;
    return {
      setupMs,
      seedingMs,
      specs: [...perFile.entries()].map(([file, ms]) => ({ file, ms })),
      reportsMs: Math.round(performance.now() - reportsStarted),
    };
  }
}
