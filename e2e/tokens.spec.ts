/**
 * Checkpoint 7.4 §2 (token usage): every agent runs on the model it is configured for, and the
 * tokens per message stay flat as the conversation history and the memory set grow (the
 * summarizer/trimming and the retriever's top-k keep the prompt within budget).
 * The per-message token metrics per response scenario are recorded by response.spec.ts.
 *
 * Ratios are recorded whatever their value (the checkpoint gates them: ≤ ~1.25 when trimming
 * works; the `token-bloat` fault makes them grow). Only correctness is expected here: an agent on
 * the wrong model is a bug, not a slow number.
 */
import { test, expect } from '../fixtures';
import { AGENTS_USING_MODELS } from '../lib/verdict/metric-catalog';
import type { Health, MessageUsage } from '../contract';
import type { PerfRecorder } from '../fixtures';
import { agentTokens, callsOf, perAgentSummary, perAgentTable } from '../lib/figures/agent-tokens';
import { timeBudget } from './helpers/budget';
import { SampleFailure } from './helpers/failures';
import { errorCode, errorMessage } from '../fixtures/perf';
import { avg, figure } from '../lib/verdict/numbers';
import { fulfilled, rejected, runInLanes } from '../lib/run/lanes';
import { RELEVANT_MEMORIES, fewSamples, questionFor } from './helpers/scenarios';
import { chatOverApi } from './helpers/stream';

test.describe.configure({ mode: 'parallel' });

/** The memory-growth side is this many times the large-context memory set (1,000 → 10,000). */
const MEMORY_GROWTH_FACTOR = 10;

/**
 * The shorter history is half the long one (100 vs 200 in `default`): seeded sessions have no
 * rolling summary yet, so the first message into any history longer than the app's verbatim window
 * pays a one-off summarizer catch-up. A history that fits the window pays none, and the ratio would
 * charge that catch-up to "history growth". Half-vs-full keeps both sides on the same footing while
 * an untrimmed prompt (`token-bloat`) still doubles.
 */
const SHORT_HISTORY_SHARE = 0.5;
/**
 * Token counts do not depend on timing, so these messages can all be in flight together, and the
 * two sides of a comparison run side by side (each side's chats start once its data is seeded).
 * `default`: 5 samples per side → one wave of model latency per side, both sides at once.
 */
const CONCURRENCY = 5;

interface Side {
  label: string;
  usages: MessageUsage[];
  failures: unknown[];
}

test(
  'history growth: tokens per message at a long vs a half-as-long history, and each agent on its model',
  { tag: ['@tokens', '@api'] },
  async ({ seed, api, perf }) => {
    const profile = perf.profile;
    const budget = timeBudget();
    const health = await api.health();
    const longHistory = profile.longConversationMessages;
    const shortHistory = Math.floor(longHistory * SHORT_HISTORY_SHARE);
    const samples = fewSamples(profile);

    const owner = await seed.user({ displayName: 'perf tokens history' });
    const client = api.as(owner);
    // One fresh session per sample, so every sample sees exactly the history length it is about.
    const sideAt = async (label: string, messages: number): Promise<Side> => {
      const sessions: number[] = [];
      for (let i = 0; i < samples; i++)
        sessions.push((await seed.session(owner, { messages, title: `${label} ${i + 1}` })).session.id);
      const results = await runInLanes(samples, CONCURRENCY, async (i) => {
        const r = await chatOverApi(client, sessions[i]!, questionFor('long-conversation', i), budget);
        return r.done.usage;
      });
      return { label, usages: fulfilled(results), failures: rejected(results) };
    };

    const [short, long] =
      await test.step(`seed ${samples} sessions per history length, one message into each (both lengths at once)`, () =>
        bothSides(sideAt(`history=${shortHistory}`, shortHistory), sideAt(`history=${longHistory}`, longHistory)));

    await test.step('history growth ratio: mean prompt tokens per message, long / short history', () =>
      recordRatio(perf, 'history', long, short, { longHistory, shortHistory }));

    await test.step('each agent runs on its configured model; tokens per agent', () => {
      const all = [...short.usages, ...long.usages];
      recordAgentModels(perf, health, all);
      recordPerAgent(perf, health, all, 'history');
    });

    await test.step(`no message over the token budget at a ${longHistory}-message history`, () => {
      const atLong = `messages over the token budget at a ${longHistory}-message history`;
      expect.soft(overBudget(long), atLong).toEqual([]);
    });
  },
);

test(
  'memory growth: tokens per message with a large vs a small memory set',
  { tag: ['@tokens', '@memory', '@api'] },
  async ({ seed, api, perf }) => {
    const profile = perf.profile;
    const budget = timeBudget();
    const health = await api.health();
    // Both sides large enough that the retriever's top-k is full: below that, more memories *should*
    // add memories to the prompt, up to the cap, and the ratio would measure that fill-up, not growth.
    const small = profile.largeContextMemories;
    const large = small * MEMORY_GROWTH_FACTOR;
    const samples = fewSamples(profile);

    const sideWith = async (memories: number): Promise<Side> => {
      const owner = await seed.user({ displayName: `perf tokens memories ${memories}` });
      await seed.memories(owner, Math.max(0, memories - RELEVANT_MEMORIES.length));
      await seed.plantMemories(owner, RELEVANT_MEMORIES);
      const client = api.as(owner);
      const results = await runInLanes(samples, CONCURRENCY, async (i) => {
        const session = await client.createSession({ title: `memories ${memories} #${i + 1}` });
        const r = await chatOverApi(client, session.id, questionFor('large-memory-context', i), budget);
        return r.done.usage;
      });
      return { label: `memories=${memories}`, usages: fulfilled(results), failures: rejected(results) };
    };

    const [smallSide, largeSide] =
      await test.step(`seed ${small} and ${large} memories, then ${samples} messages with each (both at once)`, () =>
        bothSides(sideWith(small), sideWith(large)));

    await test.step('memory growth ratio: mean prompt tokens per message, large / small memory set', () =>
      recordRatio(perf, 'memories', largeSide, smallSide, { largeSet: large, smallSet: small }));

    await test.step('mean tokens and latency per call of each agent', () =>
      recordPerAgent(perf, health, [...smallSide.usages, ...largeSide.usages], 'memories'));

    await test.step(`with ${large} memories: no message over the token budget, memories in every prompt`, () => {
      expect.soft(overBudget(largeSide), `messages over the token budget with ${large} memories`).toEqual([]);
      const withoutMemories = largeSide.usages.filter((u) => u.memoriesInPrompt <= 0).length;
      expect.soft(withoutMemories, 'messages whose prompt had no memories although relevant ones were planted').toBe(0);
    });
  },
);

/** `total > budget` for each message of the side over the app's token budget. */
function overBudget(s: Side): string[] {
  return s.usages.filter((u) => u.totalTokens > u.budget).map((u) => `${u.totalTokens} > ${u.budget}`);
}

/**
 * Both sides to the end (a failing side must not leave the other seeding behind the test's back),
 * then the first failure.
 */
async function bothSides(a: Promise<Side>, b: Promise<Side>): Promise<[Side, Side]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
  return [ra.value, rb.value];
}

/**
 * Ratio of mean *prompt* tokens per message, larger side / smaller side. Any failed message makes
 * it an error with the causes, not a ratio: a ratio of the survivors could hide that the larger
 * side's messages failed. Prompt tokens are what trimming controls; completion lengths are the
 * model's choice and only add noise to a ratio of two small means (the budget check covers totals).
 */
function recordRatio(
  perf: PerfRecorder,
  scenario: 'history' | 'memories',
  larger: Side,
  smaller: Side,
  tags: Record<string, number>,
): void {
  const opts = {
    scenario,
    tags: { ...tags, basis: 'prompt tokens', samplesPerSide: larger.usages.length + larger.failures.length },
  };
  const failures = [...larger.failures, ...smaller.failures];
  const big = avg(larger.usages.map((u) => u.promptTokens));
  const little = avg(smaller.usages.map((u) => u.promptTokens));
  const messages = larger.usages.length + smaller.usages.length + failures.length;
  const cause = failures[0];
  if (cause) {
    const failure = new SampleFailure(
      errorCode(cause),
      `${failures.length} of ${messages} messages failed, so no ratio (first: ${errorMessage(cause)})`,
    );
    perf.recordError('tokens.history_growth_ratio', failure, opts);
  } else if (big !== undefined && little !== undefined && little > 0) {
    perf.record('tokens.history_growth_ratio', big / little, opts);
  } else {
    perf.recordError('tokens.history_growth_ratio', new SampleFailure('no_samples', 'no message on one side'), opts);
  }
  perf.evidence(
    `tokens.${scenario}_growth`,
    `${scenario}: mean prompt tokens/message ${figure(big)} (${larger.label}) ` +
      `vs ${figure(little)} (${smaller.label}); failed samples ${failures.length}`,
    {
      [larger.label]: larger.usages.map(agentTokens),
      [smaller.label]: smaller.usages.map(agentTokens),
      failures: failures.map((e) => ({ code: errorCode(e), message: errorMessage(e) })),
    },
    { scenario },
  );
}

/** One 1/0 sample per observed call of each model-using agent; an agent never seen is an error. */
function recordAgentModels(perf: PerfRecorder, health: Health, usages: MessageUsage[]): void {
  const mismatches: string[] = [];
  for (const agent of AGENTS_USING_MODELS) {
    const expected = health.models[agent];
    const opts = { scenario: agent, tags: { expectedModel: expected ?? 'unconfigured' } };
    const calls = callsOf(usages, agent).filter((a) => a.status !== 'skipped' && a.model !== null);
    if (!calls.length) {
      perf.recordError(
        'tokens.agent_model_match',
        new SampleFailure('not_observed', `agent ${agent} made no model call in ${usages.length} messages`),
        opts,
      );
      continue;
    }
    for (const a of calls) {
      const ok = expected !== undefined && a.model === expected;
      perf.record('tokens.agent_model_match', ok ? 1 : 0, opts);
      if (!ok) mismatches.push(`${agent} ran on ${a.model} but is configured for ${expected ?? '(nothing)'}`);
    }
  }
  expect
    .soft([...new Set(mismatches)], 'every agent runs on the model /api/health says it is configured for')
    .toEqual([]);
}

/** Evidence `tokens.per_agent`: the per-agent table of the messages, and its one-line summary. */
function recordPerAgent(perf: PerfRecorder, health: Health, usages: MessageUsage[], scenario: string): void {
  const table = perAgentTable(health, usages);
  perf.evidence('tokens.per_agent', perAgentSummary(table), table, { scenario });
}
