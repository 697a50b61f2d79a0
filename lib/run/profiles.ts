/**
 * Run profiles: how many samples and how large the data, per `PERF_PROFILE`.
 * Specs read these numbers; they never hard-code counts of their own.
 */
export const PROFILE_NAMES = ['smoke', 'default', 'full', 'selftest'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

export interface PerfProfile {
  name: ProfileName;
  /** Measured samples per API scenario (after warm-up). */
  apiSamples: number;
  /**
   * Cap for auto-sampling the API chat scenarios: while a checked percentile is undecided and
   * near its limit (fixtures/perf.ts, `repeat`), apiSamples more, up to this many.
   */
  apiMaxSamples: number;
  /**
   * Past the auto-sampling cap of any sampled test (`maxSamples`: the API chats, memory list and
   * search), a checked percentile still undecided near its limit (a close call below it, or any
   * estimate past it) is confirmed with more batches, up to this multiple of the cap (fixtures/perf.ts,
   * `repeat`): a p95 of 60 has no upper confidence bound, and one burst would decide it. 1: none.
   * Compare mode does not use it; the database micro-benchmarks (`measure`) confirm a percentile
   * decided past its limit up to their own cap (dbMaxSamples) when it is above 1.
   */
  confirmCapFactor: number;
  /** Measured samples per UI scenario (after warm-up). */
  uiSamples: number;
  /** Warm-up iterations discarded before measuring. */
  warmup: number;
  /**
   * Most warm-up chats of an API chat scenario. After `warmup`, warm-up goes on while the app
   * overhead of the last chats is still falling (fixtures/perf.ts, `steadyWarmup`): a code path
   * the run has not taken yet (the long conversation's summarizer, the tokenizer on new text)
   * took 10–40 chats to settle on a 2-core machine, and a p95 of 40 samples must not hold them.
   */
  chatWarmupMax: number;
  /** Samples per database micro-benchmark (cheap, so many). */
  dbSamples: number;
  /**
   * Cap for auto-sampling a database micro-benchmark: while the confidence interval of its checked
   * percentile straddles the limit, or lies past it (confirmation, see confirmCapFactor), the
   * recorder takes dbSamples more, up to this many.
   */
  dbMaxSamples: number;
  /**
   * Warm-up requests before a database/API micro-benchmark: the first ~10–15 of a fresh client
   * and server run 1.5–2× slower (JIT, pg plans, connections).
   */
  dbWarmup: number;
  /**
   * Samples of a database figure shown for context and never gated: the read paths through the
   * API (their gated counterparts are the SQL reads) and message creation (messageCreateSamples).
   */
  contextSamples: number;
  /** Memory counts for the scaling curve (one user). */
  memorySizes: number[];
  /** Memories of the "large memory context" user. */
  largeContextMemories: number;
  /** Earlier messages in the "long conversation" session. */
  longConversationMessages: number;
  /**
   * Messages rendered by the UI long-conversation test: at most the UI's history window
   * (app/ui: the latest 200 messages of a conversation are shown when it is opened).
   */
  uiRenderMessages: number;
  /** Row counts for the seeding benchmark. */
  seedingSizes: number[];
  /**
   * Questions asked of the labelled retrieval set (data/retrieval-set.ts, 264 in all), per
   * search mode: one recall@5 and one reciprocal-rank sample each.
   */
  relevanceQuestions: number;
  /**
   * Compare mode (e2e/compare.spec.ts), pairs of the A/B comparison. `micro`: millisecond
   * requests, ABBA blocks; `instantChat`: chat turns on an instant model, ABBA blocks (≈ 0.05 s a
   * turn); `chat`: chat turns on both arms at once. The sampler takes `pairs`,
   * then more batches until every metric is clearly within its minimum effect, up to `maxPairs`
   * (a real change runs to it), and when a metric leans beyond its minimum effect there, on to
   * 2 × `maxPairs` for a second look (docs/compare-mode.md).
   */
  compare: Record<'micro' | 'instantChat' | 'chat', { pairs: number; maxPairs: number; warmup: number }>;
  /**
   * Longest wait for idle CPUs before a millisecond measurement (e2e/helpers/quiet.ts); 0 = no
   * wait, for runs that show a fault's large effect and measure no small one.
   */
  settleMaxWaitMs: number;
}

export const PROFILES: Record<ProfileName, PerfProfile> = {
  smoke: {
    name: 'smoke',
    // On the instant model a chat sample costs ~0.05 s. 20, as in `default`: two or three slow
    // chats among 20 leave the p95's interval straddling its limit, four or more in a row decide
    // it past, and both take more samples (NEAR_LIMIT and `needsMore` in fixtures/perf.ts).
    // `npx tsx scripts/sampling-sim.ts 600 smoke` with 20 and with 40: 1–3 % hiccups and bursts
    // of 3–5 slow chats failed 0–1.8 % of runs either way, a true p95 at 1.1× the limit 80 and
    // 85 %, and a true p95 at 0.8× took 53 and 77 samples.
    apiSamples: 20,
    apiMaxSamples: 120,
    // At 120 a p95's upper bound is the second-largest sample: one burst of two still decides it
    // (a clean CI run failed at p95 25.9 ms, limit 25, with 7 of 120 long-conversation chats in
    // three pairs at 26–45 ms). A chat costs ≈ 0.1 s here, so a confirmation ≈ 12 s, on close calls only.
    confirmCapFactor: 2,
    // The UI checks' p95 of 3 or of 4 samples is their largest either way, and their limits are
    // 20–50× the figures (chat done ≈ 50–100 ms of 5 s, LCP ≈ 100 ms of 2.5 s, opening the long
    // conversation ≈ 50 ms of 1 s). A UI sample costs 0.1–0.5 s of Playwright actions: 3, not 4,
    // took ≈ 0.5 s off a smoke run (three alternated pairs).
    uiSamples: 3,
    warmup: 1,
    // ≈ 0.05 s a chat on the instant model.
    chatWarmupMax: 40,
    // Database requests take ~1–2 ms. 150: a p95 that one burst of scheduler hiccups decides past
    // its limit is confirmed with more batches up to the cap (fixtures/perf.ts, `sample`), so the
    // first batch needs no margin for bursts of its own.
    dbSamples: 150,
    dbMaxSamples: 900,
    dbWarmup: 20,
    // A smoke run shows them, nothing decides on them: 30 give a p50 and a p95 to look at (from 60:
    // 0.6 s less, a fortieth of the run).
    contextSamples: 30,
    memorySizes: [100, 1_000],
    largeContextMemories: 1_000,
    longConversationMessages: 200,
    uiRenderMessages: 200,
    seedingSizes: [1_000, 10_000],
    // Every second question: still every kind (speaker, who, date, relative, topic), and a 95 %
    // interval of recall@5 about ±0.05 wide.
    relevanceQuestions: 132,
    compare: {
      micro: { pairs: 60, maxPairs: 600, warmup: 20 },
      instantChat: { pairs: 40, maxPairs: 160, warmup: 5 },
      chat: { pairs: 10, maxPairs: 30, warmup: 2 },
    },
    settleMaxWaitMs: 3_000,
  },
  default: {
    name: 'default',
    apiSamples: 20,
    apiMaxSamples: 60,
    confirmCapFactor: 2,
    uiSamples: 10,
    // One warm-up chat per scenario: a chat takes ~1.5 s of model time, and the app's chat code
    // paths are already warm from earlier tests (the database micro-benchmarks get dbWarmup).
    warmup: 1,
    // More only while the app overhead is still falling, in windows of three (e2e/response.spec.ts):
    // two windows need 6 chats, the cap, so all 6 run; the 5 after the first lead the first
    // samples in the same lanes (fixtures/perf.ts, `repeat`) instead of a wave of their own.
    chatWarmupMax: 6,
    dbSamples: 500,
    dbMaxSamples: 1_500,
    dbWarmup: 30,
    contextSamples: 500,
    memorySizes: [100, 1_000, 10_000],
    largeContextMemories: 1_000,
    longConversationMessages: 200,
    uiRenderMessages: 200,
    seedingSizes: [1_000, 10_000, 100_000],
    relevanceQuestions: 264,
    compare: {
      micro: { pairs: 100, maxPairs: 1200, warmup: 30 },
      instantChat: { pairs: 60, maxPairs: 240, warmup: 5 },
      chat: { pairs: 10, maxPairs: 20, warmup: 2 },
    },
    settleMaxWaitMs: 3_000,
  },
  full: {
    name: 'full',
    apiSamples: 30,
    apiMaxSamples: 90,
    confirmCapFactor: 2,
    uiSamples: 20,
    warmup: 3,
    chatWarmupMax: 40,
    dbSamples: 1_000,
    dbMaxSamples: 3_000,
    dbWarmup: 50,
    contextSamples: 1_000,
    memorySizes: [100, 1_000, 10_000, 100_000],
    largeContextMemories: 10_000,
    longConversationMessages: 500,
    uiRenderMessages: 200,
    seedingSizes: [1_000, 10_000, 100_000],
    relevanceQuestions: 264,
    compare: {
      micro: { pairs: 200, maxPairs: 2000, warmup: 50 },
      instantChat: { pairs: 100, maxPairs: 400, warmup: 10 },
      chat: { pairs: 20, maxPairs: 60, warmup: 3 },
    },
    settleMaxWaitMs: 3_000,
  },
  /**
   * The fault self-tests of `npm test` (scripts/test-all.ts): the fewest samples with which an
   * injected fault still fails its own check. Not a verdict to trust on clean code: a p95 of 15
   * samples is one hiccup away from its limit.
   */
  selftest: {
    name: 'selftest',
    // model-errors: ≈ 30 % of chat turns fail; with 20 the chance that none does is 0.7^20 ≈ 0.08 %.
    apiSamples: 20,
    apiMaxSamples: 20,
    // An injected fault fails its check far past the limit, or steadily: nothing to confirm.
    confirmCapFactor: 1,
    // slow-render: one open of the long conversation takes 2–4 s (limit 1 s); one shows it.
    uiSamples: 1,
    // slow-model: a turn takes > 5 s, so a warm-up alone would spend half the test's budget.
    warmup: 0,
    chatWarmupMax: 0,
    // slow-session-create adds 8 ms to a ≈ 1 ms create: every sample is above the 5 ms limit.
    // missing-indexes: each unindexed query takes tens of ms; one EXPLAIN shows the plan.
    dbSamples: 15,
    dbMaxSamples: 15,
    dbWarmup: 3,
    contextSamples: 15,
    // Two sizes: the n-plus-one check compares statements per chat at the largest vs the smallest.
    memorySizes: [100, 1_000],
    // token-bloat: the untrimmed prompt of the large-memory user passes 5,000 tokens.
    largeContextMemories: 1_000,
    longConversationMessages: 200,
    uiRenderMessages: 200,
    seedingSizes: [1_000],
    // unranked-search drops recall@5 to ≈ 0.13 (limit 0.9): a sixth of the set shows it.
    relevanceQuestions: 44,
    // The compare faults' self-test (scripts/test-all.ts): each fault is +50 % or more on its
    // metric, or exactly one more statement or token, so a few dozen pairs decide it.
    compare: {
      micro: { pairs: 30, maxPairs: 60, warmup: 10 },
      instantChat: { pairs: 20, maxPairs: 40, warmup: 3 },
      chat: { pairs: 6, maxPairs: 10, warmup: 1 },
    },
    // Every fault clears its limit by far: a busy machine cannot hide it, so no waiting.
    settleMaxWaitMs: 0,
  },
};

/**
 * Samples of message creation (SQL and API). Fewer than dbSamples: through the API a message is
 * created by starting a chat turn and hanging up after its `meta` event, and every abandoned turn
 * is finished by the app in the background; hundreds of them would measure that backlog.
 */
export function messageCreateSamples(profile: PerfProfile): number {
  return Math.min(profile.contextSamples, 100);
}
