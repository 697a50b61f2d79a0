import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRetrievalSet, RETRIEVAL_SET_MEMORIES, sampleQuestions } from '../../data/retrieval-set';
import { PROFILES } from '../../lib/run/profiles';
import { meanCi95, RELEVANCE_TOP_K, scoreRanking } from '../../lib/figures/relevance';
import { PERF_THRESHOLDS } from '../../perf.thresholds';

const close = (actual: number, expected: number, eps = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= eps, `expected ${expected}, got ${actual}`);

const set = buildRetrievalSet();

/** Lower-case word tokens (letters and digits), the unit the "no quoting" rule counts in. */
function words(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
}

/** The first run of `n` words the two texts share, or undefined (questions must not quote answers). */
function sharedRun(a: string, b: string, n = 4): string | undefined {
  const wb = words(b);
  const runs = new Set<string>();
  for (let i = 0; i + n <= wb.length; i++) runs.add(wb.slice(i, i + n).join(' '));
  const wa = words(a);
  for (let i = 0; i + n <= wa.length; i++) {
    const run = wa.slice(i, i + n).join(' ');
    if (runs.has(run)) return run;
  }
  return undefined;
}

void test('scoreRanking: recall@k and reciprocal rank against known values', () => {
  assert.deepEqual(scoreRanking([7, 3, 9], [7], 5), { recall: 1, reciprocalRank: 1, firstRank: 1 });
  assert.deepEqual(scoreRanking([1, 2, 3, 9], [9], 5), { recall: 1, reciprocalRank: 0.25, firstRank: 4 });
  // Two answers, one of them in the top k: half the recall; the rank is the first found.
  assert.deepEqual(scoreRanking([4, 5, 6], [6, 8], 5), { recall: 0.5, reciprocalRank: 1 / 3, firstRank: 3 });
  // Beyond k counts as not found.
  assert.deepEqual(scoreRanking([1, 2, 3, 4, 5, 6], [6], 5), { recall: 0, reciprocalRank: 0, firstRank: null });
  assert.deepEqual(scoreRanking([], [6], 5), { recall: 0, reciprocalRank: 0, firstRank: null });
  assert.throws(() => scoreRanking([1], [], 5), /at least one answer/);
  assert.throws(() => scoreRanking([1], [1], 0), /k must be a positive integer/);
});

void test('meanCi95: mean and normal-approximation interval, clipped to [0, 1]', () => {
  // Values 1,1,1,0: mean 0.75, s = 0.5, half-width 1.96·0.5/2 = 0.49.
  const ci = meanCi95([1, 1, 1, 0]);
  close(ci.mean, 0.75);
  close(ci.low, 0.26);
  close(ci.high, 1);
  assert.equal(meanCi95([1, 1]).low, 1);
  assert.ok(Number.isNaN(meanCi95([]).mean));
  assert.ok(Number.isNaN(meanCi95([0.5]).low));
});

void test('retrieval set: deterministic, and another seed gives another set', () => {
  assert.deepEqual(buildRetrievalSet(), set);
  const other = buildRetrievalSet(set.seed + 1);
  assert.notDeepEqual(
    other.memories.map((m) => m.content),
    set.memories.map((m) => m.content),
  );
});

void test('retrieval set: sizes, unique texts, speakers and dates in every memory', () => {
  assert.ok(set.memories.length >= RETRIEVAL_SET_MEMORIES, `${set.memories.length} memories`);
  assert.ok(set.memories.length >= 2_000);
  assert.ok(set.questions.length >= 200, `${set.questions.length} questions`);
  // The spec maps labels to ids by text: every text must be unique.
  assert.equal(new Set(set.memories.map((m) => m.content)).size, set.memories.length);
  set.memories.forEach((m, i) => {
    assert.equal(m.index, i);
    assert.ok(m.content.startsWith(`${m.speaker} (`), m.content);
    assert.match(m.content, /\(\w+day \d{1,2} \w+ 20\d\d, session \d+\): /);
  });
  const speakers = new Set(set.memories.map((m) => m.speaker));
  assert.ok(speakers.size >= 10, `${speakers.size} speakers`);
  assert.ok(new Set(set.memories.map((m) => m.session)).size >= 100, 'many sessions');
  assert.equal(new Set(set.questions.map((q) => q.id)).size, set.questions.length, 'question ids are unique');
});

void test('retrieval set: every label points at a real memory, and questions of every kind exist', () => {
  for (const q of set.questions) {
    assert.ok(q.answers.length >= 1, `${q.id} has an answer`);
    for (const a of q.answers) assert.ok(Number.isInteger(a) && a >= 0 && a < set.memories.length, `${q.id} → ${a}`);
  }
  const kinds = new Set(set.questions.map((q) => q.kind));
  assert.deepEqual([...kinds].sort(), ['date', 'relative', 'speaker', 'topic', 'who']);
  // Speaker questions name the answer's speaker; who-questions name nobody of the group.
  for (const q of set.questions.filter((x) => x.kind === 'speaker')) {
    const speaker = set.memories[q.answers[0] as number]?.speaker ?? '';
    assert.ok(words(q.text).includes(speaker.toLowerCase()), `${q.id} names ${speaker}: ${q.text}`);
  }
  const names = new Set(set.memories.map((m) => m.speaker.toLowerCase()));
  for (const q of set.questions.filter((x) => x.kind === 'who')) {
    assert.ok(!words(q.text).some((w) => names.has(w)), `${q.id} must not name a speaker: ${q.text}`);
  }
  // Relative questions point at turns that are as old as they say, relative to the reference date.
  for (const q of set.questions.filter((x) => x.kind === 'relative')) {
    const m = set.memories[q.answers[0] as number];
    assert.ok(m);
    const days = (Date.parse(set.referenceDate) - Date.parse(m.date)) / 86_400_000;
    if (q.text.includes('yesterday')) assert.equal(days, 1, q.text);
    else assert.ok(q.text.includes('last week') && days >= 7 && days <= 13, `${q.text}: ${days} days`);
  }
});

void test('retrieval set: no question quotes its answer (no shared run of 4 words)', () => {
  assert.equal(sharedRun('we went to the lake house on friday', 'I think we went to the lake'), 'we went to the');
  assert.equal(sharedRun('a b c', 'a b c'), undefined);
  for (const q of set.questions) {
    for (const a of q.answers) {
      const run = sharedRun(q.text, set.memories[a]?.content ?? '');
      assert.equal(run, undefined, `${q.id} "${q.text}" quotes "${run ?? ''}" of its answer`);
    }
  }
});

void test("sampleQuestions: exactly the profile's count, every kind kept, all when asked for more", () => {
  for (const p of Object.values(PROFILES)) {
    const sample = sampleQuestions(set, p.relevanceQuestions);
    assert.equal(sample.length, p.relevanceQuestions, `profile ${p.name}`);
    assert.equal(new Set(sample.map((q) => q.kind)).size, 5, `profile ${p.name} keeps every kind`);
  }
  assert.equal(sampleQuestions(set, 10_000).length, set.questions.length);
  assert.throws(() => sampleQuestions(set, 0), /positive integer/);
});

// ---------------------------------------------------------------- the limits, justified

/** The limit of a relevance check in perf.thresholds.ts. */
function limitOf(id: string): number {
  const check = PERF_THRESHOLDS.checks.find((c) => c.id === id);
  assert.ok(check, `check ${id} exists`);
  return check.limit;
}

const STOP_WORDS = new Set(
  (
    'a an and are as at be but by can did do does for from had has have her his i in is it its me my not ' +
    'of on or our s she so that the their them they this to us was we were what when where which who will with you your'
  ).split(' '),
);
const termsOf = (text: string) => words(text).filter((w) => !STOP_WORDS.has(w));

/** Textbook BM25 (k1 1.2, b 0.75, no stemming) over the set: what a decent lexical search reaches. */
function bm25Top(query: string, docs: readonly string[][], k: number): number[] {
  const df = new Map<string, number>();
  for (const d of docs) for (const w of new Set(d)) df.set(w, (df.get(w) ?? 0) + 1);
  const avg = docs.reduce((a, d) => a + d.length, 0) / docs.length;
  const qs = [...new Set(termsOf(query))];
  const scored = docs.map((d, i) => {
    let s = 0;
    for (const w of qs) {
      const tf = d.filter((x) => x === w).length;
      const n = df.get(w) ?? 0;
      const idf = Math.log(1 + (docs.length - n + 0.5) / (n + 0.5));
      if (tf > 0) s += idf * ((tf * 2.2) / (tf + 1.2 * (0.25 + (0.75 * d.length) / avg)));
    }
    return { i, s };
  });
  return scored
    .filter((x) => x.s > 0)
    .sort((a, b) => b.s - a.s || b.i - a.i)
    .slice(0, k)
    .map((x) => x.i);
}

/** The `unranked-search` fault's order: memories containing any query term, newest first. */
function newestFirstTop(query: string, docs: readonly string[][], k: number): number[] {
  const qs = new Set(termsOf(query));
  const out: number[] = [];
  for (let i = docs.length - 1; i >= 0 && out.length < k; i--) if (docs[i]?.some((w) => qs.has(w))) out.push(i);
  return out;
}

void test('limits: a decent lexical search (BM25) passes them on this set, newest-first fails them', () => {
  const docs = set.memories.map((m) => termsOf(m.content));
  const recallLimit = limitOf('memory.recall_at_5.mean');
  const mrrLimit = limitOf('memory.mrr.mean');
  const evaluate = (rank: (q: string) => number[]) => {
    const scores = set.questions.map((q) => scoreRanking(rank(q.text), q.answers, RELEVANCE_TOP_K));
    return { recall: meanCi95(scores.map((s) => s.recall)), mrr: meanCi95(scores.map((s) => s.reciprocalRank)) };
  };
  const bm25 = evaluate((q) => bm25Top(q, docs, RELEVANCE_TOP_K));
  // The limit must be reachable with room: even the low end of BM25's interval clears it.
  const shown = (v: { mean: number; low: number }) => `${v.mean.toFixed(3)} (low ${v.low.toFixed(3)})`;
  assert.ok(bm25.recall.low >= recallLimit, `BM25 recall@5 ${shown(bm25.recall)} vs limit ${recallLimit}`);
  assert.ok(bm25.mrr.low >= mrrLimit, `BM25 MRR ${shown(bm25.mrr)} vs limit ${mrrLimit}`);
  const newest = evaluate((q) => newestFirstTop(q, docs, RELEVANCE_TOP_K));
  // And it must bite: an unranked search is far below it, not near it.
  assert.ok(newest.recall.high < recallLimit, `newest-first recall@5 ${newest.recall.mean.toFixed(3)}`);
  assert.ok(newest.mrr.high < mrrLimit, `newest-first MRR ${newest.mrr.mean.toFixed(3)} vs limit ${mrrLimit}`);
});
