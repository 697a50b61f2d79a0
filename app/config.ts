/**
 * The reference app's configuration, read from the environment once and validated, so that a
 * bad value stops the stack with one readable line instead of misbehaving later.
 */
import { FAULTS, type Fault } from '../contract';
import { isLatencyProfile, LATENCY_PROFILES, type LatencyProfileName } from './model-sim/latency';

export interface AppConfig {
  /** App HTTP port; 0 = any free port. */
  port: number;
  /** Explicitly chosen port (PORT set): a busy port is an error instead of picking another. */
  portExplicit: boolean;
  host: string;
  databaseUrl: string | undefined;
  openaiApiKey: string | undefined;
  openaiBaseUrl: string | undefined;
  modelSimLatency: LatencyProfileName;
  faults: Fault[];
  /**
   * MEMORYCHAT_FAULT_MS: the size of a graded fault (slow-session-create, slow-chat, slow-model's first
   * token); undefined = its default.
   */
  faultMs: number | undefined;
  tokenBudget: number;
  conversationModel: string;
  smallModel: string;
  /** No first token (or no next chunk) within this → model_timeout. */
  modelTimeoutMs: number;
  /** Share of model calls that fail under the `model-errors` fault (0..1). */
  modelErrorRate: number;
  /** The summarizer refreshes the rolling summary once this many messages went unsummarised. */
  summaryEvery: number;
  /** PostgreSQL statement_timeout of the app's connections (ms, 0 = none): a held lock → 504. */
  dbStatementTimeoutMs: number;
  /** Client-side deadline per query (ms, 0 = none): a database that stopped answering → 504. */
  dbQueryTimeoutMs: number;
  /**
   * MEMORYCHAT_MARK_TEST_DATABASE=1: create the suite's marker table in the DATABASE_URL database
   * (it then counts as a test database the suite may seed). Never implied: the embedded database
   * is marked anyway, a given one only on this explicit request.
   */
  markTestDatabase: boolean;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function intFrom(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw))
    throw new ConfigError(
      `${name}="${raw}" is not a whole number; set it to an integer between ${min} and ${max} or unset it.`,
    );
  const value = Number(raw);
  if (value < min || value > max)
    throw new ConfigError(`${name}=${value} is out of range; use ${min}..${max} or unset it.`);
  return value;
}

function numberFrom(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max)
    throw new ConfigError(`${name}="${raw}" must be a number in ${min}..${max}; fix or unset it.`);
  return value;
}

export function parseFaults(raw: string | undefined): Fault[] {
  if (!raw || raw.trim() === '') return [];
  const out: Fault[] = [];
  for (const part of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (!(FAULTS as readonly string[]).includes(part)) {
      throw new ConfigError(`MEMORYCHAT_FAULTS contains unknown fault "${part}"; known faults: ${FAULTS.join(', ')}.`);
    }
    if (!out.includes(part as Fault)) out.push(part as Fault);
  }
  return out;
}

function flagFrom(env: Env, name: string): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '' || raw === '0' || raw === 'false' || raw === 'no') return false;
  if (raw === '1' || raw === 'true' || raw === 'yes') return true;
  throw new ConfigError(`${name}="${env[name]}" is not a switch; set it to 1 (on) or 0 (off), or unset it.`);
}

/** Reads and validates the app's environment. Throws ConfigError with a fix-it message. */
export function loadConfig(env: Env = process.env): AppConfig {
  const portRaw = env.PORT?.trim();
  const port = intFrom(env, 'PORT', 0, 0, 65535);
  const latency = env.MODEL_SIM_LATENCY?.trim() || 'realistic';
  if (!isLatencyProfile(latency)) {
    throw new ConfigError(
      `MODEL_SIM_LATENCY="${latency}" is not a latency profile; use one of ${LATENCY_PROFILES.join(', ')}.`,
    );
  }
  const databaseUrl = env.DATABASE_URL?.trim() || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//i.test(databaseUrl)) {
    throw new ConfigError(
      'DATABASE_URL must be a postgres:// or postgresql:// URL (or unset it to start an embedded PostgreSQL).',
    );
  }
  const openaiBaseUrl = env.OPENAI_BASE_URL?.trim() || undefined;
  if (openaiBaseUrl && !/^https?:\/\//i.test(openaiBaseUrl)) {
    throw new ConfigError(`OPENAI_BASE_URL="${openaiBaseUrl}" must be an http(s) URL, e.g. https://api.openai.com/v1.`);
  }
  return {
    port,
    portExplicit: portRaw !== undefined && portRaw !== '' && port !== 0,
    host: env.MEMORYCHAT_HOST?.trim() || '127.0.0.1',
    databaseUrl,
    openaiApiKey: env.OPENAI_API_KEY?.trim() || undefined,
    openaiBaseUrl,
    modelSimLatency: latency,
    faults: parseFaults(env.MEMORYCHAT_FAULTS),
    faultMs: env.MEMORYCHAT_FAULT_MS?.trim() ? numberFrom(env, 'MEMORYCHAT_FAULT_MS', 0, 0, 60_000) : undefined,
    tokenBudget: intFrom(env, 'MEMORYCHAT_TOKEN_BUDGET', 5000, 1000, 1_000_000),
    conversationModel: env.MEMORYCHAT_MODEL_CONVERSATION?.trim() || 'gpt-4o-mini',
    smallModel: env.MEMORYCHAT_MODEL_SMALL?.trim() || 'gpt-4.1-nano',
    modelTimeoutMs: intFrom(env, 'MEMORYCHAT_MODEL_TIMEOUT_MS', 30_000, 100, 600_000),
    modelErrorRate: numberFrom(env, 'MEMORYCHAT_MODEL_ERROR_RATE', 0.3, 0, 1),
    summaryEvery: intFrom(env, 'MEMORYCHAT_SUMMARY_EVERY', 20, 1, 10_000),
    dbStatementTimeoutMs: intFrom(env, 'MEMORYCHAT_DB_STATEMENT_TIMEOUT_MS', 10_000, 0, 3_600_000),
    dbQueryTimeoutMs: intFrom(env, 'MEMORYCHAT_DB_QUERY_TIMEOUT_MS', 15_000, 0, 3_600_000),
    markTestDatabase: flagFrom(env, 'MEMORYCHAT_MARK_TEST_DATABASE'),
  };
}
