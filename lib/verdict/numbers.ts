/**
 * Small statistics a test needs *inside* itself (to derive one metric from others, e.g. a
 * growth exponent from per-size medians). They delegate to lib/verdict/stats.ts, so a p50 or an exponent
 * computed here is the same as the reporter's.
 */
import { mean } from 'simple-statistics';
import { fitPowerLaw, quantile } from './stats';

export function p50(samples: readonly number[]): number | undefined {
  return samples.length ? quantile(samples, 0.5) : undefined;
}

export function avg(samples: readonly number[]): number | undefined {
  return samples.length ? mean([...samples]) : undefined;
}

/**
 * Growth exponent b of y ≈ a·x^b (log-log least squares, lib/stats fitPowerLaw): 0 = flat (index
 * lookups), 1 = linear (full scans). Undefined with fewer than two sizes.
 */
export function growthExponent(points: readonly { x: number; y: number }[]): number | undefined {
  const usable = points.filter((p) => p.x > 0 && Number.isFinite(p.y));
  if (new Set(usable.map((p) => p.x)).size < 2) return undefined;
  return fitPowerLaw(usable.map((p) => ({ size: p.x, value: p.y }))).exponent;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** A figure for evidence text: rounded, or 'n/a' when it could not be computed. */
export function figure(value: number | undefined, digits = 1): string {
  return value === undefined ? 'n/a' : String(round(value, digits));
}
