/**
 * Paced chats must never wait forever: a chat that fails before it streams (here: the test's time
 * budget is spent) still hands the turn on, so the samples after it fail fast instead of hanging
 * the test until its timeout. Overlapping chats start one start gap apart at the most, and the
 * gap widens with the app overhead seen.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatPacer, GAP_PER_APP_OVERHEAD, MIN_START_GAP_MS } from '../../e2e/helpers/pacing';
import { chatOverApi } from '../../e2e/helpers/stream';
import { SampleFailure } from '../../e2e/helpers/failures';
import type { TimeBudget } from '../../e2e/helpers/budget';

const spentBudget: TimeBudget = {
  remainingMs: () => 0,
  check(what: string) {
    throw new SampleFailure('time_budget', `${what} not run: budget spent`);
  },
  requestTimeoutMs: () => 1_000,
};

void test('chatOverApi with a spent budget rejects instead of throwing, so `.finally` runs', async () => {
  let streamed = false;
  const client = {
    streamMessage: (): never => {
      streamed = true;
      throw new Error('must not be called');
    },
  };
  const pending = chatOverApi(client, 1, 'hello', spentBudget);
  assert.ok(pending instanceof Promise, 'a promise, not a synchronous throw');
  await assert.rejects(pending, (err: unknown) => err instanceof SampleFailure && err.code === 'time_budget');
  assert.equal(streamed, false);
});

void test('paced chats after a spent budget all end (no turn is left held)', async () => {
  const pacer = new ChatPacer();
  const client = {
    streamMessage: (): never => {
      throw new Error('must not be called');
    },
  };
  const codes = await Promise.all(
    Array.from({ length: 5 }, async () => {
      const release = await pacer.turn({ overlap: false });
      return chatOverApi(client, 1, 'hello', spentBudget)
        .finally(release)
        .then(
          () => 'ok',
          (err: unknown) => (err instanceof SampleFailure ? err.code : 'other'),
        );
    }),
  );
  assert.deepEqual(codes, Array(5).fill('time_budget'));
});

// The timeout: without the gap, the second turn would wait forever.
void test(
  "overlapping chats: the next starts at its predecessor's release or after the start gap",
  { timeout: 5_000 },
  async () => {
    const pacer = new ChatPacer();
    const t0 = performance.now();
    await pacer.turn({ overlap: true }); // never released by its chat: the gap must hand the turn on
    const released = await pacer.turn({ overlap: true });
    const waited = performance.now() - t0;
    assert.ok(waited >= MIN_START_GAP_MS - 5, `the second chat started after ${waited} ms, before the gap`);
    // Its first token: the third starts at once, before any timer could fire (microtasks only).
    released();
    const third = pacer.turn({ overlap: true }).then(() => 'turn');
    const later = new Promise((resolve) => setImmediate(() => resolve('a macrotask later')));
    assert.equal(await Promise.race([third, later]), 'turn');
  },
);

void test('the start gap is at least the minimum and grows with the longest app overhead seen', () => {
  const pacer = new ChatPacer();
  assert.equal(pacer.startGapMs(), MIN_START_GAP_MS);
  pacer.noteAppOverhead(10);
  pacer.noteAppOverhead(Number.NaN);
  assert.equal(pacer.startGapMs(), MIN_START_GAP_MS);
  pacer.noteAppOverhead(60);
  pacer.noteAppOverhead(30);
  assert.equal(pacer.startGapMs(), 60 * GAP_PER_APP_OVERHEAD);
});

void test('without overlap nothing but the release hands the turn on', async () => {
  const pacer = new ChatPacer();
  const first = await pacer.turn({ overlap: false });
  let second = false;
  const next = pacer.turn({ overlap: false }).then(() => {
    second = true;
  });
  await new Promise((r) => setTimeout(r, MIN_START_GAP_MS + 30));
  assert.equal(second, false);
  first();
  await next;
  assert.equal(second, true);
});
