/**
 * Times a streamed chat reply as a client sees it: iterates the SSE events of `UserApi.streamMessage`
 * and timestamps them with `performance.now()` (time to first token, time to `done`).
 * A stream `error` event, a timeout or a stream that ends without `done` becomes a
 * {@link SampleFailure} with the server's error code, so the sample is recorded as an error.
 * Well-formedness problems (order of events, text mismatch) are returned, not thrown, so the
 * spec can `expect.soft` on them and still record the timings.
 */
import type { Message, MessageUsage, Timing } from '../../contract';
import type { ChatStream, UserApi } from '../../fixtures';
import type { TimeBudget } from './budget';
import { SampleFailure } from './failures';
import { errorCode, errorMessage } from '../../fixtures/perf';

export interface StreamTiming {
  /** Client clock: request start → first `token` event. */
  ttftMs: number;
  /** Client clock: request start → `done` event. */
  totalMs: number;
  done: { message: Message; usage: MessageUsage; timing: Timing };
  /** Number of `token` events. */
  tokenEvents: number;
  /** Protocol problems seen (empty when the stream is well-formed). */
  problems: string[];
}

/**
 * Runs `start(signal)` and consumes its events. The clock starts *before* `start` is called, so
 * connection set-up is part of the round trip, as for a real client.
 */
export async function timeStream(
  start: (signal: AbortSignal) => ChatStream,
  opts: { timeoutMs: number; onFirstToken?: () => void },
): Promise<StreamTiming> {
  const controller = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const t0 = performance.now();

  const consume = async (): Promise<StreamTiming> => {
    const problems: string[] = [];
    let ttft: number | undefined;
    let tokenEvents = 0;
    let text = '';
    let index = 0;
    let sawMeta = false;
    for await (const ev of start(controller.signal)) {
      const now = performance.now();
      if (index === 0 && ev.event !== 'meta') problems.push(`first event is '${ev.event}', expected 'meta'`);
      index++;
      switch (ev.event) {
        case 'meta':
          if (sawMeta) problems.push('more than one meta event');
          sawMeta = true;
          break;
        case 'token':
          if (ttft === undefined) {
            ttft = now - t0;
            opts.onFirstToken?.();
          }
          tokenEvents++;
          text += ev.data.delta;
          break;
        case 'error': {
          const { code, message } = ev.data.error;
          throw new SampleFailure(code, `${code}: ${message}`);
        }
        case 'done': {
          const done: StreamTiming['done'] = ev.data;
          if (tokenEvents === 0) problems.push('done without any token event');
          if (done.message.content !== text)
            problems.push(
              `done.message.content (${done.message.content.length} chars) differs from the streamed text ` +
                `(${text.length} chars)`,
            );
          if (done.message.role !== 'assistant') problems.push(`done.message.role is '${done.message.role}'`);
          if (!done.usage) problems.push('done without usage');
          if (!done.timing) problems.push('done without timing');
          return { ttftMs: ttft ?? now - t0, totalMs: now - t0, done, tokenEvents, problems };
        }
      }
    }
    throw new SampleFailure(
      'stream_incomplete',
      `stream ended after ${index} events without a 'done' or 'error' event`,
    );
  };

  const timeoutFailure = () =>
    new SampleFailure('timeout', `no complete reply within ${Math.round(opts.timeoutMs)} ms (client-side timeout)`);
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
      reject(timeoutFailure());
    }, opts.timeoutMs);
  });
  try {
    return await Promise.race([consume(), timeout]);
  } catch (error) {
    if (error instanceof SampleFailure) throw error;
    throw timedOut ? timeoutFailure() : new SampleFailure(errorCode(error), errorMessage(error));
  } finally {
    clearTimeout(timer);
    controller.abort(); // release the connection whatever happened (a no-op when already aborted)
  }
}

/** The app's own deadline for a model call (app/config.ts default; the stack reads the same env). */
const APP_MODEL_TIMEOUT_MS = Number(process.env.MEMORYCHAT_MODEL_TIMEOUT_MS) || 30_000;

/**
 * Client-side cap for one chat reply: the app's model timeout plus a margin, so that a hung model
 * call is reported by the app itself (`model_timeout`, the cause worth recording) and this cap
 * only catches a hung app. A healthy reply takes ~1–2 s (`realistic`), ~13 s with `slow`.
 */
export const CHAT_TIMEOUT_MS = APP_MODEL_TIMEOUT_MS + 15_000;

/**
 * One streamed chat message through the API, timed by the client, bounded by the test's budget.
 * Async, so a spent budget is a rejection, never a synchronous throw: callers release their pacing
 * turn in `.finally`, and a throw before the promise exists would leave the next chat waiting.
 */
export async function chatOverApi(
  client: Pick<UserApi, 'streamMessage'>,
  sessionId: number,
  content: string,
  budget: TimeBudget,
  opts: { onFirstToken?: () => void } = {},
): Promise<StreamTiming> {
  budget.check('chat sample');
  return timeStream((signal) => client.streamMessage(sessionId, content, { signal }), {
    timeoutMs: budget.requestTimeoutMs(CHAT_TIMEOUT_MS),
    onFirstToken: opts.onFirstToken,
  });
}
