/**
 * The `extra-token` fault: compare mode's "+1 token per message" must be exactly one token, as
 * the model simulator bills it and as the app budgets it, in both encodings, and nothing else in
 * the prompt may move.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConversationPrompt, conversationInstructions } from '../agents/conversation';
import { planBudget } from '../agents/budget';
import { countTokens } from '../agents/tokens';
import { getEncoder } from '../model-sim/tokens';

void test('extra-token: the instructions are one token longer in both encodings', () => {
  const plain = conversationInstructions(false);
  const plusOne = conversationInstructions(true);
  assert.notEqual(plain, plusOne);
  for (const encoding of ['o200k_base', 'cl100k_base'] as const) {
    const enc = getEncoder(encoding);
    assert.equal(enc.encode(plusOne).length - enc.encode(plain).length, 1, encoding);
  }
  assert.equal(countTokens(plusOne) - countTokens(plain), 1);
});

void test('extra-token: the prompt differs only in its instructions, trimmed or not', () => {
  const args = {
    slice: planBudget(5000, false).conversation,
    userText: 'What is my sister allergic to?',
    summary: 'We talked about dinner plans.',
    memories: [{ id: 1, content: 'My sister is allergic to peanuts', importance: 0.9, score: 1 }],
    history: [{ id: 2, role: 'user' as const, content: 'Hello there' }],
  };
  for (const trim of [true, false]) {
    const plain = buildConversationPrompt({ ...args, trim });
    const plusOne = buildConversationPrompt({ ...args, trim, extraToken: true });
    assert.equal(plusOne.messages.length, plain.messages.length);
    assert.deepEqual(plusOne.messages.slice(1), plain.messages.slice(1));
    const systemTokens = (p: typeof plain) => getEncoder('o200k_base').encode(p.messages[0]?.content ?? '').length;
    assert.equal(systemTokens(plusOne) - systemTokens(plain), 1, `trim ${trim}`);
    assert.equal(plusOne.estimatedTokens - plain.estimatedTokens, 1, `trim ${trim}`);
  }
});
