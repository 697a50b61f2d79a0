/**
 * Retrieval quality of one ranked answer list against its labels, and the run's figures:
 *  - recall@k: the share of a question's answering memories among the first k results
 *    (1 or 0 for a question with one answer);
 *  - reciprocal rank: 1 / (1-based rank of the first answering memory among the first k), 0 when
 *    none is; its mean over the questions is the MRR (mean reciprocal rank, here MRR@k).
 * Specs record one sample of each per question, so the reports have n, the mean (the figure the
 * check gates on) and {@link meanCi95}.
 */

export interface QuestionScore {
  recall: number;
  reciprocalRank: number;
  /** 1-based rank of the first answer within the first k results; null when none is there. */
  firstRank: number | null;
}

/** Scores one result list (ids in rank order) against the set of answer ids, looking at the first `k`. */
export function scoreRanking(resultIds: readonly number[], answerIds: readonly number[], k: number): QuestionScore {
  if (answerIds.length === 0) {
    throw new Error("scoreRanking: a question needs at least one answer id (check the set's labels)");
  }
  if (!Number.isInteger(k) || k < 1) throw new Error(`scoreRanking: k must be a positive integer, got ${k}`);
  const answers = new Set(answerIds);
  const top = resultIds.slice(0, k);
  const found = new Set(top.filter((id) => answers.has(id)));
  const first = top.findIndex((id) => answers.has(id));
  return {
    recall: found.size / answers.size,
    reciprocalRank: first < 0 ? 0 : 1 / (first + 1),
    firstRank: first < 0 ? null : first + 1,
  };
}

export interface MeanCi {
  n: number;
  mean: number;
  /** 95 % interval of the mean (normal approximation, clipped to [0, 1]); NaN for n < 2. */
  low: number;
  high: number;
}

/**
 * Mean of per-question values in [0, 1] and its 95 % confidence interval from the normal
 * approximation (mean ± 1.96·s/√n): with a few hundred questions the sample mean is close to
 * normal, and the interval says how much the figure could move with another set of questions.
 */
export function meanCi95(values: readonly number[]): MeanCi {
  const n = values.length;
  if (n === 0) return { n, mean: Number.NaN, low: Number.NaN, high: Number.NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { n, mean, low: Number.NaN, high: Number.NaN };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  const half = 1.96 * Math.sqrt(variance / n);
  return { n, mean, low: Math.max(0, mean - half), high: Math.min(1, mean + half) };
}

/** The relevance metrics: recall@5 and MRR, one sample per question, scenario = search mode. */
export const RELEVANCE_METRICS = { recall: 'memory.recall_at_5', mrr: 'memory.mrr' } as const;
export const RELEVANCE_METRIC_NAMES: readonly string[] = Object.values(RELEVANCE_METRICS);

/** The search modes the relevance spec asks in (GET /api/memories/search?mode=). */
export const RELEVANCE_MODES = ['ranked', 'fuzzy', 'auto'] as const;
export type RelevanceMode = (typeof RELEVANCE_MODES)[number];
/** Results per question: the "top 5" of recall@5 and MRR@5. */
export const RELEVANCE_TOP_K = 5;

/** What a report shows per search mode: both figures with their intervals, and whether their checks passed. */
export interface RelevanceRow {
  mode: string;
  recall: MeanCi;
  mrr: MeanCi;
  /** The gating checks of both metrics passed (undefined when none gated them). */
  passed: boolean | undefined;
  /** Limits of the gating checks, e.g. { recall: 0.9, mrr: 0.8 }. */
  limits: { recall?: number; mrr?: number };
}

interface SampledMetric {
  name: string;
  scenario: string;
  samples: readonly number[];
}
interface GatingCheck {
  metric: string;
  scenario: string;
  statistic: string;
  limit: number;
  passed: boolean;
  status: string;
}

/** One row per mode present in the metrics, in RELEVANCE_MODES order first; [] when none were measured. */
export function relevanceRows(metrics: readonly SampledMetric[], checks: readonly GatingCheck[]): RelevanceRow[] {
  const modes = [...new Set(metrics.filter((m) => RELEVANCE_METRIC_NAMES.includes(m.name)).map((m) => m.scenario))];
  const known: readonly string[] = RELEVANCE_MODES;
  const position = (mode: string) => (known.includes(mode) ? known.indexOf(mode) : known.length);
  modes.sort((a, b) => position(a) - position(b) || a.localeCompare(b));
  const samplesOf = (name: string, mode: string) =>
    metrics.find((m) => m.name === name && m.scenario === mode)?.samples ?? [];
  return modes.map((mode) => {
    const gating = checks.filter(
      (k) =>
        RELEVANCE_METRIC_NAMES.includes(k.metric) &&
        k.scenario === mode &&
        k.statistic === 'mean' &&
        k.status !== 'skipped',
    );
    const limitOf = (name: string) => gating.find((k) => k.metric === name)?.limit;
    const recallLimit = limitOf(RELEVANCE_METRICS.recall);
    const mrrLimit = limitOf(RELEVANCE_METRICS.mrr);
    return {
      mode,
      recall: meanCi95(samplesOf(RELEVANCE_METRICS.recall, mode)),
      mrr: meanCi95(samplesOf(RELEVANCE_METRICS.mrr, mode)),
      passed: gating.length === 0 ? undefined : gating.every((k) => k.passed),
      limits: {
        ...(recallLimit !== undefined ? { recall: recallLimit } : {}),
        ...(mrrLimit !== undefined ? { mrr: mrrLimit } : {}),
      },
    };
  });
}

/** "0.958 (0.934–0.982)": a mean with its 95 % interval, or "—". */
export function formatMeanCi(v: MeanCi): string {
  if (v.n === 0 || !Number.isFinite(v.mean)) return '—';
  if (!Number.isFinite(v.low)) return v.mean.toFixed(3);
  return `${v.mean.toFixed(3)} (${v.low.toFixed(3)}–${v.high.toFixed(3)})`;
}
