/**
 * The verdict test (e2e/verdict.ts) runs in the measuring worker after every spec because, with
 * one worker, Playwright runs a project's files in alphabetical order (playwright.config.ts). A
 * spec whose name sorts after `verdict.ts` would be measured after the verdict: this catches it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

void test('each measuring project lists the verdict test last, after every spec', () => {
  const run = spawnSync(join(ROOT, 'node_modules', '.bin', 'playwright'), ['test', '--list'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '0' },
    timeout: 60_000,
  });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  for (const project of ['perf', 'smoke']) {
    const listed = run.stdout.split('\n').filter((line) => line.includes(`[${project}] › `));
    assert.ok(listed.length > 10, `${project}: ${listed.length} tests listed`);
    assert.match(listed.at(-1) ?? '', /› verdict\.ts:\d+:\d+ › Checkpoint 7\.4$/, `${project}: last is the verdict`);
    assert.equal(listed.filter((line) => line.includes('› verdict.ts:')).length, 1, `${project}: one verdict test`);
  }
});
