/**
 * Checkpoint 7.4 §1 (response times) and the per-message part of §2 (token usage), for the three
 * response scenarios, each via the API (streamed, client clock) and via the chat UI in Chromium
 * (in-page clock). The large-memory-context API chats also give §4's bottleneck evidence (the
 * app's share of the round trip, the SQL statements they ran).
 *
 * Two API chats are in flight per test, paced by first token, and the three UI scenarios run in
 * parallel pages; docs/measurement-notes.md shows with measurements why that leaves the numbers
 * unchanged.
 * Every failed sample is recorded as an error with its cause (never dropped), and no threshold is
 * asserted here: the checkpoint reporter gates the limits. Only correctness is expected.
 */
import { test, expect } from '../fixtures';
import { RESPONSE_SCENARIOS, type ResponseScenario } from '../lib/metric-catalog';
import type { BrowserContext, Page } from '@playwright/test';
import { ChatPageObject } from '../fixtures/chat-page';
import type { ChatPage, MetricOptions, PerfRecorder } from '../fixtures';
import { timeBudget, type TimeBudget } from './helpers/budget';
import { SampleFailure } from './helpers/failures';
import { FirstTokenPacer } from './helpers/pacing';
import { settleBefore } from './helpers/quiet';
import { diffStatements, statementSnapshot, type StatementSnapshot } from '../lib/statements';
import { avg, p50, round } from '../lib/numbers';
import { EVERYDAY_MEMORIES, questionFor, setupScenario, type Scenario } from './helpers/scenarios';
import { CHAT_TIMEOUT_MS, chatOverApi } from './helpers/stream';

// Serial on purpose: the API tests' concurrency is chosen for one test at a time (see above).

/** Chat requests in flight per API test, paced by first token (see the header for why). */
const API_CONCURRENCY = 2;
/**
 * Chats overlap only when a reply streams this long after its first token: ten times the app
 * overhead limit, so the neighbour's app phases fit inside the stream. With the instant model
 * (smoke) the stream lasts milliseconds, so the chats run one at a time.
 */
const MIN_STREAM_TO_OVERLAP_MS = 250;
/**
 * Direct model calls in flight (no app work to disturb; the simulator/API waits, it does not
 * compute): 10 keeps `default`'s 20 samples to two waves and stays polite to a real API's limits.
 */
const DIRECT_MODEL_CONCURRENCY = 10;
/** The scenario whose chats also give the "no major bottlenecks" evidence (app share, statements). */
const BOTTLENECK_SCENARIO: ResponseScenario = 'large-memory-context';
const TOP_STATEMENTS = 10;
/**
 * Extra warm-up chats of the long-conversation API test: its first one or two measured chats were
 * the slowest in app overhead in 4 of 8 perf runs and in a smoke run (a 200-message
 * history, not yet warm), which put its p95 over the limit on unchanged code. The limit and sample
 * count stay.
 */
const LONG_CONVERSATION_EXTRA_WARMUP = 2;

const RESPONSE_MS = ['response.ttft_ms', 'response.total_ms', 'response.model_ms', 'response.app_overhead_ms'] as const;
const TOKENS_PER_MESSAGE = [
  'tokens.total_per_message',
  'tokens.prompt_per_message',
  'tokens.completion_per_message',
] as const;

const SCENARIO_TAG: Record<ResponseScenario, string> = {
  'simple-query': '@simple-query',
  'large-memory-context': '@large-memory-context',
  'long-conversation': '@long-conversation',
};

for (const scenario of RESPONSE_SCENARIOS) {
  test(
    `${scenario}: streamed reply via the API (ttft, round trip, model time, app overhead, tokens)`,
    {
      tag: [
        '@response',
        '@tokens',
        '@api',
        SCENARIO_TAG[scenario],
        ...(scenario === BOTTLENECK_SCENARIO ? ['@bottlenecks'] : []),
      ],
    },
    async ({ seed, api, perf, model, db }) => {
      const profile = perf.profile;
      const budget = timeBudget();
      const warmup = profile.warmup + (scenario === 'long-conversation' ? LONG_CONVERSATION_EXTRA_WARMUP : 0);
      const sc = await setupScenario(seed, api, scenario, profile, { sessions: warmup + profile.apiMaxSamples });
      const health = await api.health();
      const tags = { channel: 'api', memoriesSeeded: sc.memoryCount, historyMessages: sc.historyMessages };
      const ms = (extra: MetricOptions['tags'] = {}): MetricOptions => ({
        scenario,
        tags: { ...tags, ...extra },
      });
      const tok: MetricOptions = { scenario, tags };

      const problems: string[] = [];
      const overBudget: string[] = [];
      const withoutMemories: number[] = [];
      const clientOverhead: number[] = [];
      const serverOverhead: number[] = [];
      const roundTrips: number[] = [];
      const conversationCompletion: number[] = [];
      // App overhead is a ~10 ms quantity: start from a quiet machine (the set-up above just seeded).
      await settleBefore(perf, `${scenario} chats via the API`, { scenario });
      const statementsBefore = scenario === BOTTLENECK_SCENARIO ? await statementSnapshot(db) : undefined;
      const statementsPerChat: number[] = [];
      const pacer = new FirstTokenPacer();
      let overlap = false;

      await perf.repeat(
        {
          samples: profile.apiSamples,
          maxSamples: profile.apiMaxSamples,
          warmup,
          concurrency: API_CONCURRENCY,
          errorsTo: [
            ...RESPONSE_MS.map((name) => ({ name, opts: ms() })),
            ...TOKENS_PER_MESSAGE.map((name) => ({ name, opts: tok })),
          ],
        },
        async (ctx) => {
          // Take the turn first: creating the session is app work too, and must not overlap a
          // neighbour's app phase.
          const release = await pacer.turn();
          const session = await sc.nextSession().catch((err: unknown) => {
            release();
            throw err;
          });
          const r = await chatOverApi(sc.client, session.id, questionFor(scenario, ctx.index + warmup), budget, {
            onFirstToken: overlap ? release : undefined,
          }).finally(release);
          // The warm-up chat (always alone) decides whether replies stream long enough to overlap.
          if (ctx.warmup) overlap = r.totalMs - r.ttftMs >= MIN_STREAM_TO_OVERLAP_MS;
          const { usage, timing } = r.done;
          problems.push(...r.problems.map((p) => `sample ${ctx.index}: ${p}`));

          ctx.record('response.ttft_ms', r.ttftMs, ms());
          ctx.record('response.total_ms', r.totalMs, ms());
          ctx.record('response.model_ms', timing.modelMs, ms({ source: 'done.timing' }));
          ctx.record(
            'response.app_overhead_ms',
            timing.totalMs - timing.modelMs,
            ms({ side: 'server', chatsInFlight: overlap ? API_CONCURRENCY : 1 }),
          );
          ctx.record('tokens.total_per_message', usage.totalTokens, tok);
          ctx.record('tokens.prompt_per_message', usage.promptTokens, tok);
          ctx.record('tokens.completion_per_message', usage.completionTokens, tok);
          for (const a of usage.agents) {
            // memory_retriever runs no model; skipped or failed agents used no tokens.
            if (a.status !== 'ok' || !a.model) continue;
            ctx.record('tokens.agent_total', a.totalTokens, {
              scenario: a.agent,
              tags: { model: a.model, responseScenario: scenario },
            });
            if (a.agent === 'conversation' && !ctx.warmup) conversationCompletion.push(a.completionTokens);
          }

          if (ctx.warmup) return;
          if (timing.dbQueries !== undefined) statementsPerChat.push(timing.dbQueries);
          clientOverhead.push(r.totalMs - timing.modelMs);
          serverOverhead.push(timing.totalMs - timing.modelMs);
          roundTrips.push(r.totalMs);
          if (usage.totalTokens > usage.budget)
            overBudget.push(`sample ${ctx.index}: ${usage.totalTokens} > ${usage.budget}`);
          if (usage.memoriesInPrompt <= 0) withoutMemories.push(ctx.index);
        },
      );

      // The app-overhead split seen from both sides: the server's own (the metric) and the
      // client's (round trip − model time, so it also contains network and SSE framing).
      perf.evidence(
        'response.app_overhead_split',
        `${scenario}: app overhead p50 ${fmt(p50(serverOverhead))} ms server-side, ` +
          `${fmt(p50(clientOverhead))} ms client-side (round trip − model time), ` +
          `round trip p50 ${fmt(p50(roundTrips))} ms`,
        {
          serverSideMs: serverOverhead.map((v) => round(v)),
          clientSideMs: clientOverhead.map((v) => round(v)),
          tokenBudget: health.tokenBudget,
          faults: health.faults,
        },
        { scenario },
      );

      if (statementsBefore) {
        recordBottleneckEvidence(perf, {
          serverOverhead,
          roundTrips,
          statementsPerChat,
          before: statementsBefore,
          after: await statementSnapshot(db),
        });
      }

      if (scenario === 'simple-query') {
        // The model's own latency for the same request shape (same model, a short system prompt with
        // the user's few memories, the same question, the completion length the app's replies had),
        // measured by the `model` fixture straight against the model endpoint.
        const maxTokens = Math.max(16, Math.round(avg(conversationCompletion) ?? 64));
        const direct = {
          scenario,
          tags: { channel: 'model', model: model.conversationModel, maxTokens },
        } as const;
        const directTotals: number[] = [];
        await perf.repeat(
          {
            samples: profile.apiSamples,
            warmup: profile.warmup,
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
                { role: 'user', content: questionFor(scenario, ctx.index + profile.warmup) },
              ],
              { model: model.conversationModel, maxTokens },
            );
            ctx.record('model.direct_total_ms', r.totalMs, direct);
            if (!ctx.warmup) directTotals.push(r.totalMs);
          },
        );
        perf.evidence(
          'response.app_vs_model',
          `simple-query: app round trip p50 ${fmt(p50(roundTrips))} ms vs the model alone ` +
            `p50 ${fmt(p50(directTotals))} ms (difference ${fmt(diff(p50(roundTrips), p50(directTotals)))} ms)`,
          {
            appRoundTripP50: p50(roundTrips),
            modelDirectP50: p50(directTotals),
            maxTokens,
          },
          { scenario },
        );
      }

      // Correctness, checked after everything was recorded (soft: the metrics still get attached).
      expect.soft(problems, 'every reply stream is well-formed: meta, tokens, done with usage and timing').toEqual([]);
      // Each check applies to the scenarios it names; for the others there is nothing to find.
      const memoriesExpected = scenario === 'large-memory-context';
      const budgetApplies = scenario !== 'simple-query';
      expect
        .soft(
          memoriesExpected ? withoutMemories : [],
          `samples whose prompt had no memories although the user has ${sc.memoryCount}`,
        )
        .toEqual([]);
      expect
        .soft(
          budgetApplies ? overBudget : [],
          `messages over the ${health.tokenBudget}-token budget: trimming/summarising must keep ${scenario} within it`,
        )
        .toEqual([]);
    },
  );
}

/**
 * Checkpoint 7.4 §4 evidence from the large-memory-context chats (the heaviest prompt-building
 * path): the app's share of the round trip (p50 server-side overhead / p50 round trip, one derived
 * sample) and which SQL statements those chats ran (`pg_stat_statements`, evidence only: the view
 * is database-wide). Statements per chat by memory count are in memory-scaling.spec.ts.
 */
function recordBottleneckEvidence(
  perf: PerfRecorder,
  r: {
    serverOverhead: number[];
    roundTrips: number[];
    statementsPerChat: number[];
    before: StatementSnapshot;
    after: StatementSnapshot;
  },
): void {
  const shareOpts: MetricOptions = {
    scenario: 'default',
    tags: { scenario: BOTTLENECK_SCENARIO, samples: r.roundTrips.length },
  };
  const o = p50(r.serverOverhead);
  const t = p50(r.roundTrips);
  if (o !== undefined && t !== undefined && t > 0)
    perf.record('bottlenecks.app_overhead_share', o / t, {
      ...shareOpts,
      tags: { ...shareOpts.tags, overheadP50Ms: round(o, 1), roundTripP50Ms: round(t, 1) },
    });
  else
    perf.recordError(
      'bottlenecks.app_overhead_share',
      new SampleFailure('not_derivable', 'no successful chat sample'),
      shareOpts,
    );
  perf.evidence(
    'bottlenecks.app_overhead',
    `app overhead p50 ${fmt(o)} ms of a ${fmt(t)} ms round trip ` +
      `(${o !== undefined && t ? round((100 * o) / t, 1) : 'n/a'} %)`,
    { overheadMs: r.serverOverhead.map((v) => round(v)), roundTripMs: r.roundTrips.map((v) => round(v)) },
  );

  if ('error' in r.before || 'error' in r.after) {
    const why = 'error' in r.before ? r.before.error : 'error' in r.after ? r.after.error : '';
    perf.evidence('bottlenecks.top_statements', `pg_stat_statements not available: ${why}`, null, {});
    return;
  }
  const diff = diffStatements(r.before.rows, r.after.rows);
  const byTime = [...diff].sort((a, b) => b.total_ms - a.total_ms).slice(0, TOP_STATEMENTS);
  const byCalls = [...diff].sort((a, b) => b.calls - a.calls).slice(0, TOP_STATEMENTS);
  const totalCalls = diff.reduce((n, d) => n + d.calls, 0);
  const top = byTime[0];
  const slowest = top ? `${round(top.total_ms, 1)} ms over ${top.calls} calls: ${top.query.slice(0, 80)}` : 'none';
  perf.evidence(
    'bottlenecks.top_statements',
    `${r.roundTrips.length} ${BOTTLENECK_SCENARIO} chats: ${totalCalls} statements database-wide; ` +
      `app-reported ${fmt(p50(r.statementsPerChat))} per chat (p50); slowest total: ${slowest}`,
    {
      byTotalTime: byTime,
      byCalls,
      appReportedStatementsPerChat: r.statementsPerChat,
      note: 'pg_stat_statements is database-wide: concurrent work is included',
    },
  );
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
    tag: ['@response', '@ui', ...RESPONSE_SCENARIOS.map((s) => SCENARIO_TAG[s])],
  },
  async ({ seed, api, perf, chat, page, browser }) => {
    const profile = perf.profile;
    const budget = timeBudget();
    const extraContexts: BrowserContext[] = [];
    try {
      await Promise.all(
        RESPONSE_SCENARIOS.map(async (scenario, i) => {
          // Fresh chats are started in the UI; only long conversations need seeded sessions.
          const sc = await setupScenario(seed, api, scenario, profile, {
            sessions: scenario === 'long-conversation' ? profile.warmup + profile.uiSamples : 0,
          });
          let tab: { page: Page; chat: ChatPage } = { page, chat };
          if (i > 0) {
            const context = await browser.newContext();
            extraContexts.push(context);
            const p = await context.newPage();
            tab = { page: p, chat: new ChatPageObject(p, api.baseUrl) };
          }
          await uiSamples(perf, budget, sc, tab);
        }),
      );
    } finally {
      for (const context of extraContexts) await context.close();
    }
  },
);

async function uiSamples(
  perf: PerfRecorder,
  budget: TimeBudget,
  sc: Scenario,
  tab: { page: Page; chat: ChatPage },
): Promise<void> {
  const { chat } = tab;
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
      await chat.armReplyProbe();
      await chat.send(questionFor(scenario, ctx.index + profile.warmup));
      try {
        await chat.waitForReplyEnd(budget.requestTimeoutMs(CHAT_TIMEOUT_MS));
      } catch {
        throw new SampleFailure('timeout', 'the reply did not reach data-state="done" or "error" in the UI in time');
      }
      const p = await chat.replyMarks();
      if (p.errorAt !== null)
        throw new SampleFailure(codeFromUiText(p.errorText), `UI shows an error reply: ${p.errorText ?? '(no text)'}`);
      if (p.clickAt === null) throw new SampleFailure('probe', 'the send click was not observed by the in-page probe');
      if (p.firstTokenAt === null || p.doneAt === null)
        throw new SampleFailure('probe', 'reply finished without a first token being rendered');
      ctx.record('response.ui_first_token_ms', p.firstTokenAt - p.clickAt, opts);
      ctx.record('response.ui_done_ms', p.doneAt - p.clickAt, opts);
    },
  );
}

/**
 * The UI shows the server's error *message*, not its code: map the app's wording back to the code
 * (model 5xx → model_error, deadline → model_timeout), else `ui_error` with the text as cause.
 */
function codeFromUiText(text: string | null): string {
  const t = text ?? '';
  const named = /\b(model_error|model_timeout|internal|unauthorized|validation|not_found)\b/.exec(t);
  if (named?.[1]) return named[1];
  if (/model answered [45]\d\d|model_error/i.test(t)) return 'model_error';
  if (/did not answer within|timed out/i.test(t)) return 'model_timeout';
  return 'ui_error';
}

function fmt(v: number | undefined): string {
  return v === undefined ? 'n/a' : String(round(v, 1));
}

function diff(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined ? undefined : a - b;
}
