/**
 * The event-loop probe (app/server/event-loop.ts, contract/event-loop.ts): a blocked loop shows as
 * delay and utilization in that window only, and each read starts a new window.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEventLoopReport } from '../../contract';
import { startEventLoopProbe } from '../server/event-loop';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function blockFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy: the loop cannot run its timers
  }
}

void test('a blocked loop is late in its window, and the next window starts afresh', async () => {
  const probe = startEventLoopProbe();
  try {
    await sleep(50);
    probe.read(); // drop the start
    await sleep(30);
    blockFor(120);
    await sleep(30);
    const blocked = probe.read();
    assert.ok(blocked.delayMaxMs >= 80, `a 120 ms block shows as delay, got max ${blocked.delayMaxMs} ms`);
    assert.ok(blocked.utilization >= 0.4, `busy most of the window, got ${blocked.utilization}`);
    assert.ok(blocked.windowMs >= 170, `window ${blocked.windowMs} ms`);
    await sleep(200);
    const calm = probe.read();
    assert.ok(calm.delayMaxMs < blocked.delayMaxMs, 'the block does not carry over into the next window');
    assert.ok(calm.utilization < blocked.utilization);
    assert.ok(calm.samples > 0);
    // What the app sends is what the suite parses.
    const parsed = parseEventLoopReport(JSON.parse(JSON.stringify({ app: calm, modelSimulator: null })));
    assert.deepEqual(parsed, { app: calm, modelSimulator: null });
  } finally {
    probe.stop();
  }
});
