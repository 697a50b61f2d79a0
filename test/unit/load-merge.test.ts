/**
 * Artillery merges the latency histograms of several workers (local workers, or run-fargate
 * containers) as DDSketches. This checks with Artillery's own sketch and merge code that the
 * merged p50/p95/p99 equal the percentiles of all workers' raw samples together, within the
 * sketch's 1 % precision (load/merge-check.ts), also when the workers see very different
 * latencies; and that the check catches a wrong merge (averaging the workers' p95s).
 * A real multi-worker run shows the same: `LOAD_WORKERS=3 npm run load` (docs/load.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkMergedPercentiles } from '../../load/merge-check';
import { seededRandom, standardNormal } from '../../lib/verdict/stats';

interface Sketch {
  accept(v: number): void;
  merge(other: Sketch): void;
  getValueAtQuantile(q: number): number;
}
/* eslint-disable @typescript-eslint/no-require-imports -- Artillery's internals are CommonJS without types */
type SketchClass = new (opts: { relativeAccuracy: number }) => Sketch;
type Ssms = { summarizeHistogram(h: Sketch): Record<string, number> };
const { DDSketch } = require('@artilleryio/sketches-js') as { DDSketch: SketchClass };
const { SSMS } = (require('@artilleryio/int-core') as { ssms: { SSMS: Ssms } }).ssms;
/* eslint-enable @typescript-eslint/no-require-imports */

/** Round trips of one worker: log-normal around `medianMs`, as chat latencies are. */
function workerSamples(seed: number, n: number, medianMs: number): number[] {
  const rnd = seededRandom(seed);
  return Array.from({ length: n }, () => medianMs * Math.exp(0.35 * standardNormal(rnd)));
}

function merged(workers: number[][]): Record<string, number> {
  const total = new DDSketch({ relativeAccuracy: 0.01 }); // what Artillery's SSMS uses
  for (const samples of workers) {
    const sketch = new DDSketch({ relativeAccuracy: 0.01 });
    for (const v of samples) sketch.accept(v);
    total.merge(sketch);
  }
  return SSMS.summarizeHistogram(total);
}

void test('merged percentiles of 3 workers equal those of all samples within the sketch precision', () => {
  const workers = [workerSamples(1, 400, 1500), workerSamples(2, 250, 1700), workerSamples(3, 150, 2600)];
  const checks = checkMergedPercentiles(workers.flat(), merged(workers));
  assert.equal(checks.length, 3);
  for (const c of checks) {
    const error = (c.relativeError * 100).toFixed(2);
    const what = `p${c.quantile * 100}: merged ${c.merged} vs exact ${c.exact.toFixed(1)} (${error} %)`;
    assert.ok(c.withinPrecision, what);
    assert.ok(c.relativeError <= 0.0101);
  }
});

void test('the check catches a wrong merge: the mean of the workers’ p95s is not the p95', () => {
  const workers = [workerSamples(4, 500, 1000), workerSamples(5, 500, 4000)];
  const perWorker = workers.map((w) => merged([w]));
  const wrong = { p50: 0, p95: 0, p99: 0 };
  for (const k of ['p50', 'p95', 'p99'] as const) {
    wrong[k] = perWorker.reduce((n, s) => n + (s[k] ?? 0), 0) / perWorker.length;
  }
  const bad = checkMergedPercentiles(workers.flat(), wrong);
  assert.ok(
    bad.some((c) => !c.withinPrecision),
    'averaged percentiles must fail the check',
  );
  assert.ok(checkMergedPercentiles(workers.flat(), merged(workers)).every((c) => c.withinPrecision));
});

void test('no samples → no checks; a missing percentile is an error', () => {
  assert.deepEqual(checkMergedPercentiles([], { p50: 1, p95: 1, p99: 1 }), []);
  assert.throws(() => checkMergedPercentiles([1, 2, 3], { p50: 1 }), /no p95/);
});
