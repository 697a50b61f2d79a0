/**
 * A probe of the model endpoint the app uses (the simulator or real OpenAI), through the official
 * `openai` SDK with the same key, to measure the model's own latency so that
 * `app overhead = round trip − model time`.
 *
 * This is the one place outside `perf` that reads a clock: it times a third-party call.
 */
import OpenAI from 'openai';
import { LATENCY_PROFILES, SIM_LATENCY_PATH, type Health, type LatencyProfileName } from '../contract';
import type { PerfConfig } from '../lib/run/config';
import { redact } from '../lib/redact';

/** The bundled simulator accepts any key; the app uses this placeholder too. */
const SIMULATOR_API_KEY = 'sk-simulator';
const DEFAULT_CONVERSATION_MODEL = 'gpt-4o-mini';
const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

export function modelEndpoint(config: Pick<PerfConfig, 'openaiBaseUrl' | 'openaiApiKey'>): {
  baseUrl: string;
  apiKey: string;
} {
  const baseUrl = config.openaiBaseUrl ?? (config.openaiApiKey ? OPENAI_DEFAULT_BASE_URL : undefined);
  if (!baseUrl) {
    throw new Error(
      'OPENAI_BASE_URL is not set: point it at the model endpoint the app uses ' +
        '(global setup sets it for the bundled stack), or set OPENAI_API_KEY for api.openai.com.',
    );
  }
  return { baseUrl, apiKey: config.openaiApiKey ?? SIMULATOR_API_KEY };
}

export type ModelEndpoint = ReturnType<typeof modelEndpoint>;

/** The model endpoint the app uses, or undefined when neither OPENAI_BASE_URL nor OPENAI_API_KEY is set. */
export function configuredModelEndpoint(
  config: Pick<PerfConfig, 'openaiBaseUrl' | 'openaiApiKey'>,
): ModelEndpoint | undefined {
  return config.openaiBaseUrl || config.openaiApiKey ? modelEndpoint(config) : undefined;
}

/**
 * The bundled simulator's default latency profile (contract SIM_LATENCY_PATH): read, or with
 * `set` switched, answering the profile it had before. undefined: the endpoint has no switch
 * (real OpenAI, or a simulator older than the switch).
 */
export async function simulatorLatency(
  endpoint: ModelEndpoint,
  set?: LatencyProfileName,
): Promise<LatencyProfileName | undefined> {
  let res: Response;
  try {
    res = await fetch(`${endpoint.baseUrl.replace(/\/v1\/?$/, '')}${SIM_LATENCY_PATH}`, {
      method: set ? 'PUT' : 'GET',
      headers: { authorization: `Bearer ${endpoint.apiKey}`, 'content-type': 'application/json' },
      ...(set ? { body: JSON.stringify({ latency: set }) } : {}),
      signal: AbortSignal.timeout(5_000),
    });
  } catch (err) {
    throw new Error(
      `The model endpoint ${endpoint.baseUrl} did not answer ${SIM_LATENCY_PATH}: ${redact((err as Error).message)}`,
    );
  }
  if (!res.ok) return undefined;
  const body = (await res.json().catch(() => ({}))) as { latency?: unknown; previous?: unknown };
  const profile = set ? body.previous : body.latency;
  return (LATENCY_PROFILES as readonly unknown[]).includes(profile) ? (profile as LatencyProfileName) : undefined;
}

/** A model simulator whose default latency profile can be switched, and the profile it has. */
export interface LatencySwitch {
  model: ModelEndpoint;
  latency: LatencyProfileName;
}

/** The endpoint's latency switch; undefined when it has none (real OpenAI, an older simulator). */
export async function latencySwitchOf(model: ModelEndpoint | undefined): Promise<LatencySwitch | undefined> {
  const latency = model ? await simulatorLatency(model) : undefined;
  return model && latency ? { model, latency } : undefined;
}

/**
 * Runs `body` with these simulators on the instant profile, and restores each one's profile after,
 * also when `body` fails.
 */
export async function withInstantModels<T>(switches: readonly LatencySwitch[], body: () => Promise<T>): Promise<T> {
  try {
    // Inside the try: if one switched and another did not, all are still restored.
    await Promise.all(switches.map((s) => simulatorLatency(s.model, 'instant')));
    return await body();
  } finally {
    await Promise.all(switches.map((s) => simulatorLatency(s.model, s.latency)));
  }
}

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

/** The conversation agent's model as the app reports it (health), else the app's default. */
export async function conversationModelOf(baseUrl: string | undefined): Promise<string> {
  const fromEnv = process.env.MEMORYCHAT_MODEL_CONVERSATION?.trim() || DEFAULT_CONVERSATION_MODEL;
  if (!baseUrl) return fromEnv;
  try {
    const res = await fetch(`${baseUrl}/api/health`, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) return fromEnv;
    const health = (await res.json()) as Partial<Health>;
    return health.models?.conversation ?? fromEnv;
  } catch {
    return fromEnv;
  }
}
