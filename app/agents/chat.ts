/**
 * One chat message, end to end: store the user's message, run the agents, stream the reply,
 * store the outcome and every agent call in agent_logs.
 *
 *   memory_retriever (DB) ─┐
 *   history window (DB) ───┼─► budget plan ─► conversation (stream) ─┐
 *                          │                 memory_extractor ───────┼─► store, agent_logs, usage
 *                          └─ (long sessions) summarizer ────────────┘
 *
 * The three model agents run concurrently; each has its own slice of the token budget, so their
 * sum never exceeds it. A failing conversation call ends the assistant message in status 'error'
 * with a readable reason; the user's message and everything else stay.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentName, AgentUsage, Fault, Message, MessageUsage } from '../../contract';
import type { Db } from '../db/db';
import * as repo from '../db/repo';
import { HISTORY_WINDOW, planBudget, type BudgetPlan } from './budget';
import { buildConversationPrompt } from './conversation';
import { extractMemories } from './memory-extractor';
import { retrieveMemories } from './memory-retriever';
import { CallAborted, ModelError, type ModelClient, type ModelResult } from './model';
import { buildSummarizerPrompt, summarize } from './summarizer';

export interface ChatSettings {
  tokenBudget: number;
  conversationModel: string;
  smallModel: string;
  summaryEvery: number;
  faults: readonly Fault[];
  /** Size of the graded faults (MEMORYCHAT_FAULT_MS); undefined = each fault's default. */
  faultMs?: number | undefined;
}

/** Default extra time of the `slow-chat` fault. */
const SLOW_CHAT_DEFAULT_MS = 50;
/**
 * Below this, `slow-chat` is CPU time in the app instead of a timer: a 1.6 ms timer added only
 * 0.8–1.0 ms to a turn (timers round to whole milliseconds), and a graded fault must be its size.
 */
const SLOW_CHAT_TIMER_FROM_MS = 5;

export interface ChatDeps {
  db: Db;
  model: ModelClient;
  settings: ChatSettings;
}

export interface ChatEvents {
  /** Both messages are stored (ids known). */
  onStored?(user: Message, assistant: Message): void;
  onDelta?(delta: string): void;
}

export interface ChatOutcome {
  userMessage: Message;
  assistantMessage: Message;
  usage: MessageUsage;
  /** When each model call ran (performance.now()), for the model share of the request time. */
  modelIntervals: [number, number][];
  /** performance.now() of the first reply token, if any. */
  firstTokenAt: number | undefined;
  error: { code: 'model_error' | 'model_timeout' | 'internal'; message: string } | undefined;
}

type LogRow = repo.AgentLogRow;

export async function runChat(
  deps: ChatDeps,
  args: { userId: number; sessionId: number; content: string; signal: AbortSignal; events?: ChatEvents },
): Promise<ChatOutcome | 'session_not_found'> {
  const { db, settings } = deps;
  // Gone before anything was stored: nothing to do for it. (Gone later: every model call that has
  // not started yet is skipped and the ones running are cancelled, through `signal`.)
  if (args.signal.aborted) throw new CallAborted('the client disconnected before its message was stored');
  const stored = await repo.startExchange(db, args.userId, args.sessionId, args.content, settings.conversationModel);
  if (!stored) return 'session_not_found';
  try {
    return await serializedIf(settings.faults, () => runAgents(deps, args, stored));
  } catch (err) {
    // The user's message stays; the assistant placeholder must not stay 'streaming' forever.
    await repo
      .failExchange(db, stored.assistant.id, `internal error: ${err instanceof Error ? err.message : String(err)}`)
      .catch(() => undefined);
    throw err;
  }
}

/**
 * The messages in (afterId, beforeId), newest first, at most `limit` (what `repo.historyBetween`
 * returns), taken from `loaded` (the newest complete messages, newest first, read with `readLimit`);
 * undefined when that read may have stopped before them.
 */
export function alreadyRead(
  loaded: readonly repo.HistoryMessage[],
  readLimit: number,
  afterId: number,
  beforeId: number,
  limit: number,
): repo.HistoryMessage[] | undefined {
  const between = loaded.filter((m) => m.id > afterId && m.id < beforeId);
  const oldest = loaded[loaded.length - 1];
  const covered =
    loaded.length < readLimit || between.length >= limit || (oldest !== undefined && oldest.id <= afterId);
  return covered ? between.slice(0, limit) : undefined;
}

type ChatArgs = Parameters<typeof runChat>[1];
type StoredExchange = NonNullable<Awaited<ReturnType<typeof repo.startExchange>>>;

async function slowChat(ms: number): Promise<void> {
  if (ms < SLOW_CHAT_TIMER_FROM_MS) repo.spin(ms);
  else await sleep(ms);
}

async function runAgents(deps: ChatDeps, args: ChatArgs, stored: StoredExchange): Promise<ChatOutcome> {
  const { db, model, settings } = deps;
  const faults = settings.faults;
  const trim = !faults.includes('token-bloat');
  const session = stored.session;
  args.events?.onStored?.(stored.user, stored.assistant);

  // Graded faults (compare mode's self-tests): a little more work per turn, before the model call.
  if (faults.includes('slow-chat')) await slowChat(settings.faultMs ?? SLOW_CHAT_DEFAULT_MS);
  if (faults.includes('extra-query')) await db.query('SELECT 1');

  // ---- DB phase: memories and history, in parallel. The history read also takes the messages
  // the summarizer may fold in (below), so a long conversation needs no second read.
  const summarizerBatch = settings.summaryEvery * 2;
  const historyRead = HISTORY_WINDOW + summarizerBatch;
  const [retrieval, loaded] = await Promise.all([
    retrieveMemories(db, {
      userId: args.userId,
      profileId: session.profileId,
      text: args.content,
      faults,
      faultMs: settings.faultMs,
    }),
    trim
      ? repo.recentHistory(db, session.id, stored.user.id, historyRead)
      : repo.fullHistory(db, session.id, stored.user.id),
  ]);
  const history = trim ? loaded.slice(0, HISTORY_WINDOW) : loaded;

  // ---- Does the rolling summary need a refresh? Only when the history overflows the window.
  let summarizerInput: repo.HistoryMessage[] = [];
  const overflow = trim && history.length >= HISTORY_WINDOW;
  // The same prompt for either budget plan: with a summary refresh, the conversation's slice is smaller.
  const promptFor = (budget: BudgetPlan) =>
    buildConversationPrompt({
      slice: budget.conversation,
      userText: args.content,
      summary: session.summary,
      memories: retrieval.memories,
      history,
      trim,
      extraToken: faults.includes('extra-token'),
    });
  let plan = planBudget(settings.tokenBudget, false);
  let prompt = promptFor(plan);
  const windowFull = trim && prompt.historyMessagesInPrompt < history.length;
  if (overflow || windowFull) {
    const oldestInPrompt = history[prompt.historyMessagesInPrompt - 1]?.id ?? stored.user.id;
    const afterId = session.summaryUptoId ?? 0;
    const pending =
      alreadyRead(loaded, historyRead, afterId, oldestInPrompt, summarizerBatch) ??
      (await repo.historyBetween(db, session.id, afterId, oldestInPrompt, summarizerBatch));
    if (pending.length > 0 && (session.summary === null || pending.length >= settings.summaryEvery)) {
      summarizerInput = pending;
      plan = planBudget(settings.tokenBudget, true);
      prompt = promptFor(plan);
    }
  }

  const logs: LogRow[] = [
    {
      agent: 'memory_retriever',
      model: null,
      promptTokens: 0,
      completionTokens: 0,
      latencyMs: retrieval.latencyMs,
      status: 'ok',
      error: null,
      detail: { candidates: retrieval.memories.length, queries: retrieval.queries },
    },
  ];
  const intervals: [number, number][] = [];
  const record = (r: ModelResult): void => {
    intervals.push([r.startedAt, r.endedAt]);
  };
  const failure = (
    agent: AgentName,
    modelName: string,
    startedAt: number,
    err: unknown,
    detail: Record<string, unknown> | null = null,
  ): LogRow => {
    intervals.push([startedAt, performance.now()]);
    return {
      agent,
      model: modelName,
      promptTokens: 0,
      completionTokens: 0,
      latencyMs: performance.now() - startedAt,
      status: 'error',
      error: err instanceof Error ? err.message : String(err),
      detail,
    };
  };

  // ---- Model phase: three agents at once.
  let firstTokenAt: number | undefined;
  const convStart = performance.now();
  const conversation = model
    .chat({
      model: settings.conversationModel,
      messages: prompt.messages,
      maxTokens: trim ? plan.conversation.completion : Math.max(plan.conversation.completion, 1000),
      signal: args.signal,
      onDelta: (delta) => {
        firstTokenAt ??= performance.now();
        args.events?.onDelta?.(delta);
      },
    })
    .then(
      (r) => ({ ok: true as const, r }),
      (err: unknown) => ({ ok: false as const, err }),
    );

  const extractorStart = performance.now();
  const extraction = extractMemories(model, settings.smallModel, args.content, plan.extractor, args.signal)
    .then(
      async ({ result, memories }): Promise<LogRow> => {
        record(result);
        const saved = await repo.insertMemories(
          db,
          args.userId,
          memories.map((m) => ({
            content: m.content,
            importance: m.importance,
            profileId: session.profileId,
            sourceMessageId: stored.user.id,
          })),
        );
        return {
          agent: 'memory_extractor',
          model: settings.smallModel,
          promptTokens: result.promptTokens,
          completionTokens: result.completionTokens,
          latencyMs: result.latencyMs,
          status: 'ok',
          error: null,
          detail: { stored: saved.length },
        };
      },
      (err: unknown) => failure('memory_extractor', settings.smallModel, extractorStart, err),
      // Storing the memories can fail too (pool exhausted, user deleted): settle into an error row
      // here, or the rejection would go unhandled while the reply still streams and kill the server.
    )
    .catch((err: unknown) => failure('memory_extractor', settings.smallModel, extractorStart, err));

  const summarizerStart = performance.now();
  const summaryPrompt =
    summarizerInput.length > 0 ? buildSummarizerPrompt(session.summary, summarizerInput, plan.summarizer) : undefined;
  const summarization: Promise<LogRow> = summaryPrompt
    ? summarize(model, settings.smallModel, summaryPrompt.prompt, plan.summarizer, args.signal)
        .then(
          async ({ result, summary }): Promise<LogRow> => {
            record(result);
            await repo.saveSummary(db, session.id, summary, summaryPrompt.uptoId);
            return {
              agent: 'summarizer',
              model: settings.smallModel,
              promptTokens: result.promptTokens,
              completionTokens: result.completionTokens,
              latencyMs: result.latencyMs,
              status: 'ok',
              error: null,
              detail: { folded: summarizerInput.length, uptoId: summaryPrompt.uptoId },
            };
          },
          (err: unknown) => failure('summarizer', settings.smallModel, summarizerStart, err),
        )
        .catch((err: unknown) => failure('summarizer', settings.smallModel, summarizerStart, err))
    : Promise.resolve<LogRow>({
        agent: 'summarizer',
        model: settings.smallModel,
        promptTokens: 0,
        completionTokens: 0,
        latencyMs: 0,
        status: 'skipped',
        error: null,
        detail: { reason: trim ? 'history fits the prompt or summary is fresh' : 'token-bloat fault: no trimming' },
      });

  const conv = await conversation;
  let error: ChatOutcome['error'];
  let text = '';
  const promptDetail = {
    memoriesInPrompt: prompt.memoriesInPrompt,
    historyMessagesInPrompt: prompt.historyMessagesInPrompt,
    estimatedPromptTokens: prompt.estimatedTokens,
  };
  if (conv.ok) {
    record(conv.r);
    logs.push({
      agent: 'conversation',
      model: settings.conversationModel,
      promptTokens: conv.r.promptTokens,
      completionTokens: conv.r.completionTokens,
      latencyMs: conv.r.latencyMs,
      status: 'ok',
      error: null,
      detail: { ...promptDetail, ttftMs: conv.r.ttftMs },
    });
    text = conv.r.text;
  } else {
    const err = conv.err;
    error =
      err instanceof ModelError
        ? { code: err.code, message: err.message }
        : err instanceof CallAborted
          ? { code: 'internal', message: 'the client disconnected before the reply finished' }
          : { code: 'internal', message: `conversation failed: ${err instanceof Error ? err.message : String(err)}` };
    logs.push(failure('conversation', settings.conversationModel, convStart, err, promptDetail));
  }
  logs.push(await extraction, await summarization);
  const assistant = await repo.finishExchange(
    db,
    { sessionId: session.id, assistantId: stored.assistant.id, userId: args.userId },
    text,
    error ? 'error' : 'complete',
    error?.message ?? null,
    logs,
  );
  return {
    userMessage: stored.user,
    assistantMessage: assistant,
    usage: usageFrom(assistant.id, settings.tokenBudget, logs),
    modelIntervals: intervals,
    firstTokenAt,
    error,
  };
}

const AGENT_ORDER: AgentName[] = ['memory_retriever', 'conversation', 'memory_extractor', 'summarizer'];

/** MessageUsage from the agent_logs rows of one assistant message. */
export function usageFrom(messageId: number, budget: number, logs: readonly LogRow[]): MessageUsage {
  const agents: AgentUsage[] = [...logs]
    .sort((a, b) => AGENT_ORDER.indexOf(a.agent as AgentName) - AGENT_ORDER.indexOf(b.agent as AgentName))
    .map((l) => ({
      agent: l.agent as AgentName,
      model: l.model,
      promptTokens: l.promptTokens,
      completionTokens: l.completionTokens,
      totalTokens: l.promptTokens + l.completionTokens,
      latencyMs: Math.round(l.latencyMs * 100) / 100,
      status: l.status,
    }));
  const conversation = logs.find((l) => l.agent === 'conversation');
  const detailNumber = (key: string): number => {
    const v = conversation?.detail?.[key];
    return typeof v === 'number' ? v : 0;
  };
  const promptTokens = agents.reduce((n, a) => n + a.promptTokens, 0);
  const completionTokens = agents.reduce((n, a) => n + a.completionTokens, 0);
  return {
    messageId,
    promptTokens,
    completionTokens,
    totalTokens: promptTokens + completionTokens,
    budget,
    agents,
    memoriesInPrompt: detailNumber('memoriesInPrompt'),
    historyMessagesInPrompt: detailNumber('historyMessagesInPrompt'),
  };
}

/** Total length of the union of intervals (overlapping model calls count once). */
export function unionMs(intervals: readonly [number, number][]): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let curStart = -Infinity;
  let curEnd = -Infinity;
  for (const [s, e] of sorted) {
    if (s > curEnd) {
      if (curEnd > curStart) total += curEnd - curStart;
      curStart = s;
      curEnd = e;
    } else if (e > curEnd) {
      curEnd = e;
    }
  }
  if (curEnd > curStart) total += curEnd - curStart;
  return total;
}

/**
 * The `serialize-chats` fault: every chat turn waits for the one before it, app-wide (a global
 * lock, as a careless "one model call at a time" or a single shared connection would do). One
 * user at a time notices nothing; many users at once queue behind each other, which is what the
 * load test (`npm run load`) must catch.
 */
let chatTurnQueue: Promise<unknown> = Promise.resolve();

function serializedIf<T>(faults: readonly Fault[], turn: () => Promise<T>): Promise<T> {
  if (!faults.includes('serialize-chats')) return turn();
  const run = chatTurnQueue.then(turn, turn);
  chatTurnQueue = run.catch(() => undefined);
  return run;
}
