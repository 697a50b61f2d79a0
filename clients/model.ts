/**
 * The model endpoint the app uses (the simulator or real OpenAI): where it is, which model the
 * conversation agent runs on, and the bundled simulator's latency switch. The probe that times
 * the model itself is clients/model-probe.ts.
 */
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
