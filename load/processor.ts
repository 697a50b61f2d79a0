/**
 * Artillery processor for the chat load test (load/chat.yml). Artillery bundles this file with
 * esbuild into each worker (its TypeScript processor support), so it imports only small,
 * dependency-free modules: no Playwright test runner, no config loader, no database.
 *
 * What Artillery cannot time itself is the streamed reply: `chatTurn` sends one message with
 * `Accept: text/event-stream` and measures it with {@link ChatStreamTimer}, then reports custom
 * metrics through Artillery's event emitter, which Artillery aggregates per period and merges
 * across workers (histograms as sketches):
 *
 *   histogram chat.ttft_ms      request sent → first token
 *   histogram chat.itl_ms       gap between consecutive tokens (one sample per gap)
 *   histogram chat.total_ms     request sent → `done` (round trip); failed requests too
 *   counter   chat.requests     every chat request
 *   counter   chat.ok           ended in `done`
 *   counter   chat.good         ended in `done` within LOAD_LIMIT_MS (goodput)
 *   counter   chat.failed.<cause>  see ChatFailure in sse-timing.ts
 *   counter   chat.tokens       streamed tokens
 *   histogram chat.server_ttft_ms / chat.server_total_ms  the app's own timing from `done` (when sent)
 *   histogram load.active_users  users of this worker in their chat loop, sampled at each chat start
 *   histogram load.chats_in_flight  chats of this worker streaming, sampled at each chat start
 *
 * Bearer tokens come from the users payload file (one row per seeded user) and are only ever
 * put in request headers: nothing here logs them or puts them in a metric name.
 */
import { createTextGenerator } from '../data/text-corpus';
import { appendFileSync } from 'node:fs';
import { ChatStreamTimer, CLIENT_TIMEOUT_MS, failureOfError, type ChatFailure } from './sse-timing';

/** The parts of Artillery's VU context and event emitter this processor uses. */
export interface VuContext {
  vars: Record<string, unknown>;
}
export interface VuEvents {
  emit(type: 'counter' | 'histogram', name: string, value: number): void;
}

export function numberFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? NaN : Number(raw);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

const LIMIT_MS = numberFromEnv('LOAD_LIMIT_MS', 5_000);
/** Raw samples file (multi-worker merge check only): one JSON line per chat. Unset: none. */
const SAMPLES_FILE = process.env.LOAD_SAMPLES_FILE;

/** Per worker: how many users are in their chat loop and how many chats are streaming now. */
let activeUsers = 0;
let chatsInFlight = 0;

/** Messages for the API and the browser users. */
export const text = createTextGenerator((Date.now() ^ (Math.random() * 0xffffffff)) >>> 0);

/** A VU variable as text ('' when absent or not text). */
function textVar(context: VuContext, name: string): string {
  const v = context.vars[name];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}

/** The VU's target and its user's bearer token (a row of the payload file). */
export function userOf(context: VuContext): { target: string; token: string } {
  const target = textVar(context, 'target');
  const token = textVar(context, 'token');
  if (!target || !token) {
    throw new Error('load scenario: the VU has no target or no user token (payload file missing?)');
  }
  return { target, token };
}

/** Artillery `function` step: picks this turn's message and a memory search query. */
export function pickMessage(context: VuContext, _events: VuEvents, done: (err?: Error) => void): void {
  if (context.vars.active !== true) {
    context.vars.active = true;
    activeUsers += 1;
  }
  const message = text.userMessage();
  context.vars.message = message;
  // Two of the message's longer words: a query that matches some memories and not all.
  const words = message.toLowerCase().match(/[a-z]{5,}/g) ?? ['coffee'];
  context.vars.searchQuery = [...new Set(words)].slice(0, 2).join(' ');
  // Think time 0.5–1.5 × thinkMs, so that users drift apart instead of sending in lockstep.
  context.vars.thinkDelay = `${Math.round(Number(context.vars.thinkMs ?? 2000) * (0.5 + Math.random()))}ms`;
  done();
}

/** Artillery `function` step: one streamed chat turn, timed. Never throws for a failed reply. */
export async function chatTurn(context: VuContext, events: VuEvents): Promise<void> {
  const { target, token } = userOf(context);
  const sessionId = Number(context.vars.sessionId);
  if (!Number.isInteger(sessionId) || sessionId <= 0) throw new Error('load scenario: no session id was captured');
  const content = textVar(context, 'message') || 'Hello, what do you remember about me?';
  events.emit('histogram', 'load.active_users', activeUsers);
  events.emit('histogram', 'load.chats_in_flight', chatsInFlight + 1);
  chatsInFlight += 1;
  const sentAt = performance.now();
  const timer = new ChatStreamTimer(sentAt);
  let failure: ChatFailure | undefined;
  try {
    const res = await fetch(`${target}/api/sessions/${sessionId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ content }),
      signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
    });
    if (res.status !== 200 || !res.body) {
      failure = `http_${res.status}`;
      await res.body?.cancel().catch(() => undefined);
    } else {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        timer.push(value, performance.now());
        if (timer.finished) {
          await reader.cancel().catch(() => undefined);
          break;
        }
      }
    }
  } catch (err) {
    failure = failureOfError(err);
  } finally {
    chatsInFlight -= 1;
  }
  const timing = timer.end(performance.now(), failure);
  events.emit('counter', 'chat.requests', 1);
  events.emit('histogram', 'chat.total_ms', timing.totalMs);
  if (timing.ttftMs !== undefined) events.emit('histogram', 'chat.ttft_ms', timing.ttftMs);
  for (const gap of timing.gapsMs) events.emit('histogram', 'chat.itl_ms', gap);
  if (timing.server) {
    events.emit('histogram', 'chat.server_total_ms', timing.server.totalMs);
    if (timing.server.ttftMs !== undefined) events.emit('histogram', 'chat.server_ttft_ms', timing.server.ttftMs);
  }
  events.emit('counter', 'chat.tokens', timing.tokens);
  if (timing.failure) {
    events.emit('counter', `chat.failed.${timing.failure}`, 1);
  } else {
    events.emit('counter', 'chat.ok', 1);
    if (timing.totalMs < LIMIT_MS) events.emit('counter', 'chat.good', 1);
  }
  if (SAMPLES_FILE) {
    appendFileSync(SAMPLES_FILE, `${JSON.stringify({ totalMs: timing.totalMs, ttftMs: timing.ttftMs ?? null })}\n`);
  }
}

/** Artillery loop condition: go on until `turns` chats are done or the step's deadline passed. */
export function keepChatting(context: VuContext, next: (goOn: boolean) => void): void {
  const done = Number(context.vars.turnsDone ?? 0) + 1;
  context.vars.turnsDone = done;
  const deadline = Number(process.env.LOAD_STEP_DEADLINE_MS ?? Infinity);
  const goOn = done < Number(context.vars.turns ?? 3) && Date.now() < deadline;
  if (!goOn && context.vars.active === true) {
    context.vars.active = false;
    activeUsers -= 1;
  }
  next(goOn);
}
