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
import { setTimeout as sleep } from 'node:timers/promises';
import { test, expect } from '../fixtures';
import { sizeScenario, type MetricName } from '../lib/metric-catalog';
import type { MemoriesPage, SearchResponse } from '../contract';
import type { MetricOptions, PerfRecorder } from '../fixtures';
import { fmt, ScalingSamples, type DerivedFigure } from '../lib/scaling';
import { timeBudget } from './helpers/budget';
import { SampleFailure } from './helpers/failures';
import { p50 } from '../lib/numbers';
import { rejected, runInLanes } from '../lib/lanes';
import { RELEVANT_MEMORIES, fewSamples, questionFor } from './helpers/scenarios';
import { chatOverApi } from './helpers/stream';
import { timedGet } from './helpers/timed-get';
import { settleBefore } from './helpers/quiet';

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
 * `smoke`: the growth exponents are fitted on p50s of sub-millisecond-to-few-ms DB times, and a
 * p50 of 4 samples moved the fit by ±0.3 between identical runs.
 */
const MIN_SCALING_SAMPLES = 20;
const SEARCH_LIMIT = 10;
const SEARCH_PATH = '/api/memories/search';
const TOP = 5;
/**
 * Chat messages in flight per size (all of `default`'s five), their starts staggered so that the
 * retriever's DB step (a few ms at the start of each chat) never queues behind another's: the
 * rest of a chat is waiting on the model, which overlaps without cost.
 */
const CHAT_CONCURRENCY = 5;
const CHAT_STAGGER_MS = 100;

test(
  'memory scaling: retrieval, ranked and fuzzy search, chat retrieval and statements per chat, by memory count',
  {
    tag: ['@memory', '@bottlenecks', '@api', '@database'],
  },
  async ({ seed, api, perf }) => {
    const profile = perf.profile;
    const budget = timeBudget();
    const sizes = [...profile.memorySizes].sort((a, b) => a - b);
    const chatSamples = fewSamples(profile);
    // Millisecond requests need a real warm-up (lib/profiles.ts), but a fuzzy search at 10k+
    // memories takes ~0.1 s: 10 rounds warm the code paths without adding seconds per size.
    const scalingWarmup = Math.min(profile.dbWarmup, 10);

    // Raw per-size samples (client time and the server's DB time of the same requests); lib/scaling.ts
    // derives the exponents, the statement growth ratio and the scaling curve from them.
    const scaling = new ScalingSamples();
    const hits: Record<'paraphrase' | 'typo', { size: number; rank: number | null }[]> = { paraphrase: [], typo: [] };
    const orderProblems: string[] = [];
    const broadBySize: {
      size: number;
      rankedP50?: number;
      rankedDbP50?: number;
      fuzzyP50?: number;
      fuzzyDbP50?: number;
    }[] = [];

    for (const size of sizes) {
      const scenario = sizeScenario(size);
      const owner = await seed.user({ displayName: `perf scaling ${size}` });
      await seed.memories(owner, size - RELEVANT_MEMORIES.length);
      const [targetId] = await seed.plantMemories(owner, RELEVANT_MEMORIES);
      const client = api.as(owner);
      const opts = (extra: MetricOptions['tags'] = {}): MetricOptions => ({
        scenario,
        tags: { memoryCount: size, channel: 'api', ...extra },
      });

      await settleBefore(perf, `list and search at ${scenario}`, { scenario });
      await perf.repeat(
        {
          samples: Math.max(profile.apiSamples, MIN_SCALING_SAMPLES),
          warmup: scalingWarmup,
          errorsTo: [
            { name: 'memory.retrieval_ms', opts: opts() },
            { name: 'memory.search_ms', opts: opts({ mode: 'ranked' }) },
            { name: 'memory.fuzzy_search_ms', opts: opts({ mode: 'fuzzy' }) },
          ],
        },
        async (ctx) => {
          budget.check(`memory sample at ${scenario}`);
          const i = ctx.index + scalingWarmup;
          const timeout = budget.requestTimeoutMs(15_000);
          const list = await timedGet<MemoriesPage>(client, '/api/memories', { limit: LIST_LIMIT }, timeout);
          const search = await timedGet<SearchResponse>(
            client,
            SEARCH_PATH,
            { mode: 'ranked', limit: SEARCH_LIMIT, q: SEARCH_QUERIES[i % SEARCH_QUERIES.length]! },
            timeout,
          );
          const fuzzy = await timedGet<SearchResponse>(
            client,
            SEARCH_PATH,
            { mode: 'fuzzy', limit: SEARCH_LIMIT, q: FUZZY_QUERIES[i % FUZZY_QUERIES.length]! },
            timeout,
          );
          ctx.record('memory.retrieval_ms', list.ms, opts());
          ctx.record('memory.search_ms', search.ms, opts({ mode: 'ranked' }));
          ctx.record('memory.fuzzy_search_ms', fuzzy.ms, opts({ mode: 'fuzzy' }));
          if (ctx.warmup) return;
          scaling.add(size, 'retrieval', list);
          scaling.add(size, 'search', search);
          scaling.add(size, 'fuzzy', fuzzy);
          if (ctx.index === 0) {
            // Correctness of the list itself: a full page, newest first.
            const ids = list.body.memories.map((m) => m.id);
            if (ids.length !== Math.min(LIST_LIMIT, size))
              orderProblems.push(`${scenario}: ${ids.length} memories listed, expected ${Math.min(LIST_LIMIT, size)}`);
            if (ids.some((id, k) => k > 0 && id >= ids[k - 1]!))
              orderProblems.push(`${scenario}: list is not newest first`);
          }
        },
      );
      // Search correctness at this size (not timed: the timings above cover search speed).
      for (const [kind, query, mode] of CORRECTNESS_SEARCHES) {
        const found = await client.searchMemories(query, { mode, limit: SEARCH_LIMIT });
        const ids = found.results.map((r) => r.memory.id);
        hits[kind].push({ size, rank: rankOf(ids, targetId) });
      }

      // Broad queries (evidence only): ranking cost grows with the number of matching memories.
      const broad: { ranked: number[]; fuzzy: number[]; rankedDb: number[]; fuzzyDb: number[] } = {
        ranked: [],
        fuzzy: [],
        rankedDb: [],
        fuzzyDb: [],
      };
      for (let k = 0; k < BROAD_SAMPLES && budget.remainingMs() > 0; k++) {
        const r = await timedGet<SearchResponse>(
          client,
          SEARCH_PATH,
          { mode: 'ranked', limit: SEARCH_LIMIT, q: BROAD_QUERY },
          budget.requestTimeoutMs(15_000),
        );
        const f = await timedGet<SearchResponse>(
          client,
          SEARCH_PATH,
          { mode: 'fuzzy', limit: SEARCH_LIMIT, q: BROAD_TYPO_QUERY },
          budget.requestTimeoutMs(15_000),
        );
        broad.ranked.push(r.ms);
        broad.fuzzy.push(f.ms);
        if (r.dbMs !== undefined) broad.rankedDb.push(r.dbMs);
        if (f.dbMs !== undefined) broad.fuzzyDb.push(f.dbMs);
      }
      broadBySize.push({
        size,
        rankedP50: p50(broad.ranked),
        rankedDbP50: p50(broad.rankedDb),
        fuzzyP50: p50(broad.fuzzy),
        fuzzyDbP50: p50(broad.fuzzyDb),
      });

      // The chat's own retrieval step and its statement count at this size.
      const chatOpts: MetricOptions = {
        scenario,
        tags: { memoryCount: size, agent: 'memory_retriever' },
      };
      const qOpts: MetricOptions = {
        scenario,
        tags: { memoryCount: size, source: 'done.timing.dbQueries' },
      };
      const results = await runInLanes(chatSamples, CHAT_CONCURRENCY, async (k) => {
        if (k < CHAT_CONCURRENCY) await sleep(k * CHAT_STAGGER_MS);
        const session = await client.createSession({ title: `scaling ${size} #${k + 1}` });
        const r = await chatOverApi(client, session.id, questionFor('large-memory-context', k), budget);
        const retriever = r.done.usage.agents.find((a) => a.agent === 'memory_retriever');
        if (retriever && retriever.status === 'ok')
          perf.record('memory.chat_retrieval_ms', retriever.latencyMs, chatOpts);
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

    // Derived figures (lib/scaling.ts): growth exponents and the statements-per-chat growth ratio.
    const exp = { scenario: 'default' };
    const retrievalFit = scaling.exponent('retrieval', sizes);
    const searchFit = scaling.exponent('search', sizes);
    const statementsGrowth = scaling.statementsGrowthRatio();
    recordDerived(perf, 'memory.retrieval_exponent', retrievalFit, exp);
    recordDerived(perf, 'memory.search_exponent', { ...searchFit, tags: { ...searchFit.tags, mode: 'ranked' } }, exp);
    recordDerived(perf, 'bottlenecks.queries_growth_ratio', statementsGrowth, {
      scenario: 'default',
    });
    perf.evidence('memory.scaling_curve', scaling.curveSummary(sizes), scaling.curveDetail());

    const broadLine = broadBySize
      .map(
        (b) =>
          `${b.size}: ranked ${fmt(b.rankedP50)} (${fmt(b.rankedDbP50)}), ` +
          `fuzzy ${fmt(b.fuzzyP50)} (${fmt(b.fuzzyDbP50)})`,
      )
      .join(' | ');
    perf.evidence(
      'memory.broad_search',
      `broad queries ("${BROAD_QUERY}", typo "${BROAD_TYPO_QUERY}") p50 API ms (server DB ms) by size: ${broadLine}`,
      { broadBySize, samplesPerSize: BROAD_SAMPLES },
      { scenario: 'broad' },
    );

    for (const kind of ['paraphrase', 'typo'] as const) {
      const o = {
        scenario: kind,
        tags: {
          sizes: sizes.join(','),
          query: kind === 'paraphrase' ? PARAPHRASE_QUERY : TYPO_QUERY,
          mode: kind === 'paraphrase' ? 'auto' : 'fuzzy',
          top: TOP,
        },
      };
      for (const h of hits[kind]) perf.record('memory.search_hit', h.rank !== null && h.rank < TOP ? 1 : 0, o);
      const ranks = hits[kind].map((h) => `${h.size}: ${h.rank === null ? 'not found' : h.rank + 1}`).join(', ');
      perf.evidence(
        `memory.search_hit_${kind}`,
        `${kind} query "${o.tags.query}": target rank by size ${ranks}`,
        { target: TARGET, hits: hits[kind] },
        { scenario: kind },
      );
    }

    // Correctness (soft, after recording): the planted memory is found; the list is well-formed.
    expect
      .soft(
        hits.paraphrase.filter((h) => h.rank === null || h.rank >= TOP),
        `"${PARAPHRASE_QUERY}" finds the planted memory in the top ${TOP} at every size`,
      )
      .toEqual([]);
    expect
      .soft(
        hits.typo.filter((h) => h.rank === null || h.rank >= TOP),
        `"${TYPO_QUERY}" (typos) finds the planted memory in the top ${TOP} at every size`,
      )
      .toEqual([]);
    expect.soft(orderProblems, 'GET /api/memories returns a full page, newest first').toEqual([]);
  },
);

function rankOf(ids: number[], target: number | undefined): number | null {
  const k = target === undefined ? -1 : ids.indexOf(target);
  return k < 0 ? null : k;
}

function recordDerived(perf: PerfRecorder, name: MetricName, figure: DerivedFigure, opts: MetricOptions): void {
  const withTags: MetricOptions = { ...opts, tags: { ...opts.tags, ...figure.tags } };
  if (figure.value !== undefined && Number.isFinite(figure.value)) perf.record(name, figure.value, withTags);
  else perf.recordError(name, new SampleFailure('not_derivable', figure.whyMissing), withTags);
}
