/**
 * Checkpoint 7.4 §1 (response times) and the per-message part of §2 (token usage), for the three
 * response scenarios, each via the API (streamed, client clock) and via the chat UI in Chromium
 * (in-page clock), and the model alone for the simple query's request shape. The
 * large-memory-context API chats also give §4's bottleneck evidence (the app's share of the round
 * trip, the SQL statements they ran).
 *
 * Eight API chats are in flight per test, their starts paced (helpers/pacing.ts) so that no two
 * chats' app work before the model call overlaps, and the three UI scenarios run in parallel
 * pages; docs/measurement-notes.md shows with measurements why that leaves the numbers unchanged.
 * Every failed sample is recorded as an error with its cause (never dropped), and no threshold is
 * asserted here: the checkpoint reporter gates the limits. Only correctness is expected.
 */
import { test, expect } from '../fixtures';
import { RESPONSE_SCENARIOS, type ResponseScenario } from '../lib/verdict/metric-catalog';
import type { BrowserContext } from '@playwright/test';
import type { ChatPage, MetricOptions, ModelProbe, PerfRecorder, RepeatOptions } from '../fixtures';
import { timeBudget, type TimeBudget } from './helpers/budget';
import { ChatPacer } from './helpers/pacing';
import { settleBefore } from './helpers/quiet';
import { recordAppVsModel, recordBottleneckEvidence, recordOverheadSplit } from './helpers/response-evidence';
import { ChatSamples } from './helpers/response-samples';
import { statementSnapshot } from '../lib/figures/statements';
import { avg, p50 } from '../lib/verdict/numbers';
import { EVERYDAY_MEMORIES, questionFor, setupScenario, type Scenario } from './helpers/scenarios';
import { chatOverApi } from './helpers/stream';
import { newChatPage, timeUiReply } from './helpers/ui-reply';

// Serial on purpose: the API tests' concurrency is chosen for one test at a time (see above), and
// the direct-model test reads what the simple-query API test before it measured.

/**
 * Chat requests in flight per API test, paced (see the header for why). With the realistic model
 * a chat takes ≈ 1.5 s, so eight take one start every ≈ 0.19 s, above the pacer's gap.
 */
const API_CONCURRENCY = 8;
/**
 * Chats overlap only when a reply streams this long after its first token: ten times the app
 * overhead limit, so the neighbour's app phases fit inside the stream. With the instant model
 * (smoke) the stream lasts milliseconds, so the chats run one at a time.
 */
const MIN_STREAM_TO_OVERLAP_MS = 250;
/**
 * Direct model calls in flight (no app work to disturb; the simulator/API waits, it does not
 * compute): 20 takes `default`'s 20 samples in one wave, well inside a real API's rate limits.
 */
const DIRECT_MODEL_CONCURRENCY = 20;
/** The scenario whose chats also give the "no major bottlenecks" evidence (app share, statements). */
const BOTTLENECK_SCENARIO: ResponseScenario = 'large-memory-context';
/** Extra warm-up chats of the long-conversation API test: its first chats into a long history are not yet warm. */
const LONG_CONVERSATION_EXTRA_WARMUP = 2;
/** Chats per window of the warm-up's steadiness test (median of the last window vs the one before). */
const STEADY_WINDOW = 5;
const steadyWindow = (maxWarmup: number): number => Math.max(2, Math.min(STEADY_WINDOW, Math.floor(maxWarmup / 2)));
/** Completion length of the direct model calls when the simple-query API test did not run first. */
const DEFAULT_MAX_TOKENS = 64;

const RESPONSE_MS = ['response.ttft_ms', 'response.total_ms', 'response.model_ms', 'response.app_overhead_ms'] as const;
const TOKENS_PER_MESSAGE = [
  'tokens.total_per_message',
  'tokens.prompt_per_message',
  'tokens.completion_per_message',
] as const;

/**
 * What the simple-query API test measured, for the direct-model test after it (same worker).
 * Unset when that test did not run in this worker: run alone via --grep, or failed (Playwright
 * then starts a new worker).
 */
let simpleQueryApp: { roundTripP50: number | undefined; completionMean: number | undefined } | undefined;

for (const scenario of RESPONSE_SCENARIOS) {
  test(
    `${scenario}: streamed reply via the API (ttft, round trip, model time, app overhead, tokens)`,
    {
      tag: [
        '@response',
        '@tokens',
        '@api',
        `@${scenario}`,
        ...(scenario === BOTTLENECK_SCENARIO ? ['@bottlenecks'] : []),
      ],
    },
    async ({ seed, api, perf, db }) => {
      const budget = timeBudget();
      const extra = scenario === 'long-conversation' ? LONG_CONVERSATION_EXTRA_WARMUP : 0;
      const warmup: ChatWarmup = { min: perf.profile.warmup + extra, max: perf.profile.chatWarmupMax + extra };
      // The sessions a run without auto-sampling needs; more are seeded between batches if it samples on.
      const sessions = Math.max(warmup.min, warmup.max) + perf.profile.apiSamples;

      const { sc, health } = await test.step(`seed the ${scenario} user, memories and sessions`, async () => ({
        sc: await setupScenario(seed, api, scenario, perf.profile, { sessions }),
        health: await api.health(),
      }));

      // App overhead is a ~10 ms quantity: start from a quiet machine (the set-up above just seeded).
      await test.step('wait for a quiet machine', () =>
        settleBefore(perf, `${scenario} chats via the API`, { scenario }));

      // The bottleneck chats' SQL statements: the database's counters before them.
      const before = scenario === BOTTLENECK_SCENARIO ? await statementSnapshot(db) : undefined;

      const chats = await test.step(`chats via the API, ${API_CONCURRENCY} in flight, starts paced`, () =>
        streamChats(perf, sc, warmup, budget));

      if (scenario === 'simple-query')
        simpleQueryApp = { roundTripP50: p50(chats.roundTrips), completionMean: avg(chats.conversationCompletion) };

      await test.step('app overhead, server side vs client side (evidence)', () =>
        recordOverheadSplit(perf, scenario, chats, health));

      if (before)
        await test.step("bottlenecks: the app's share of the round trip, the SQL statements run", async () =>
          recordBottleneckEvidence(perf, scenario, chats, { before, after: await statementSnapshot(db) }));

      // Correctness, checked after everything was recorded (soft: the metrics still get attached).
      // Each check applies to the scenarios it names; for the others there is nothing to find.
      await test.step('correctness: well-formed streams, memories in the prompt, token budget', () => {
        expect
          .soft(chats.problems, 'every reply stream is well-formed: meta, tokens, done with usage and timing')
          .toEqual([]);
        const withoutMemories = scenario === 'large-memory-context' ? chats.withoutMemories : [];
        const noMemories = `samples whose prompt had no memories although the user has ${sc.memoryCount}`;
        expect.soft(withoutMemories, noMemories).toEqual([]);
        const overBudget = scenario !== 'simple-query' ? chats.overBudget : [];
        const trimming = `trimming/summarising must keep ${scenario} within it`;
        expect.soft(overBudget, `messages over the ${health.tokenBudget}-token budget: ${trimming}`).toEqual([]);
      });
    },
  );

  // The model alone, right after the app's simple-query chats it is compared with.
  if (scenario === 'simple-query')
    // eslint-disable-next-line playwright/expect-expect -- asserts through directModelCalls → perf.repeat (the checks)
    test(
      'simple-query: the model alone vs the app round trip (direct model call)',
      { tag: ['@response', '@model', '@simple-query'] },
      async ({ perf, model }) => {
        const budget = timeBudget();
        const app = simpleQueryApp;
        // The completion length the app's replies had.
        const maxTokens = Math.max(16, Math.round(app?.completionMean ?? DEFAULT_MAX_TOKENS));
        const shape = "the model alone, the simple query's request shape";

        const directTotals =
          await test.step(`${shape} (warm-up, then samples; ${DIRECT_MODEL_CONCURRENCY} in flight)`, () =>
            directModelCalls(perf, model, budget, maxTokens));

        const missing = `the simple-query API test did not run before this test in its worker: maxTokens ${maxTokens}`;

        await test.step('app round trip vs the model alone (evidence)', () =>
          recordAppVsModel(perf, app?.roundTripP50, directTotals, maxTokens, app ? undefined : missing));
      },
    );
}

/** Warm-up chats of one API test: at least `min`, more while still warming, up to `max`. */
type ChatWarmup = { min: number; max: number };

/** How many chats the API test takes and runs at once; a failed chat is charged to `errorsTo`. */
function chatRepeatOptions(
  perf: PerfRecorder,
  sc: Scenario,
  warmup: ChatWarmup,
  errorsTo: RepeatOptions['errorsTo'],
): RepeatOptions {
  const { profile } = perf;
  const scenario = sc.name;
  return {
    samples: profile.apiSamples,
    maxSamples: profile.apiMaxSamples,
    warmup: warmup.min,
    // Two windows must fit under the cap, or steadiness could never be shown.
    steadyWarmup: { metric: 'response.app_overhead_ms', max: warmup.max, window: steadyWindow(warmup.max) },
    concurrency: API_CONCURRENCY,
    errorsTo,
    // Long sessions for more samples are seeded only when auto-sampling asks for them, between
    // batches; the seeding's load then settles before the next chat, as after the first seeding.
    beforeBatch: async (iterations) => {
      if (await sc.reserveSessions(iterations))
        await settleBefore(perf, `${scenario} chats after seeding more sessions`, { scenario });
    },
  };
}

/** The timed chats of one API test; each records its times and tokens, `ChatSamples` keeps the rest. */
async function streamChats(
  perf: PerfRecorder,
  sc: Scenario,
  warmup: ChatWarmup,
  budget: TimeBudget,
): Promise<ChatSamples> {
  const scenario = sc.name;
  const tags = { channel: 'api', memoriesSeeded: sc.memoryCount, historyMessages: sc.historyMessages };
  const ms = (extra: MetricOptions['tags'] = {}): MetricOptions => ({ scenario, tags: { ...tags, ...extra } });
  const tok: MetricOptions = { scenario, tags };
  const chats = new ChatSamples();
  const pacer = new ChatPacer();
  let overlap = false;
  await perf.repeat(
    chatRepeatOptions(perf, sc, warmup, [
      ...RESPONSE_MS.map((name) => ({ name, opts: ms() })),
      ...TOKENS_PER_MESSAGE.map((name) => ({ name, opts: tok })),
    ]),
    async (ctx) => {
      // Take the turn first: creating the session is app work too, and must not overlap a
      // neighbour's app phase.
      const release = await pacer.turn({ overlap });
      const session = await sc.nextSession().catch((err: unknown) => {
        release();
        throw err;
      });
      const r = await chatOverApi(sc.client, session.id, questionFor(scenario, ctx.index + warmup.min), budget, {
        onFirstToken: overlap ? release : undefined,
      }).finally(release);
      // The first warm-up chat (always alone) decides whether replies stream long enough to overlap.
      if (ctx.index === -warmup.min) overlap = r.totalMs - r.ttftMs >= MIN_STREAM_TO_OVERLAP_MS;
      const { usage, timing } = r.done;
      const appOverheadMs = timing.totalMs - timing.modelMs;
      pacer.noteAppOverhead(appOverheadMs);
      chats.addReply(ctx.index, r.problems);
      ctx.record('response.ttft_ms', r.ttftMs, ms());
      ctx.record('response.total_ms', r.totalMs, ms());
      ctx.record('response.model_ms', timing.modelMs, ms({ source: 'done.timing' }));
      const chatsInFlight = overlap ? API_CONCURRENCY : 1;
      ctx.record('response.app_overhead_ms', appOverheadMs, ms({ side: 'server', chatsInFlight }));
      ctx.record('tokens.total_per_message', usage.totalTokens, tok);
      ctx.record('tokens.prompt_per_message', usage.promptTokens, tok);
      ctx.record('tokens.completion_per_message', usage.completionTokens, tok);
      // memory_retriever runs no model; skipped or failed agents used no tokens.
      for (const a of usage.agents) {
        if (a.status !== 'ok' || !a.model) continue;
        ctx.record('tokens.agent_total', a.totalTokens, {
          scenario: a.agent,
          tags: { model: a.model, responseScenario: scenario },
        });
      }
      if (!ctx.warmup) chats.add(ctx.index, r);
    },
  );
  return chats;
}

/**
 * The model's own latency for the simple query's request shape (same model, a short system prompt
 * with the user's few memories, the same questions, the completion length the app's replies had),
 * measured by the `model` fixture straight against the model endpoint. Returns the measured totals.
 */
async function directModelCalls(
  perf: PerfRecorder,
  model: ModelProbe,
  budget: TimeBudget,
  maxTokens: number,
): Promise<number[]> {
  const scenario = 'simple-query';
  const direct = { scenario, tags: { channel: 'model', model: model.conversationModel, maxTokens } } as const;
  const directTotals: number[] = [];
  await perf.repeat(
    {
      samples: perf.profile.apiSamples,
      warmup: perf.profile.warmup,
      concurrency: DIRECT_MODEL_CONCURRENCY,
      errorsTo: [{ name: 'model.direct_total_ms', opts: direct }],
    },
    async (ctx) => {
      budget.check('direct model sample');
      const r = await model.streamChat(
        [
          {
            role: 'system',
            content:
              'You are MemoryChat, a helpful assistant. What you know about the user:\n' +
              `- ${EVERYDAY_MEMORIES.join('\n- ')}`,
          },
          { role: 'user', content: questionFor(scenario, ctx.index + perf.profile.warmup) },
        ],
        { model: model.conversationModel, maxTokens, timeoutMs: budget.requestTimeoutMs(120_000) },
      );
      ctx.record('model.direct_total_ms', r.totalMs, direct);
      if (!ctx.warmup) directTotals.push(r.totalMs);
    },
  );
  return directTotals;
}

/**
 * The UI samples of the three scenarios run side by side, one browser page each (samples within
 * a page one at a time). Each page times its own reply from the send click with its own clock;
 * the reply time is the model's (seconds of waiting, not computing), so three pages streaming at
 * once on this machine change it by a few ms at most, and the suite saves two thirds of the UI
 * time. Page loads happen once per page: each sample starts a new chat with the "New chat" button
 * (simple query, large memory context) or switches to a seeded long conversation through the URL
 * hash, as clicking it in the list does (ui.spec.ts measures page loads).
 */
// eslint-disable-next-line playwright/expect-expect -- asserts through uiSamples → perf.repeat (the checks)
test(
  'chat UI: click → first token and click → done, all three scenarios',
  {
    tag: ['@response', '@ui', ...RESPONSE_SCENARIOS.map((s) => `@${s}`)],
  },
  async ({ seed, api, perf, chat, browser }) => {
    const profile = perf.profile;
    const budget = timeBudget();
    const extraContexts: BrowserContext[] = [];
    try {
      // Every scenario's data is in before any page measures: seeding is database work that
      // would otherwise run beside another page's first replies.
      const pages = await test.step('seed the three scenarios and open a page for each', () =>
        Promise.all(
          RESPONSE_SCENARIOS.map(async (scenario, i) => ({
            // Fresh chats are started in the UI; only long conversations need seeded sessions.
            sc: await setupScenario(seed, api, scenario, profile, {
              sessions: scenario === 'long-conversation' ? profile.warmup + profile.uiSamples : 0,
            }),
            tab: i === 0 ? chat : await newChatPage(browser, api.baseUrl, extraContexts),
          })),
        ));

      // One step per scenario, all three at once (steps may run concurrently).
      await Promise.all(
        pages.map(({ sc, tab }) =>
          test.step(`${sc.name}: click → first token and click → done in its own page`, () =>
            uiSamples(perf, budget, sc, tab)),
        ),
      );
    } finally {
      await Promise.all(extraContexts.map((context) => context.close()));
    }
  },
);

async function uiSamples(perf: PerfRecorder, budget: TimeBudget, sc: Scenario, chat: ChatPage): Promise<void> {
  const profile = perf.profile;
  const scenario = sc.name;
  const opts: MetricOptions = {
    scenario,
    tags: {
      channel: 'ui',
      browser: 'chromium',
      memoriesSeeded: sc.memoryCount,
      historyMessages: sc.historyMessages,
      pagesInParallel: RESPONSE_SCENARIOS.length,
    },
  };
  let opened = false;
  await perf.repeat(
    {
      samples: profile.uiSamples,
      warmup: profile.warmup,
      errorsTo: [
        { name: 'response.ui_first_token_ms', opts },
        { name: 'response.ui_done_ms', opts },
      ],
    },
    async (ctx) => {
      budget.check('UI sample');
      if (!opened) {
        await chat.open(sc.owner);
        opened = true;
      }
      // A fresh chat through the "New chat" button; a long one by switching to its seeded session.
      if (sc.historyMessages === 0) await chat.startNewChat(budget.requestTimeoutMs(15_000));
      else await chat.showSession(await sc.nextSession(), budget.requestTimeoutMs(15_000));
      const t = await timeUiReply(chat, questionFor(scenario, ctx.index + profile.warmup), budget);
      ctx.record('response.ui_first_token_ms', t.firstTokenMs, opts);
      ctx.record('response.ui_done_ms', t.doneMs, opts);
    },
  );
}
