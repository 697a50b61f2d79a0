/**
 * The labelled retrieval set's questions asked in one search mode (relevance.spec.ts): one
 * recall@5 and one reciprocal-rank sample per question, and the mode's evidence (recall with its
 * interval, per question kind, the first misses).
 */
import type { MetricOptions, PerfRecorder, UserApi } from '../../fixtures';
import type { QuestionKind, RetrievalQuestion } from '../../data/retrieval-set';
import { meanCi95, RELEVANCE_TOP_K, scoreRanking, type RelevanceMode } from '../../lib/figures/relevance';
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

/** Asks every question in `mode`; a failed search is a failed sample of both metrics. */
export async function askQuestions(
  { perf, client, budget }: { perf: PerfRecorder; client: UserApi; budget: TimeBudget },
  mode: RelevanceMode,
  questions: readonly RetrievalQuestion[],
  { ids, contentOf }: StoredSet,
  opts: MetricOptions,
): Promise<ModeScores> {
  const scores: ModeScores = { recalls: [], byKind: new Map(), misses: [] };
  for (const q of questions) {
    const answerIds = q.answers.map((a) => ids[a] as number);
    try {
      budget.check(`relevance question ${q.id} (${mode})`);
      const res = await client.searchMemories(q.text, { mode, limit: RELEVANCE_TOP_K });
      const resultIds = res.results.map((r) => r.memory.id);
      const score = scoreRanking(resultIds, answerIds, RELEVANCE_TOP_K);
      perf.record('memory.recall_at_5', score.recall, opts);
      perf.record('memory.mrr', score.reciprocalRank, opts);
      scores.recalls.push(score.recall);
      scores.byKind.set(q.kind, [...(scores.byKind.get(q.kind) ?? []), score.recall]);
      if (score.firstRank === null && scores.misses.length < MISSES_SHOWN) {
        const first = resultIds[0] === undefined ? null : (contentOf.get(resultIds[0]) ?? null);
        scores.misses.push({ question: q.text, expected: contentOf.get(answerIds[0] as number) ?? '?', first });
      }
    } catch (err) {
      perf.recordError('memory.recall_at_5', err, opts);
      perf.recordError('memory.mrr', err, opts);
    }
  }
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
