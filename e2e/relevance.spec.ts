/**
 * Checkpoint 7.4 §3 (memory retrieval and search verified), the "right, not only fast" half:
 * - one user holds the labelled retrieval set (fixtures/retrieval-set.ts): ~2,100 group-chat
 *   turns by 12 named speakers over a year of sessions, seeded through the `seed` fixture
 *   (tagged, cleaned up); its ~1,900 small-talk turns over the same names and places are the
 *   background noise every question has to rank past;
 * - every question of the profile is asked through the API search
 *   (`GET /api/memories/search?q&limit=5&mode=`) in each mode: ranked, fuzzy, auto;
 * - per question and mode, recall@5 and the reciprocal rank (lib/relevance.ts) are recorded as
 *   samples of `memory.recall_at_5` and `memory.mrr` (scenario = mode); the checks gate on their
 *   means (perf.thresholds.ts).
 * Not timed: memory-scaling.spec.ts measures search speed; this spec measures its answers.
 */
import { test, expect } from '../fixtures';
import { buildRetrievalSet, sampleQuestions, type QuestionKind } from '../fixtures/retrieval-set';
import type { MetricOptions } from '../fixtures';
import { meanCi95, RELEVANCE_MODES, RELEVANCE_TOP_K, scoreRanking } from '../lib/relevance';
import { timeBudget } from './helpers/budget';

/** Misses listed per mode in the evidence (question, expected turn, what came first instead). */
const MISSES_SHOWN = 5;

test(
  'relevance: recall at 5 and MRR of memory search on a labelled retrieval set, per mode',
  {
    tag: ['@memory', '@relevance', '@api'],
  },
  async ({ seed, db, api, perf }) => {
    const budget = timeBudget();
    const set = buildRetrievalSet();
    const questions = sampleQuestions(set, perf.profile.relevanceQuestions);

    const owner = await seed.user({ displayName: 'perf relevance' });
    const contents = set.memories.map((m) => m.content);
    await seed.memories(owner, contents.length, { contents });
    // Labels are set positions; the API answers with ids. Contents are unique (unit-tested).
    const rows = await db.query<{ id: number; content: string }>(
      'SELECT id, content FROM memories WHERE user_id = $1',
      [owner.user.id],
    );
    const idOf = new Map(rows.rows.map((r) => [r.content, Number(r.id)]));
    const ids = set.memories.map((m) => idOf.get(m.content));
    expect(
      ids.filter((id) => id === undefined),
      'every memory of the set is stored, with its exact text',
    ).toHaveLength(0);
    const contentOf = new Map(rows.rows.map((r) => [Number(r.id), r.content]));

    const client = api.as(owner);
    for (const mode of RELEVANCE_MODES) {
      const tags = {
        mode,
        top: RELEVANCE_TOP_K,
        questions: questions.length,
        memories: set.memories.length,
        setSeed: set.seed,
      };
      const opts: MetricOptions = { scenario: mode, tags };
      const recalls: number[] = [];
      const byKind = new Map<QuestionKind, number[]>();
      const misses: { question: string; expected: string; first: string | null }[] = [];
      for (const q of questions) {
        const answerIds = q.answers.map((a) => ids[a] as number);
        try {
          budget.check(`relevance question ${q.id} (${mode})`);
          const res = await client.searchMemories(q.text, { mode, limit: RELEVANCE_TOP_K });
          const resultIds = res.results.map((r) => r.memory.id);
          const score = scoreRanking(resultIds, answerIds, RELEVANCE_TOP_K);
          perf.record('memory.recall_at_5', score.recall, opts);
          perf.record('memory.mrr', score.reciprocalRank, opts);
          recalls.push(score.recall);
          byKind.set(q.kind, [...(byKind.get(q.kind) ?? []), score.recall]);
          if (score.firstRank === null && misses.length < MISSES_SHOWN) {
            const first = resultIds[0] === undefined ? null : (contentOf.get(resultIds[0]) ?? null);
            misses.push({ question: q.text, expected: contentOf.get(answerIds[0] as number) ?? '?', first });
          }
        } catch (err) {
          perf.recordError('memory.recall_at_5', err, opts);
          perf.recordError('memory.mrr', err, opts);
        }
      }
      const ci = meanCi95(recalls);
      const kinds = [...byKind.entries()]
        .map(([kind, v]) => `${kind} ${meanCi95(v).mean.toFixed(2)} (n=${v.length})`)
        .join(', ');
      perf.evidence(
        `memory.relevance_${mode}`,
        `${mode}: recall@${RELEVANCE_TOP_K} ${ci.mean.toFixed(3)} ` +
          `(95 % CI ${ci.low.toFixed(3)}–${ci.high.toFixed(3)}, n=${ci.n}) over ${set.memories.length} memories; ` +
          `by kind: ${kinds}`,
        { byKind: Object.fromEntries([...byKind.entries()].map(([k, v]) => [k, meanCi95(v)])), misses },
        { scenario: mode },
      );
    }
  },
);
