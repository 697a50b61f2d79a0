/**
 * Latency profiles: time to first token (TTFT) + completion tokens / rate, with seeded jitter.
 * `realistic` follows what gpt-4o-mini typically shows over the public API.
 */
import { LATENCY_PROFILES, type LatencyProfileName } from '../../contract';
import type { Rng } from './random';

// The names are part of the contract (the suite validates MODEL_SIM_LATENCY against them).
export { LATENCY_PROFILES, type LatencyProfileName };

interface LatencyProfile {
  /** Time to first token, uniform in [min, max] ms. */
  ttftMs: readonly [number, number];
  /** Streaming rate, uniform in [min, max] tokens per second (Infinity = all at once). */
  tokensPerSecond: readonly [number, number];
  /** Embeddings round trip, uniform in [min, max] ms. */
  embeddingMs: readonly [number, number];
}

export const PROFILES: Record<LatencyProfileName, LatencyProfile> = {
  instant: { ttftMs: [0, 0], tokensPerSecond: [Infinity, Infinity], embeddingMs: [0, 0] },
  realistic: { ttftMs: [250, 450], tokensPerSecond: [70, 100], embeddingMs: [60, 160] },
  slow: { ttftMs: [5500, 6500], tokensPerSecond: [13, 17], embeddingMs: [1500, 2500] },
};

export function isLatencyProfile(value: string): value is LatencyProfileName {
  return (LATENCY_PROFILES as readonly string[]).includes(value);
}

export interface CompletionTiming {
  ttftMs: number;
  tokensPerSecond: number;
  /** When (ms after the request arrived) the i-th completion token (0-based) is ready. */
  tokenDueMs(index: number): number;
  /** When the whole completion of `tokens` tokens is ready. */
  totalMs(tokens: number): number;
}

/** `ttftOverrideMs` (x-sim-ttft-ms): this time to first token instead of the profile's; the rate stays. */
export function planCompletion(profile: LatencyProfileName, rng: Rng, ttftOverrideMs?: number): CompletionTiming {
  const p = PROFILES[profile];
  // Drawn either way, so the rate's draw is the same with and without the override.
  const drawnTtftMs = rng.between(p.ttftMs[0], p.ttftMs[1]);
  const ttftMs = ttftOverrideMs ?? drawnTtftMs;
  const tokensPerSecond = Number.isFinite(p.tokensPerSecond[0])
    ? rng.between(p.tokensPerSecond[0], p.tokensPerSecond[1])
    : Infinity;
  const tokenDueMs = (index: number): number => ttftMs + (index * 1000) / tokensPerSecond;
  return {
    ttftMs,
    tokensPerSecond,
    tokenDueMs,
    totalMs: (tokens) => (tokens <= 1 ? ttftMs : tokenDueMs(tokens - 1)),
  };
}

export function planEmbeddingMs(profile: LatencyProfileName, rng: Rng): number {
  const [min, max] = PROFILES[profile].embeddingMs;
  return rng.between(min, max);
}
