/**
 * Checkpoint 7.4 §3 (memory scaling) and the N+1 part of §4 (bottlenecks): for each memory count
 * of the profile (100, 1,000, 10,000 in `perf`; 100,000 in `full`), one user with that many
 * memories, and through the API:
 * - list recent-first (memory.retrieval_ms), ranked full-text search (memory.search_ms), fuzzy
 *   search with a typo (memory.fuzzy_search_ms), each p50/p95 per size;
 * - a chat message: the retrieval step's own latency (memory_retriever agent) and the number of
 *   SQL statements the request ran (an N+1 pattern makes it grow with the memory count);
 * then the growth exponents (log-log slope of p50 vs size, fitted on the server's DB time of the
 * same requests, see below), the statement growth ratio, and
 * search correctness: a planted memory is in the top 5 for a paraphrased query and for a query
 * with typos, at every size.
 *
 * One test on purpose: the exponents need all sizes. Sizes are seeded in increasing order and
 * measured right after seeding, one request at a time (DB-bound timings, no self-inflicted
 * contention). The search queries ask for a specific fact, like a user looking something up;
 * their common terms ("peanut", "allergic") match a share of the seeded memories, so ranking
 * work still grows with the memory count, as it would for a real user.
 */
import { test, expect } from '../fixtures';
import { sizeScenario, type MetricName } from '../lib/verdict/metric-catalog';
import type { MemoriesPage, SearchResponse } from '../contract';
import type { MetricOptions, PerfRecorder, Seeder, MemoryChatApi } from '../fixtures';
import {
  ScalingSamples,
  broadP50s,
  broadSearchLine,
  listPageProblems,
  rankOf,
  ranksBySize,
  type BroadP50s,
  type DerivedFigure,
} from '../lib/figures/scaling';
import { timeBudget, type TimeBudget } from './helpers/budget';
import { SampleFailure } from './helpers/failures';
import { rejected, runInLanes } from '../lib/run/lanes';
import { RELEVANT_MEMORIES, fewSamples, questionFor } from './helpers/scenarios';
import { chatOverApi } from './helpers/stream';
import { ChatPacer } from './helpers/pacing';
import { timedGet } from './helpers/timed-get';
import { settleBefore } from './helpers/quiet';
import { withoutModelWait } from './helpers/model-wait';

/** The planted target (the others in RELEVANT_MEMORIES are near-misses with the same name). */
const TARGET = RELEVANT_MEMORIES[0]!;
/** A paraphrase: other words and word forms ("peanut allergy" for "allergic to peanuts"). */
const PARAPHRASE_QUERY = "what should I know about Ingrid's peanut allergy";
/** The target's words with two typos ("severly", "alergic"): what fuzzy search is for. */
const TYPO_QUERY = 'Ingrid is severly alergic';
/** The planted memory must be found at every size: by a paraphrase (auto mode) and with typos (fuzzy). */
const CORRECTNESS_SEARCHES = [
  ['paraphrase', PARAPHRASE_QUERY, 'auto'],
  ['typo', TYPO_QUERY, 'fuzzy'],
] as const;
/**
 * Timing queries (rotated per sample): lookups of a specific fact, as users search their memories.
 * They match the planted facts plus a few seeded rows ("peanut"), so a good index keeps them flat
 * and a scan shows. Broad queries whose terms occur in a large share of the seeded memories cost
 * O(matches) to rank with any index; they are timed separately, as evidence (BROAD_*).
 */
const SEARCH_QUERIES = [PARAPHRASE_QUERY, 'Ingrid salmon with dill', 'Ingrid EpiPen'];
const FUZZY_QUERIES = [TYPO_QUERY, 'Ingrd salmon with dil', 'Ingrid EpiPenn'];
const BROAD_QUERY = 'sourdough bread with my sister Clara';
const BROAD_TYPO_QUERY = 'sourdogh bread with my sistr Clara';
const BROAD_SAMPLES = 3;
const LIST_LIMIT = 50;
/**
 * List/search requests are cheap (milliseconds), so they get at least 20 samples per size even in
 * `smoke`: the growth exponents are fitted on p50s of few-ms DB times, which a handful of samples
 * leaves too noisy.
 */
const MIN_SCALING_SAMPLES = 20;
const SEARCH_LIMIT = 10;
const SEARCH_PATH = '/api/memories/search';
const TOP = 5;
/**
 * Chat messages in flight per size (all of `default`'s five), paced (helpers/pacing.ts) so that
 * the retriever's DB step (a few ms at the start of each chat) never queues behind another's: a
 * chat starts once the previous one streamed its first token, or 100 ms after it started, or when
 * it ended. The rest of a chat is waiting on the model, which overlaps without cost. On the
 * simulator the chats run on its instant profile (helpers/model-wait.ts): then they hardly overlap.
 */
const CHAT_CONCURRENCY = 5;
/**
 * Unrecorded chats before each size's samples. The app's first chats open new database
 * connections, and a new connection plans the retriever's query in 10–20 ms instead of ≈ 1 ms
 * (its caches are cold): without these, n=100 measured 9–15 ms among 3 ms samples.
 */
const CHAT_WARMUP = 3;

type SearchKind = (typeof CORRECTNESS_SEARCHES)[number][0];

type AtSize = Awaited<ReturnType<typeof seedSize>>;

/** What one size yields besides recorded metrics: search ranks, list problems, broad query p50s. */
interface SizeResult {
  size: number;
  ranks: Record<SearchKind, number | null>;
  listProblems: string[];
  broad: BroadP50s;
}

test(
  'memory scaling: retrieval, ranked and fuzzy search, chat retrieval and statements per chat, by memory count',
  { tag: ['@memory', '@bottlenecks', '@api', '@database'] },
  async ({ seed, api, perf, config }) => {
    const budget = timeBudget();
    const sizes = [...perf.profile.memorySizes].sort((a, b) => a - b);
    // Raw per-size samples (client time and the server's DB time of the same requests); lib/figures/scaling.ts
    // derives the exponents, the statement growth ratio and the scaling curve from them.
    const scaling = new ScalingSamples();
    const results: SizeResult[] = [];

    for (const size of sizes) {
      const n = sizeScenario(size);

      const at = await test.step(`${n}: seed ${size} memories (${RELEVANT_MEMORIES.length} of them planted)`, () =>
        seedSize(seed, api, size));

      const listProblems = await test.step(`${n}: list, ranked and fuzzy search (warm-up, then samples)`, () =>
        measureListAndSearch(perf, at, budget, scaling));

      const ranks = await test.step(`${n}: rank of the planted memory, paraphrased and with typos`, () =>
        searchRanks(at));

      const broad = await test.step(`${n}: broad queries, ranked and fuzzy (evidence only)`, () =>
        timeBroadQueries(at, budget));

      await test.step(`${n}: chats, the retriever's own time and SQL statements per chat`, () =>
        withoutModelWait(perf, config, `${n}: chats`, () => measureChats(perf, at, budget, scaling)));

      results.push({ size, ranks, listProblems, broad });
    }

    await test.step('growth exponents, statements-per-chat growth ratio and the scaling curve', () =>
      recordGrowth(perf, scaling, sizes));

    await test.step('broad query cost by size (evidence)', () => recordBroadSearch(perf, results));

    await test.step(`search hits: the planted memory in the top ${TOP} at each size`, () =>
      recordSearchHits(perf, results, sizes));

    // Correctness (soft, after recording): the planted memory is found; the list is well-formed.
    await test.step('the planted memory is found at every size; the list is a full page, newest first', () => {
      const misses = (kind: SearchKind) => hitsOf(results, kind).filter((h) => h.rank === null || h.rank >= TOP);
      expect
        .soft(misses('paraphrase'), `"${PARAPHRASE_QUERY}" finds the planted memory in the top ${TOP} at every size`)
        .toEqual([]);
      expect
        .soft(misses('typo'), `"${TYPO_QUERY}" (typos) finds the planted memory in the top ${TOP} at every size`)
        .toEqual([]);
      const listProblems = results.flatMap((r) => r.listProblems);
      expect.soft(listProblems, 'GET /api/memories returns a full page, newest first').toEqual([]);
    });
  },
);

/** One memory count: its user (seeded with `size` memories) and the planted target's id. */
async function seedSize(seed: Seeder, api: MemoryChatApi, size: number) {
  // One batch, settled at its end at every size (data/seed.ts): a load below the seeder's own
  // settle threshold would leave its rows in the search index's pending list, and the smallest
  // size would be measured against an unsettled index the larger ones are not.
  const { owner, targetId } = await seed.batch(async () => {
    const user = await seed.user({ displayName: `perf scaling ${size}` });
    await seed.memories(user, size - RELEVANT_MEMORIES.length);
    const [planted] = await seed.plantMemories(user, RELEVANT_MEMORIES);
    return { owner: user, targetId: planted };
  });
  return { size, scenario: sizeScenario(size), client: api.as(owner), targetId };
}

function sizeOpts(at: AtSize, extra: MetricOptions['tags'] = {}): MetricOptions {
  return { scenario: at.scenario, tags: { memoryCount: at.size, channel: 'api', ...extra } };
}

function timedSearch(at: AtSize, mode: 'ranked' | 'fuzzy', q: string, timeoutMs: number) {
  return timedGet<SearchResponse>(at.client, SEARCH_PATH, { mode, limit: SEARCH_LIMIT, q }, timeoutMs);
}

/** List, ranked and fuzzy search, one request at a time; returns the first list page's problems. */
async function measureListAndSearch(
  perf: PerfRecorder,
  at: AtSize,
  budget: TimeBudget,
  scaling: ScalingSamples,
): Promise<string[]> {
  const { size, scenario, client } = at;
  // Millisecond requests need a real warm-up (lib/run/profiles.ts), but a fuzzy search at 10k+
  // memories takes ~0.1 s: 10 rounds warm the code paths without adding seconds per size.
  const warmup = Math.min(perf.profile.dbWarmup, 10);
  let problems: string[] = [];
  await settleBefore(perf, `list and search at ${scenario}`, { scenario });
  const samples = Math.max(perf.profile.apiSamples, MIN_SCALING_SAMPLES);
  await perf.repeat(
    {
      samples,
      // A p95 of 20 samples is their second largest: a clean run measured search p95 12.8 ms
      // (p50 1.9, limit 10) at 10,000 memories once. Near its limit, more samples decide it.
      maxSamples: 3 * samples,
      warmup,
      errorsTo: [
        { name: 'memory.retrieval_ms', opts: sizeOpts(at) },
        { name: 'memory.search_ms', opts: sizeOpts(at, { mode: 'ranked' }) },
        { name: 'memory.fuzzy_search_ms', opts: sizeOpts(at, { mode: 'fuzzy' }) },
      ],
    },
    async (ctx) => {
      budget.check(`memory sample at ${scenario}`);
      const i = ctx.index + warmup;
      const timeout = budget.requestTimeoutMs(15_000);
      const list = await timedGet<MemoriesPage>(client, '/api/memories', { limit: LIST_LIMIT }, timeout);
      const search = await timedSearch(at, 'ranked', SEARCH_QUERIES[i % SEARCH_QUERIES.length]!, timeout);
      const fuzzy = await timedSearch(at, 'fuzzy', FUZZY_QUERIES[i % FUZZY_QUERIES.length]!, timeout);
      ctx.record('memory.retrieval_ms', list.ms, sizeOpts(at));
      ctx.record('memory.search_ms', search.ms, sizeOpts(at, { mode: 'ranked' }));
      ctx.record('memory.fuzzy_search_ms', fuzzy.ms, sizeOpts(at, { mode: 'fuzzy' }));
      if (ctx.warmup) return;
      scaling.add(size, 'retrieval', list);
      scaling.add(size, 'search', search);
      scaling.add(size, 'fuzzy', fuzzy);
      // Correctness of the list itself: a full page, newest first.
      if (ctx.index === 0)
        problems = listPageProblems(
          scenario,
          list.body.memories.map((m) => m.id),
          Math.min(LIST_LIMIT, size),
        );
    },
  );
  return problems;
}

/** Search correctness at this size (not timed: the timings above cover search speed). */
async function searchRanks(at: AtSize): Promise<Record<SearchKind, number | null>> {
  const ranks: Record<SearchKind, number | null> = { paraphrase: null, typo: null };
  for (const [kind, query, mode] of CORRECTNESS_SEARCHES) {
    const found = await at.client.searchMemories(query, { mode, limit: SEARCH_LIMIT });
    const ids = found.results.map((r) => r.memory.id);
    ranks[kind] = rankOf(ids, at.targetId);
  }
  return ranks;
}

/** Broad queries (evidence only): ranking cost grows with the number of matching memories. */
async function timeBroadQueries(at: AtSize, budget: TimeBudget): Promise<BroadP50s> {
  const ranked = [];
  const fuzzy = [];
  for (let k = 0; k < BROAD_SAMPLES && budget.remainingMs() > 0; k++) {
    ranked.push(await timedSearch(at, 'ranked', BROAD_QUERY, budget.requestTimeoutMs(15_000)));
    fuzzy.push(await timedSearch(at, 'fuzzy', BROAD_TYPO_QUERY, budget.requestTimeoutMs(15_000)));
  }
  return broadP50s(at.size, ranked, fuzzy);
}

/** The chat's own retrieval step and its statement count at this size. */
async function measureChats(perf: PerfRecorder, at: AtSize, budget: TimeBudget, scaling: ScalingSamples) {
  const { size, scenario, client } = at;
  const chatOpts: MetricOptions = { scenario, tags: { memoryCount: size, agent: 'memory_retriever' } };
  const qOpts: MetricOptions = { scenario, tags: { memoryCount: size, source: 'done.timing.dbQueries' } };
  for (let w = 0; w < CHAT_WARMUP; w++) {
    const session = await client.createSession({ title: `scaling ${size} warm-up ${w + 1}` });
    // A failed warm-up is not a sample: the measured chats below record what fails.
    await chatOverApi(client, session.id, questionFor('large-memory-context', w), budget).catch(() => undefined);
  }
  const pacer = new ChatPacer();
  const results = await runInLanes(fewSamples(perf.profile), CHAT_CONCURRENCY, async (k) => {
    const release = await pacer.turn({ overlap: true });
    const r = await client
      .createSession({ title: `scaling ${size} #${k + 1}` })
      .then((session) =>
        chatOverApi(client, session.id, questionFor('large-memory-context', k), budget, { onFirstToken: release }),
      )
      .finally(release);
    const retriever = r.done.usage.agents.find((a) => a.agent === 'memory_retriever');
    if (retriever && retriever.status === 'ok') perf.record('memory.chat_retrieval_ms', retriever.latencyMs, chatOpts);
    else
      perf.recordError(
        'memory.chat_retrieval_ms',
        new SampleFailure(
          'not_reported',
          `usage has no successful memory_retriever entry (${retriever?.status ?? 'absent'})`,
        ),
        chatOpts,
      );
    const n = r.done.timing.dbQueries;
    if (n === undefined)
      perf.recordError(
        'bottlenecks.queries_per_chat',
        new SampleFailure('not_reported', 'done.timing.dbQueries is missing'),
        qOpts,
      );
    else {
      perf.record('bottlenecks.queries_per_chat', n, qOpts);
      scaling.addStatements(size, n);
    }
  });
  for (const e of rejected(results)) {
    perf.recordError('memory.chat_retrieval_ms', e, chatOpts);
    perf.recordError('bottlenecks.queries_per_chat', e, qOpts);
  }
}

/** Derived figures (lib/figures/scaling.ts): growth exponents, the statements-per-chat growth ratio, the curve. */
function recordGrowth(perf: PerfRecorder, scaling: ScalingSamples, sizes: number[]): void {
  const exp = { scenario: 'default' };
  const searchFit = scaling.exponent('search', sizes);
  recordDerived(perf, 'memory.retrieval_exponent', scaling.exponent('retrieval', sizes), exp);
  recordDerived(perf, 'memory.search_exponent', { ...searchFit, tags: { ...searchFit.tags, mode: 'ranked' } }, exp);
  recordDerived(perf, 'bottlenecks.queries_growth_ratio', scaling.statementsGrowthRatio(), exp);
  perf.evidence('memory.scaling_curve', scaling.curveSummary(sizes), scaling.curveDetail());
}

function recordDerived(perf: PerfRecorder, name: MetricName, figure: DerivedFigure, opts: MetricOptions): void {
  const withTags: MetricOptions = { ...opts, tags: { ...opts.tags, ...figure.tags } };
  if (figure.value !== undefined && Number.isFinite(figure.value)) perf.record(name, figure.value, withTags);
  else perf.recordError(name, new SampleFailure('not_derivable', figure.whyMissing), withTags);
}

function recordBroadSearch(perf: PerfRecorder, results: readonly SizeResult[]): void {
  const broadBySize = results.map((r) => r.broad);
  perf.evidence(
    'memory.broad_search',
    `broad queries ("${BROAD_QUERY}", typo "${BROAD_TYPO_QUERY}") p50 API ms (server DB ms) by size: ` +
      broadSearchLine(broadBySize),
    { broadBySize, samplesPerSize: BROAD_SAMPLES },
    { scenario: 'broad' },
  );
}

function hitsOf(results: readonly SizeResult[], kind: SearchKind): { size: number; rank: number | null }[] {
  return results.map((r) => ({ size: r.size, rank: r.ranks[kind] }));
}

/** memory.search_hit per size (1 = the target is in the top TOP), and the ranks as evidence. */
function recordSearchHits(perf: PerfRecorder, results: readonly SizeResult[], sizes: number[]): void {
  for (const [kind, query, mode] of CORRECTNESS_SEARCHES) {
    const hits = hitsOf(results, kind);
    const o = { scenario: kind, tags: { sizes: sizes.join(','), query, mode, top: TOP } };
    for (const h of hits) perf.record('memory.search_hit', h.rank !== null && h.rank < TOP ? 1 : 0, o);
    perf.evidence(
      `memory.search_hit_${kind}`,
      `${kind} query "${query}": target rank by size ${ranksBySize(hits)}`,
      { target: TARGET, hits },
      { scenario: kind },
    );
  }
}
