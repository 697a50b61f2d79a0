/**
 * A per-test time budget, so that a fault (slow model, hanging stream) cannot push a test past
 * its timeout and lose everything it measured. Iterations that would start after the budget is
 * spent fail fast with code `time_budget`: they are recorded as failed samples (never silently
 * dropped), and the test still attaches its metrics.
 */
import { test } from '@playwright/test';
import { SampleFailure } from './failures';

export type TimeBudget = ReturnType<typeof timeBudget>;

/**
 * Budget = `share` of the test's timeout (the rest is left for teardown: cleanup and attaching
 * metrics). With no timeout configured, `fallbackMs` is used.
 */
export function timeBudget(share = 0.75, fallbackMs = 120_000) {
  const info = test.info();
  const total = info.timeout > 0 ? info.timeout : fallbackMs;
  const deadline = performance.now() + total * share;
  /** Milliseconds left before the budget is spent (never negative). */
  const remainingMs = () => Math.max(0, deadline - performance.now());
  return {
    remainingMs,
    /** Throws a `time_budget` SampleFailure when the budget is spent. */
    check(what: string) {
      if (remainingMs() <= 0) {
        throw new SampleFailure(
          'time_budget',
          `${what} not run: the test's time budget (${Math.round(total * share)} ms) was spent by slower samples`,
        );
      }
    },
    /** A per-request timeout: `capMs`, but never past the budget. */
    requestTimeoutMs(capMs: number) {
      return Math.max(1_000, Math.min(capMs, remainingMs()));
    },
  };
}
