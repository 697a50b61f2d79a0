/**
 * The chat reads the history once, with room for the summarizer's input: what it takes from that
 * read must equal what the second read (`repo.historyBetween`) returns.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alreadyRead } from '../agents/chat';
import type { HistoryMessage } from '../db/repo';
import { createRng } from '../model-sim/random';

/** repo.historyBetween over an in-memory session: complete messages in (after, before), newest first. */
function between(all: readonly HistoryMessage[], after: number, before: number, limit: number): HistoryMessage[] {
  return all
    .filter((m) => m.id > after && m.id < before)
    .reverse()
    .slice(0, limit);
}

void test('the summarizer input taken from the first history read equals the second read', () => {
  // Seeded, so a failure can be replayed.
  const rng = createRng(7);
  const rnd = (): number => rng.next();
  const window = 60;
  const batch = 40;
  const readLimit = window + batch;
  let reused = 0;
  for (let run = 0; run < 2_000; run++) {
    // Complete messages of one session, oldest first, with gaps (other sessions, failed replies).
    const all: HistoryMessage[] = [];
    let id = 1;
    const count = Math.floor(rnd() * 250);
    for (let i = 0; i < count; i++) {
      id += 1 + Math.floor(rnd() * 3);
      all.push({ id, role: i % 2 ? 'assistant' : 'user', content: `m${id}` });
    }
    const loaded = [...all].reverse().slice(0, readLimit);
    // The oldest message in the prompt is one of the window's (or none: the new message's id).
    const inPrompt = Math.floor(rnd() * Math.min(window, loaded.length + 1));
    const before = loaded[inPrompt - 1]?.id ?? id + 1;
    const after = rnd() < 0.3 ? 0 : Math.floor(rnd() * (id + 2));
    const expected = between(all, after, before, batch);
    const got = alreadyRead(loaded, readLimit, after, before, batch);
    assert.ok(got, `run ${run}: a prompt within the window always finds its input in the first read`);
    assert.deepEqual(got, expected, `run ${run}`);
    reused += 1;
  }
  assert.equal(reused, 2_000);
});

void test('a read that may have stopped short says so instead of guessing', () => {
  const all: HistoryMessage[] = Array.from({ length: 200 }, (_, i) => ({ id: i + 1, role: 'user', content: '' }));
  const loaded = [...all].reverse().slice(0, 10);
  // Only 10 read (of 200); the prompt keeps all 10; the summarizer wants 5 older ones: not read.
  assert.equal(alreadyRead(loaded, 10, 0, loaded[9]!.id, 5), undefined);
  // Those older than the summary are not wanted: nothing is missing.
  assert.deepEqual(alreadyRead(loaded, 10, 195, loaded[3]!.id, 5), between(all, 195, loaded[3]!.id, 5));
});
