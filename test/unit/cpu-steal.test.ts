import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseProcStat, readCpuTicks, ticksBetween } from '../../lib/run/cpu-steal';
import { evaluateCheckpoint, hostSteal } from '../../lib/verdict/checkpoint';
import { buildSummary, renderConsole, renderMarkdown } from '../../lib/report/summary';
import { writeAllureCheckpoint } from '../../lib/report/allure';
import { PERF_THRESHOLDS } from '../../perf.thresholds';
import { syntheticRun } from '../fixtures-reporter/synthetic';
import { tempDir } from '../support/temp-dir';

const PROC_STAT = ['cpu  100 5 50 800 10 2 3 30 7 0', 'cpu0 50 2 25 400 5 1 1 15 3 0', 'intr 12345'].join('\n');

void test('/proc/stat: the cpu line gives total ticks (guest counted once) and steal', () => {
  assert.deepEqual(parseProcStat(PROC_STAT), { total: 100 + 5 + 50 + 800 + 10 + 2 + 3 + 30, steal: 30 });
  assert.equal(parseProcStat('cpu0 1 2 3 4 5 6 7 8'), undefined, 'only the all-CPU line');
  assert.equal(parseProcStat('cpu  1 2 3'), undefined, 'too few fields (a kernel without steal)');
  assert.equal(parseProcStat('cpu  1 2 x 4 5 6 7 8'), undefined);
});

void test('readCpuTicks: a missing file is no reading, not an error', () => {
  const dir = tempDir('cpu-steal');
  assert.equal(readCpuTicks(join(dir, 'none')), undefined);
  writeFileSync(join(dir, 'stat'), PROC_STAT);
  assert.equal(readCpuTicks(join(dir, 'stat'))?.steal, 30);
});

void test('ticksBetween: the difference, or nothing when a reading is missing or went back', () => {
  assert.deepEqual(ticksBetween({ total: 1000, steal: 10 }, { total: 1400, steal: 70 }), { total: 400, steal: 60 });
  assert.equal(ticksBetween(undefined, { total: 1, steal: 0 }), undefined);
  assert.equal(ticksBetween({ total: 1000, steal: 10 }, { total: 1000, steal: 10 }), undefined, 'no time passed');
  assert.equal(ticksBetween({ total: 1000, steal: 90 }, { total: 1400, steal: 10 }), undefined, 'counter reset');
});

/** A synthetic run whose tests recorded `shares` of steal, 1000 CPU ticks each. */
function runWithSteal(shares: number[]) {
  return syntheticRun().map((doc, i) =>
    i < shares.length
      ? { ...doc, host: { cpuTicks: 1000, stealTicks: Math.round(1000 * (shares[i] as number)) } }
      : doc,
  );
}

void test('hostSteal: steal over CPU time of the tests that recorded it, and how many lost 10 % or more', () => {
  const host = hostSteal(runWithSteal([0.05, 0.25, 0.0]));
  assert.ok(host);
  assert.equal(host.tests, 3);
  assert.ok(Math.abs(host.stealShare - 0.1) < 1e-9);
  assert.equal(host.testsHigh, 1);
  assert.equal(hostSteal(syntheticRun()), undefined, 'no readings: nothing to say');
});

void test('reports: steal beside the verdict, and a warning from 10 % on that leaves the verdict alone', () => {
  const summary = (shares: number[]) =>
    buildSummary(evaluateCheckpoint({ thresholds: PERF_THRESHOLDS, docs: runWithSteal(shares), env: {} }), {
      startedAt: new Date('2026-01-01T00:00:00Z'),
      durationMs: 1000,
    });
  const quiet = summary([0.02, 0.01]);
  assert.equal(quiet.verdict, 'pass');
  assert.match(renderMarkdown(quiet), /CPU steal 1\.5 %/);
  assert.doesNotMatch(renderMarkdown(quiet) + renderConsole(quiet), /took .* of this run's CPU time/);

  const busy = summary([0.35, 0.05]);
  assert.equal(busy.verdict, 'pass', 'steal is shown, never gated');
  assert.ok(busy.host && Math.abs(busy.host.stealShare - 0.2) < 1e-9);
  const resultsDir = tempDir('cpu-steal-allure');
  writeAllureCheckpoint({ resultsDir, summary: busy, markdown: '', json: '{}', charts: [], start: 0, stop: 1 });
  const result = readdirSync(resultsDir).find((f) => f.endsWith('-result.json'));
  const allure = JSON.parse(readFileSync(join(resultsDir, result ?? 'none'), 'utf8')) as { description: string };
  for (const text of [renderMarkdown(busy), renderConsole(busy), allure.description])
    assert.match(
      text,
      /⚠ The host took 20\.0 % of this run's CPU time .*1 of 2 tests lost 10\.0 % .*PERF_COMPARE_REF/s,
    );
});
