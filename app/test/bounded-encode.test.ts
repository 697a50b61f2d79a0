/**
 * Token counting cannot stall the event loop: a message of 30,000 repeated characters used to
 * take ≈ 45 s to count (quadratic BPE), blocking the whole app; ordinary text counts as before.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeBounded } from '../agents/bounded-encode';
import { countTokens, tokenizer } from '../agents/tokens';

void test('ordinary text (words, URLs, emoji, 200-char runs) encodes as the plain tokenizer does', () => {
  const texts = [
    'The quick brown fox 😀 jumps; https://example.com/a/b?c=d&e=f',
    'word '.repeat(500),
    `${'a'.repeat(200)} ${'b'.repeat(200)}`,
    'ünïcødé\n\tlines\r\n',
  ];
  for (const t of texts) assert.deepEqual(encodeBounded(tokenizer(), t), tokenizer().encode(t), t.slice(0, 40));
});

void test('a 30,000-character run counts in well under a second and decodes back to itself', () => {
  for (const text of ['x'.repeat(30_000), '😀'.repeat(15_000), `start ${'ab'.repeat(15_000)} end`]) {
    const start = performance.now();
    const ids = encodeBounded(tokenizer(), text);
    const ms = performance.now() - start;
    assert.ok(ms < 1_000, `${Math.round(ms)} ms for ${text.slice(0, 10)}…`);
    assert.equal(tokenizer().decode(ids), text);
    assert.equal(countTokens(text), ids.length);
  }
});
