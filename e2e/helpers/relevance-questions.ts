/**
 * The labelled retrieval set's questions asked in one search mode (relevance.spec.ts): one
 * recall@5 and one reciprocal-rank sample per question, and the mode's evidence (recall with its
 * interval, per question kind, the first misses).
 */
import type { MetricOptions, PerfRecorder, UserApi } from '../../fixtures';
import type { QuestionKind, RetrievalQuestion } from '../../data/retrieval-set';
import { meanCi95, RELEVANCE_TOP_K, scoreRanking, type RelevanceMode } from '../../lib/figures/relevance';
import { runInLanes } from '../../lib/run/lanes';
import type { TimeBudget } from './budget';

/** Misses listed per mode in the evidence (question, expected turn, what came first instead). */
const MISSES_SHOWN = 5;

/** The set as stored: the memory id at each set position (labels are positions), the text of each id. */
export interface StoredSet {
  ids: (number | undefined)[];
  contentOf: Map<number, string>;
}

export interface ModeScores {
  recalls: number[];
  byKind: Map<QuestionKind, number[]>;
  misses: { question: string; expected: string; first: string | null }[];
}

/**
 * Searches in flight at once: relevance is scored, not timed, so the questions need not wait for
 * each other (264 one after the other took 1–2 s per mode on 2 cores).
 */
const SEARCH_CONCURRENCY = 4;

/**
 * Asks every question in `mode`; a failed search is a failed sample of both metrics. Searches run
 * SEARCH_CONCURRENCY at a time; they are scored in question order, so the samples and the misses
 * listed are the same as one after the other.
 */
export async function askQuestions(
  { perf, client, budget }: { perf: PerfRecorder; client: UserApi; budget: TimeBudget },
  mode: RelevanceMode,
  questions: readonly RetrievalQuestion[],
  { ids, contentOf }: StoredSet,
  opts: MetricOptions,
): Promise<ModeScores> {
  const scores: ModeScores = { recalls: [], byKind: new Map(), misses: [] };
  const searches = await runInLanes(questions.length, SEARCH_CONCURRENCY, async (i) => {
    const q = questions[i] as RetrievalQuestion;
    budget.check(`relevance question ${q.id} (${mode})`);
    const res = await client.searchMemories(q.text, { mode, limit: RELEVANCE_TOP_K });
    return res.results.map((r) => r.memory.id);
  });
  questions.forEach((q, i) => {
    const search = searches[i] as PromiseSettledResult<number[]>;
    if (search.status === 'rejected') {
      perf.recordError('memory.recall_at_5', search.reason, opts);
      perf.recordError('memory.mrr', search.reason, opts);
      return;
    }
    const resultIds = search.value;
    const answerIds = q.answers.map((a) => ids[a] as number);
    const score = scoreRanking(resultIds, answerIds, RELEVANCE_TOP_K);
    perf.record('memory.recall_at_5', score.recall, opts);
    perf.record('memory.mrr', score.reciprocalRank, opts);
    scores.recalls.push(score.recall);
    scores.byKind.set(q.kind, [...(scores.byKind.get(q.kind) ?? []), score.recall]);
    if (score.firstRank === null && scores.misses.length < MISSES_SHOWN) {
      const first = resultIds[0] === undefined ? null : (contentOf.get(resultIds[0]) ?? null);
      scores.misses.push({ question: q.text, expected: contentOf.get(answerIds[0] as number) ?? '?', first });
    }
  });
  return scores;
}

/** Evidence `memory.relevance_<mode>`: recall@k with its 95 % interval, by question kind, the first misses. */
export function recordModeEvidence(
  perf: PerfRecorder,
  mode: RelevanceMode,
  scores: ModeScores,
  memories: number,
): void {
  const ci = meanCi95(scores.recalls);
  const byKind = [...scores.byKind.entries()];
  const kinds = byKind.map(([kind, v]) => `${kind} ${meanCi95(v).mean.toFixed(2)} (n=${v.length})`).join(', ');
  perf.evidence(
    `memory.relevance_${mode}`,
    `${mode}: recall@${RELEVANCE_TOP_K} ${ci.mean.toFixed(3)} ` +
      `(95 % CI ${ci.low.toFixed(3)}–${ci.high.toFixed(3)}, n=${ci.n}) over ${memories} memories; ` +
      `by kind: ${kinds}`,
    { byKind: Object.fromEntries(byKind.map(([k, v]) => [k, meanCi95(v)])), misses: scores.misses },
    { scenario: mode },
  );
}
