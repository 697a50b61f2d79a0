/**
 * Checkpoint 7.4 §3 (memory retrieval and search verified), the "right, not only fast" half:
 * - one user holds the labelled retrieval set (data/retrieval-set.ts): ~2,100 group-chat
 *   turns by 12 named speakers over a year of sessions, seeded through the `seed` fixture
 *   (tagged, cleaned up); its ~1,900 small-talk turns over the same names and places are the
 *   background noise every question has to rank past;
 * - every question of the profile is asked through the API search
 *   (`GET /api/memories/search?q&limit=5&mode=`) in each mode: ranked, fuzzy, auto;
 * - per question and mode, recall@5 and the reciprocal rank (lib/figures/relevance.ts) are recorded as
 *   samples of `memory.recall_at_5` and `memory.mrr` (scenario = mode); the checks gate on their
 *   means (perf.thresholds.ts).
 * Not timed: memory-scaling.spec.ts measures search speed; this spec measures its answers.
 */
import { test, expect } from '../fixtures';
import { buildRetrievalSet, sampleQuestions } from '../data/retrieval-set';
import type { MetricOptions } from '../fixtures';
import { RELEVANCE_MODES, RELEVANCE_TOP_K } from '../lib/figures/relevance';
import { timeBudget } from './helpers/budget';
import { askQuestions, recordModeEvidence } from './helpers/relevance-questions';

test(
  'relevance: recall at 5 and MRR of memory search on a labelled retrieval set, per mode',
  { tag: ['@memory', '@relevance', '@api'] },
  async ({ seed, db, api, perf }) => {
    const budget = timeBudget();
    const set = buildRetrievalSet();
    const questions = sampleQuestions(set, perf.profile.relevanceQuestions);

    const { client, stored } = await test.step('seed the set: every memory stored with its exact text', async () => {
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
      return { client: api.as(owner), stored: { ids, contentOf } };
    });

    for (const mode of RELEVANCE_MODES) {
      await test.step(`${mode} search: recall@${RELEVANCE_TOP_K} and reciprocal rank of every question`, async () => {
        const tags = {
          mode,
          top: RELEVANCE_TOP_K,
          questions: questions.length,
          memories: set.memories.length,
          setSeed: set.seed,
        };
        const opts: MetricOptions = { scenario: mode, tags };
        const scores = await askQuestions({ perf, client, budget }, mode, questions, stored, opts);
        recordModeEvidence(perf, mode, scores, set.memories.length);
      });
    }
  },
);
