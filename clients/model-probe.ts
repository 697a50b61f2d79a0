/**
 * The `model` fixture's probe: the model's own latency on the endpoint the app uses (the
 * simulator or real OpenAI), through the official `openai` SDK with the same key, so that
 * `app overhead = round trip − model time`. Apart from clients/model.ts so that global setup,
 * which needs the endpoint but never calls the model, does not load the SDK.
 *
 * This is the one place outside `perf` that reads a clock: it times a third-party call.
 */
import type OpenAI from 'openai';
import { redact } from '../lib/redact';

/** The longest call when the caller gives no bound (the SDK's own timeout, used until now). */
const MODEL_CALL_TIMEOUT_MS = 120_000;
/** The longest wait for the next chunk of a reply (as long as the app waits for the model by default). */
const MODEL_IDLE_MS = 30_000;

/** The `model` fixture: the model's *own* latency, for the app-overhead split. */
export class ModelProbe {
  private client: Promise<OpenAI> | undefined;

  constructor(
    readonly baseUrl: string,
    private readonly apiKey: string,
    readonly conversationModel: string,
  ) {}

  /**
   * The SDK, loaded at the first call: importing it costs ≈ 0.25 s, and Playwright's runner and
   * every worker import this module to list the tests, most of which never call the model.
   */
  private sdk(): Promise<OpenAI> {
    this.client ??= import('openai')
      // No SDK retries: a retry would hide the latency we are measuring.
      .then(
        ({ default: OpenAI }) =>
          new OpenAI({ apiKey: this.apiKey, baseURL: this.baseUrl, maxRetries: 0, timeout: MODEL_CALL_TIMEOUT_MS }),
      )
      .catch((err: unknown) => {
        // Not cached: the next call tries again and reports its own cause.
        this.client = undefined;
        throw err;
      });
    return this.client;
  }

  /** A failed call as the callers see every failure: the endpoint, a redacted cause, a code. */
  private failure(err: unknown, stalled: string | undefined): Error {
    const e = err as { status?: number; message?: string };
    const cause = stalled ?? redact(e.message ?? String(err));
    const wrapped = new Error(`model endpoint ${this.baseUrl} failed: ${cause}`);
    (wrapped as Error & { code?: string }).code = stalled
      ? 'model_timeout'
      : e.status
        ? `model_http_${e.status}`
        : 'model_error';
    return wrapped;
  }

  /**
   * One streamed completion: when the first and last token arrived, relative to the call, and
   * usage. Bounded: the whole call by `timeoutMs` (the caller's share of its test's budget) and
   * each wait for the next chunk by `idleMs`, so a stream that stalls after its headers (the
   * SDK's own timeout stops at the headers) fails the sample with a cause instead of hanging the test.
   */
  async streamChat(
    messages: { role: 'system' | 'user' | 'assistant'; content: string }[],
    opts: { model?: string; maxTokens?: number; timeoutMs?: number; idleMs?: number } = {},
  ): Promise<{ firstTokenMs: number; totalMs: number; promptTokens: number; completionTokens: number }> {
    let client: OpenAI;
    try {
      // Before the clock starts: the first call's import is not the model's time.
      client = await this.sdk();
    } catch (err) {
      throw this.failure(err, undefined);
    }
    const start = performance.now();
    let firstTokenMs: number | undefined;
    let promptTokens = 0;
    let completionTokens = 0;
    const timeoutMs = opts.timeoutMs ?? MODEL_CALL_TIMEOUT_MS;
    const idleMs = opts.idleMs ?? MODEL_IDLE_MS;
    const abort = new AbortController();
    let stalled: string | undefined;
    const stop = (why: string) => {
      stalled = why;
      abort.abort();
    };
    const overall = setTimeout(() => stop(`no complete reply within ${timeoutMs} ms`), timeoutMs);
    let idle = setTimeout(() => stop(`no data for ${idleMs} ms`), idleMs);
    try {
      const stream = await client.chat.completions.create(
        {
          model: opts.model ?? this.conversationModel,
          messages,
          stream: true,
          stream_options: { include_usage: true },
          ...(opts.maxTokens === undefined ? {} : { max_tokens: opts.maxTokens }),
        },
        { signal: abort.signal },
      );
      for await (const chunk of stream) {
        clearTimeout(idle);
        idle = setTimeout(() => stop(`no data for ${idleMs} ms mid-stream`), idleMs);
        if (firstTokenMs === undefined && chunk.choices.some((c) => (c.delta.content ?? '').length > 0)) {
          firstTokenMs = performance.now() - start;
        }
        if (chunk.usage) {
          promptTokens = chunk.usage.prompt_tokens;
          completionTokens = chunk.usage.completion_tokens;
        }
      }
      // The SDK ends an aborted stream as if it were complete: a cut reply is no sample.
      if (stalled) throw new Error(stalled);
    } catch (err) {
      throw this.failure(err, stalled);
    } finally {
      clearTimeout(overall);
      clearTimeout(idle);
    }
    const totalMs = performance.now() - start;
    return { firstTokenMs: firstTokenMs ?? totalMs, totalMs, promptTokens, completionTokens };
  }
}
