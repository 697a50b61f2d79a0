/**
 * Token counting cannot stall the event loop: a message of 30,000 repeated characters used to
 * take ≈ 45 s to count (quadratic BPE), blocking the whole app; ordinary text counts as before.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeBounded, hasLongRun } from '../agents/bounded-encode';
import { getEncoding } from 'js-tiktoken';
import { createRng } from '../model-sim/random';
import { countTokens as simCount } from '../model-sim/tokens';
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

void test('hasLongRun finds exactly the runs of more than 200 non-space characters that \\S{201,} does', () => {
  const spaces = [
    ' ',
    '\t',
    '\n',
    '\v',
    '\f',
    '\r',
    '\u00a0',
    '\u1680',
    '\u2000',
    '\u200a',
    '\u2028',
    '\u2029',
    '\u202f',
    '\u205f',
    '\u3000',
    '\ufeff',
  ];
  const others = ['a', 'Z', '😀', 'é', '\u200b', '\u0085', '-', '\u180e'];
  const regex = /\S{201,}/;
  const rng = createRng(7);
  for (let i = 0; i < 2_000; i++) {
    // Runs of 150–250 code units, broken by one whitespace character of any kind.
    let text = '';
    const parts = rng.int(1, 3);
    for (let p = 0; p < parts; p++) {
      const run = rng.int(150, 250);
      while (text.length < run * (p + 1)) text += rng.pick(others);
      text += rng.pick(spaces);
    }
    assert.equal(hasLongRun(text), regex.test(text), JSON.stringify(text.slice(0, 20)));
  }
  for (const t of [
    '',
    'x'.repeat(200),
    'x'.repeat(201),
    `${'x'.repeat(200)}\u3000${'x'.repeat(200)}`,
    '😀'.repeat(101),
  ])
    assert.equal(hasLongRun(t), regex.test(t), `length ${t.length}`);
});

void test('the spelling of a special token counts as text, in the app and in the simulator', () => {
  const text = 'what does <|endoftext|> or <|endofprompt|> mean?';
  const reference = getEncoding('o200k_base').encode(text, [], []).length;
  assert.equal(countTokens(text), reference);
  assert.equal(simCount(text, 'o200k_base'), reference);
  assert.equal(simCount(text, 'cl100k_base'), getEncoding('cl100k_base').encode(text, [], []).length);
});
