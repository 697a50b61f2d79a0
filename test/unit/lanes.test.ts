/** The one lane pool: results in index order, never more than `concurrency` in flight, stop on failure. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fulfilled, rejected, runInLanes, throwFirstFailure } from '../../lib/run/lanes';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

void test('every index runs once, results in index order, at most `concurrency` in flight', async () => {
  let inFlight = 0;
  let peak = 0;
  const results = await runInLanes(7, 3, async (i) => {
    peak = Math.max(peak, ++inFlight);
    await tick(7 - i);
    inFlight--;
    return i * 10;
  });
  assert.deepEqual(fulfilled(results), [0, 10, 20, 30, 40, 50, 60]);
  assert.equal(peak, 3);
});

void test('a failure never hides the others; with stopOnFailure no new index starts after it', async () => {
  const all = await runInLanes(4, 1, async (i) => {
    await tick(1);
    if (i === 1) throw new Error('one');
    return i;
  });
  assert.deepEqual(fulfilled(all), [0, 2, 3]);
  assert.equal(rejected(all).length, 1);
  const started: number[] = [];
  const stopped = await runInLanes(
    4,
    1,
    async (i) => {
      started.push(i);
      await tick(1);
      if (i === 1) throw new Error('stop here');
      return i;
    },
    { stopOnFailure: true },
  );
  assert.deepEqual(started, [0, 1]);
  assert.throws(() => throwFirstFailure(stopped), /stop here/);
});
