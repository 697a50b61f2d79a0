/**
 * "Checkpoint 7.4": the verdict as a test of its own, so the Playwright HTML report (and any tool
 * that reads test results) shows the checkpoint passing or failing with the run, not only
 * "N passed". It is the last file of `perf` and of `smoke` (playwright.config.ts): with one worker
 * it runs after every measuring test, also when some failed, in the worker that measured (a
 * teardown project of its own cost every run a second worker's start, ≈ 1.5 s).
 *
 * A run narrowed to some files or tests (a path, `--grep`) leaves it out unless it matches; the
 * checkpoint reporter still prints and writes the verdict and sets the exit code. With more than
 * one worker it could run beside a measuring test, so it is skipped and the reporter, which judges
 * after every test, alone decides. In a sharded run it is skipped too: one shard cannot judge,
 * the merged report does.
 *
 * It judges the same documents the checkpoint reporter judges (lib/verdict/checkpoint-input.ts) with the
 * same code (lib/verdict/checkpoint.ts), so the two cannot disagree. Each failed check is its own error.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from '@playwright/test';
// The specs' own `test`: the same fixtures make the same worker, so no second worker starts.
import { test } from '../fixtures';
import { evaluateCheckpoint } from '../lib/verdict/checkpoint';
import { PERF_THRESHOLDS } from '../perf.thresholds';
import { CHECKPOINT_INPUT_DIR, readCheckpointInput } from '../lib/verdict/checkpoint-input';
import { buildSummary, hostWarning, readEnvironment, renderMarkdown } from '../lib/report/summary';

test('Checkpoint 7.4', { tag: '@checkpoint' }, async ({ config, profileName }, testInfo) => {
  // A shard sees part of the metrics only; `merge-reports -c playwright.merge.config.ts` judges them all.
  // eslint-disable-next-line playwright/no-skipped-test -- a conditional skip with its reason, by design
  test.skip(testInfo.config.shard !== null, 'sharded run: the verdict comes from merge-reports over all shards');
  // As a teardown project (the reporter's own tests run it so) it comes after every test anyway.
  const asTeardown = testInfo.config.projects.some((p) => p.teardown === testInfo.project.name);
  // eslint-disable-next-line playwright/no-skipped-test -- a conditional skip with its reason, by design
  test.skip(
    !asTeardown && (testInfo.config.workers > 1 || testInfo.config.fullyParallel),
    'more than one worker: this test could run before the last measurement; the checkpoint reporter judges the run',
  );
  const { docs, harnessErrors } = readCheckpointInput(join(testInfo.project.outputDir, CHECKPOINT_INPUT_DIR));
  const result = evaluateCheckpoint({
    thresholds: PERF_THRESHOLDS,
    docs,
    harnessErrors,
    ...(docs.length === 0 ? { profile: profileName } : {}),
  });
  const summary = buildSummary(result, {
    startedAt: new Date(),
    durationMs: 0,
    environment: readEnvironment(config.reportDir),
  });
  // As a file: a failed test's text attachment would be printed whole in the console, after the
  // console summary that already says the same.
  const markdown = testInfo.outputPath('perf-summary.md');
  writeFileSync(markdown, renderMarkdown(summary));
  await testInfo.attach('perf-summary.md', { path: markdown, contentType: 'text/markdown' });
  testInfo.annotations.push({ type: 'verdict', description: summary.verdict.toUpperCase() });
  const warning = hostWarning(summary);
  if (warning) testInfo.annotations.push({ type: 'host', description: warning });

  for (const criterion of result.criteria) {
    const mark = criterion.status === 'skipped' ? '– not in this run (compare only):' : criterion.passed ? '✓' : '✗';

    await test.step(`${mark} ${criterion.title}`, () => {
      for (const check of criterion.checks.filter((k) => !k.passed && k.status !== 'skipped')) {
        expect.soft(check.passed, check.message).toBe(true);
      }
    });
  }
  for (const e of harnessErrors) expect.soft(e.message, `metrics of ${e.test} unreadable`).toBe('');
  expect(result.verdict, 'Checkpoint 7.4 verdict (every failed check is listed above)').toBe('pass');
});
