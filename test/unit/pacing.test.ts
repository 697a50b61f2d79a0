/**
 * Paced chats must never wait forever: a chat that fails before it streams (here: the test's time
 * budget is spent) still hands the turn on, so the samples after it fail fast instead of hanging
 * the test until its timeout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FirstTokenPacer } from '../../e2e/helpers/pacing';
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
  const pacer = new FirstTokenPacer();
  const client = {
    streamMessage: (): never => {
      throw new Error('must not be called');
    },
  };
  const codes = await Promise.all(
    Array.from({ length: 5 }, async () => {
      const release = await pacer.turn();
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
