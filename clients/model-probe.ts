/**
 * The `model` fixture's probe: the model's own latency on the endpoint the app uses (the
 * simulator or real OpenAI), through the official `openai` SDK with the same key, so that
 * `app overhead = round trip − model time`. Apart from clients/model.ts so that global setup,
 * which needs the endpoint but never calls the model, does not load the SDK.
 *
 * This is the one place outside `perf` that reads a clock: it times a third-party call.
 */
import OpenAI from 'openai';
import { redact } from '../lib/redact';

/** The `model` fixture: the model's *own* latency, for the app-overhead split. */
export class ModelProbe {
  private readonly client: OpenAI;

  constructor(
    readonly baseUrl: string,
    apiKey: string,
    readonly conversationModel: string,
  ) {
    // No SDK retries: a retry would hide the latency we are measuring.
    this.client = new OpenAI({ apiKey, baseURL: baseUrl, maxRetries: 0, timeout: 120_000 });
  }

  /** One streamed completion: when the first and last token arrived, relative to the call, and usage. */
  async streamChat(
    messages: { role: 'system' | 'user' | 'assistant'; content: string }[],
    opts: { model?: string; maxTokens?: number } = {},
  ): Promise<{ firstTokenMs: number; totalMs: number; promptTokens: number; completionTokens: number }> {
    const start = performance.now();
    let firstTokenMs: number | undefined;
    let promptTokens = 0;
    let completionTokens = 0;
    try {
      const stream = await this.client.chat.completions.create({
        model: opts.model ?? this.conversationModel,
        messages,
        stream: true,
        stream_options: { include_usage: true },
        ...(opts.maxTokens === undefined ? {} : { max_tokens: opts.maxTokens }),
      });
      for await (const chunk of stream) {
        if (firstTokenMs === undefined && chunk.choices.some((c) => (c.delta.content ?? '').length > 0)) {
          firstTokenMs = performance.now() - start;
        }
        if (chunk.usage) {
          promptTokens = chunk.usage.prompt_tokens;
          completionTokens = chunk.usage.completion_tokens;
        }
      }
    } catch (err) {
      const e = err as { status?: number; message?: string };
      const wrapped = new Error(`model endpoint ${this.baseUrl} failed: ${redact(e.message ?? String(err))}`);
      (wrapped as Error & { code?: string }).code = e.status ? `model_http_${e.status}` : 'model_error';
      throw wrapped;
    }
    const totalMs = performance.now() - start;
    return { firstTokenMs: firstTokenMs ?? totalMs, totalMs, promptTokens, completionTokens };
  }
}
