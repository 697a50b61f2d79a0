import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isHighSteal, parseProcStat, readCpuTicks, ticksBetween } from '../../lib/run/cpu-steal';
import { evaluateCheckpoint, hostSteal } from '../../lib/verdict/checkpoint';
import { buildSummary, hostWarning, renderConsole, renderMarkdown, type PerfSummary } from '../../lib/report/summary';
import { writeAllureCheckpoint } from '../../lib/report/allure';
import { PERF_THRESHOLDS } from '../../perf.thresholds';
import { syntheticRun } from '../fixtures-reporter/synthetic';
import { tempDir } from '../support/temp-dir';

const PROC_STAT = ['cpu  100 5 50 800 10 2 3 30 7 0', 'cpu0 50 2 25 400 5 1 1 15 3 0', 'intr 12345'].join('\n');

void test('/proc/stat: wanted time is busy + steal (idle, iowait and guest left out), and steal', () => {
  assert.deepEqual(parseProcStat(PROC_STAT), { wanted: 100 + 5 + 50 + 2 + 3 + 30, steal: 30, idle: 800 + 10 });
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
  const at = (wanted: number, steal: number, idle = 0) => ({ wanted, steal, idle });
  assert.deepEqual(ticksBetween(at(1000, 10, 50), at(1400, 70, 80)), at(400, 60, 30));
  assert.equal(ticksBetween(undefined, at(1, 0)), undefined);
  assert.equal(ticksBetween(at(1000, 10), at(1000, 10)), undefined, 'no work done');
  assert.equal(ticksBetween(at(1000, 90), at(1400, 10)), undefined, 'counter reset');
  assert.equal(ticksBetween(at(1000, 10, 90), at(1400, 10, 10)), undefined, 'idle counter reset');
});

void test('isHighSteal: decided on the share as printed, so "10.0 %" always warns', () => {
  assert.equal(isHighSteal(0.0996), true);
  assert.equal(isHighSteal(0.0994), false);
  assert.equal(isHighSteal(0.3), true);
});

/** A synthetic run whose first tests recorded `steal` ticks of `wanted` each. */
function runWithSteal(readings: { wanted: number; steal: number }[]) {
  return syntheticRun().map((doc, i) => {
    const r = readings[i];
    return r ? { ...doc, host: { wantedTicks: r.wanted, stealTicks: r.steal } } : doc;
  });
}

void test('hostSteal: steal over wanted time of every reading; tests judged alone from 100 ticks on', () => {
  const host = hostSteal(
    runWithSteal([
      { wanted: 1000, steal: 50 },
      { wanted: 1000, steal: 250 },
      { wanted: 50, steal: 25 }, // half of a short test: too coarse to call it a busy test
    ]),
  );
  assert.ok(host);
  assert.ok(Math.abs(host.stealShare - 325 / 2050) < 1e-9);
  assert.equal(host.tests, 2);
  assert.equal(host.testsHigh, 1);
  assert.equal(hostSteal(syntheticRun()), undefined, 'no readings: nothing to say');
});

void test('reports: steal beside the verdict, and a warning from 10 % on that leaves the verdict alone', () => {
  const summary = (readings: { wanted: number; steal: number }[]) =>
    buildSummary(evaluateCheckpoint({ thresholds: PERF_THRESHOLDS, docs: runWithSteal(readings), env: {} }), {
      startedAt: new Date('2026-01-01T00:00:00Z'),
      durationMs: 1000,
    });
  const quiet = summary([
    { wanted: 1000, steal: 20 },
    { wanted: 1000, steal: 10 },
  ]);
  assert.equal(quiet.verdict, 'pass');
  assert.match(renderMarkdown(quiet), /CPU steal 1\.5 %/);
  assert.doesNotMatch(renderMarkdown(quiet) + renderConsole(quiet), /withheld/);

  const busy = summary([
    { wanted: 1000, steal: 350 },
    { wanted: 1000, steal: 50 },
  ]);
  assert.equal(busy.verdict, 'pass', 'steal is shown, never gated');
  assert.ok(busy.host && Math.abs(busy.host.stealShare - 0.2) < 1e-9);
  const resultsDir = tempDir('cpu-steal-allure');
  writeAllureCheckpoint({ resultsDir, summary: busy, markdown: '', json: '{}', charts: [], start: 0, stop: 1 });
  const result = readdirSync(resultsDir).find((f) => f.endsWith('-result.json'));
  const allure = JSON.parse(readFileSync(join(resultsDir, result ?? 'none'), 'utf8')) as { description: string };
  for (const text of [renderMarkdown(busy), renderConsole(busy), allure.description])
    assert.match(text, /⚠ The host withheld 20\.0 % of the CPU time .*1 of 2 tests lost 10\.0 % .*PERF_COMPARE_REF/s);
});

void test('hostWarning in compare mode: steal is noise on both arms, not a reason to use compare mode', () => {
  const host = { stealShare: 0.2, tests: 2, testsHigh: 1 };
  assert.match(hostWarning({ host }) ?? '', /use compare mode|PERF_COMPARE_REF/);
  const inCompare = hostWarning({ host, comparison: {} as PerfSummary['comparison'] }) ?? '';
  assert.match(inCompare, /adds noise to both/);
  assert.doesNotMatch(inCompare, /PERF_COMPARE_REF/);
  assert.equal(hostWarning({ host: { ...host, stealShare: 0.05 } }), undefined);
});
