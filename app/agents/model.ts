/**
 * The app's model client: the `openai` SDK against OpenAI, any compatible server, or the bundled
 * simulator. It adds what the SDK leaves to the caller:
 *  - a deadline that can't hang: no first chunk (or no next chunk) within `timeoutMs` → model_timeout;
 *  - one error vocabulary (model_error / model_timeout) with readable messages;
 *  - the fault switches: `slow-model` asks the simulator for its slow profile (or, graded by
 *    MEMORYCHAT_FAULT_MS, for that time to first token), `model-errors`
 *    makes a share of calls fail (via the simulator's fault header, or locally against a real API).
 */
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type { Fault } from '../../contract';
import { chatPromptTokens, countTokens } from './tokens';

export type ModelErrorCode = 'model_error' | 'model_timeout';

export class ModelError extends Error {
  override name = 'ModelError';
  constructor(
    readonly code: ModelErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The caller (HTTP client) went away: not a model failure. */
export class CallAborted extends Error {
  override name = 'CallAborted';
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ModelCall {
  model: string;
  messages: ChatMessage[];
  maxTokens: number;
  /** Ask for a JSON object answer (`response_format: json_object`). */
  json?: boolean;
  /** Streams the answer; called with each text delta. */
  onDelta?: (delta: string) => void;
  signal?: AbortSignal;
}

export interface ModelResult {
  text: string;
  promptTokens: number;
  completionTokens: number;
  /** Call start → first text delta (streamed calls), else the whole call. */
  ttftMs: number;
  latencyMs: number;
  /** performance.now() at start and end, to compute the union of model time per request. */
  startedAt: number;
  endedAt: number;
}

export interface ModelClientOptions {
  apiKey: string;
  baseURL: string | undefined;
  /** True when talking to the bundled simulator: fault switches may use its x-sim-* headers. */
  simulator: boolean;
  faults: readonly Fault[];
  /** MEMORYCHAT_FAULT_MS: with `slow-model`, the model's time to first token (else the slow profile's). */
  faultMs?: number;
  timeoutMs: number;
  errorRate: number;
}

export class ModelClient {
  private readonly client: OpenAI;
  readonly baseURL: string;

  constructor(private readonly opts: ModelClientOptions) {
    this.client = new OpenAI({
      apiKey: opts.apiKey,
      baseURL: opts.baseURL,
      // Our own deadline (below) covers first chunk and stalls; retries would hide the failures
      // the suite measures, and double the latency.
      maxRetries: 0,
      timeout: Math.max(opts.timeoutMs * 4, 60_000),
    });
    this.baseURL = this.client.baseURL;
  }

  /** Calls so far per model, for the `model-errors` fault's deterministic pattern. */
  private readonly callsByModel = new Map<string, number>();
  private injectedFaults = 0;

  /**
   * Decides the `model-errors` fault for one call: undefined (no fault), '5xx' or 'timeout'.
   * Deterministic, per model: call n fails when ⌊(n+1)·rate⌋ > ⌊n·rate⌋ (rate 0.3: the 4th, 7th,
   * 10th… call), so a short run always sees its share of failures (Math.random could give none,
   * and the self-test would flake); two of every three injected failures are 5xx, one a timeout.
   */
  private injectedFault(model: string): '5xx' | 'timeout' | undefined {
    if (!this.opts.faults.includes('model-errors')) return undefined;
    const n = this.callsByModel.get(model) ?? 0;
    this.callsByModel.set(model, n + 1);
    const rate = this.opts.errorRate;
    if (Math.floor((n + 1) * rate) <= Math.floor(n * rate)) return undefined;
    this.injectedFaults += 1;
    return this.injectedFaults % 3 === 0 ? 'timeout' : '5xx';
  }

  async chat(call: ModelCall): Promise<ModelResult> {
    // The caller is already gone (e.g. it disconnected while the prompt was being built): no call at all.
    if (call.signal?.aborted) throw new CallAborted('the client disconnected before the model call started');
    const startedAt = performance.now();
    const headers: Record<string, string> = {};
    const fault = this.injectedFault(call.model);
    if (this.opts.simulator) {
      if (this.opts.faults.includes('slow-model')) {
        // Graded: only the first token is late, the run's latency profile streams the rest.
        if (this.opts.faultMs !== undefined) headers['x-sim-ttft-ms'] = String(this.opts.faultMs);
        else headers['x-sim-latency'] = 'slow';
      }
      if (fault) headers['x-sim-fault'] = fault;
    }
    const controller = new AbortController();
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, this.opts.timeoutMs);
    };
    const onCallerAbort = (): void => controller.abort();
    call.signal?.addEventListener('abort', onCallerAbort, { once: true });
    arm();
    try {
      if (fault && !this.opts.simulator) await this.localFault(fault, controller.signal);
      const stream = await this.client.chat.completions.create(
        {
          model: call.model,
          messages: call.messages,
          max_tokens: call.maxTokens,
          stream: true,
          stream_options: { include_usage: true },
          ...(call.json ? { response_format: { type: 'json_object' as const } } : {}),
        },
        { signal: controller.signal, headers },
      );
      let text = '';
      let ttftMs = 0;
      let finished = false;
      let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
      for await (const chunk of stream) {
        arm();
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices[0];
        const delta = choice?.delta?.content;
        if (delta) {
          if (text === '') ttftMs = performance.now() - startedAt;
          text += delta;
          call.onDelta?.(delta);
        }
        if (choice?.finish_reason) finished = true;
      }
      if (!finished)
        throw new ModelError(
          'model_error',
          'the model stream ended before the reply was finished (connection cut or malformed stream)',
        );
      const endedAt = performance.now();
      return {
        text,
        // A compatible server without usage reporting: count ourselves.
        promptTokens: usage?.prompt_tokens ?? chatPromptTokens(call.messages),
        completionTokens: usage?.completion_tokens ?? countTokens(text),
        ttftMs: ttftMs || endedAt - startedAt,
        latencyMs: endedAt - startedAt,
        startedAt,
        endedAt,
      };
    } catch (err) {
      throw this.classify(err, timedOut, call.signal?.aborted ?? false);
    } finally {
      clearTimeout(timer);
      call.signal?.removeEventListener('abort', onCallerAbort);
    }
  }

  /** `model-errors` against a real API: fail without spending a call. */
  private async localFault(fault: '5xx' | 'timeout', signal: AbortSignal): Promise<void> {
    if (fault === '5xx')
      throw new ModelError('model_error', 'the model answered 503 (injected by the model-errors fault)');
    await new Promise<void>((_, reject) =>
      signal.addEventListener('abort', () => reject(new APIUserAbortError()), { once: true }),
    );
  }

  private classify(err: unknown, timedOut: boolean, callerAborted: boolean): Error {
    if (err instanceof ModelError) return err;
    if (callerAborted && !timedOut) return new CallAborted('the client disconnected');
    if (timedOut || err instanceof APIConnectionTimeoutError) {
      return new ModelError(
        'model_timeout',
        `the model did not answer within ${this.opts.timeoutMs} ms (MEMORYCHAT_MODEL_TIMEOUT_MS)`,
      );
    }
    if (err instanceof APIError && err.status !== undefined) {
      // The SDK's message starts with the status again ("503 The server is …").
      const detail = err.message
        .replace(/\s+/g, ' ')
        .replace(/^\d{3}\s+/, '')
        .slice(0, 200);
      return new ModelError('model_error', `the model answered ${err.status}: ${detail}`);
    }
    if (err instanceof APIConnectionError) {
      return new ModelError(
        'model_error',
        `cannot reach the model at ${this.baseURL} (${err.message}); check OPENAI_BASE_URL or the simulator`,
      );
    }
    const message = err instanceof Error ? err.message : String(err);
    return new ModelError('model_error', `the model sent a malformed answer: ${message.slice(0, 200)}`);
  }
}
