/**
 * Capacity: how many people can chat at once. Pure functions over the measured steps of the
 * ramp (no I/O), so that the definition is unit-tested (test/unit/load-capacity.test.ts).
 *
 * A step passes when
 *   - enough chat requests were measured to judge it (LOAD_MIN_REQUESTS, default 100),
 *   - the round trip p95 of the chats is below the limit (5 s), and
 *   - the error rate of all API calls (chats, searches, session creates) is below 1 %.
 * Capacity is the largest step that passed with every smaller step passing too: the ramp stops at
 * the first failing step, so a lucky larger step can never raise it. No step passed → 0 users.
 */

export interface Percentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export const DEFAULT_CRITERIA = {
  /** The chats' round-trip p95 must be below this (ms). */
  p95TotalMsBelow: 5_000,
  /** Failed API calls / all API calls must be below this (0..1). */
  errorRateBelow: 0.01,
  /** A step with fewer chat requests than this cannot be judged (and does not pass). */
  minChatRequests: 100,
};
export type CapacityCriteria = typeof DEFAULT_CRITERIA;

/** What the capacity decision needs from one step. */
export interface StepFigures {
  users: number;
  /** Every API call of the step's users: chats + memory searches + session creates. */
  requests: number;
  chatRequests: number;
  /** Failed API calls (any cause). */
  errors: number;
  totalMs: Percentiles;
}

export function judgeStep(step: StepFigures, criteria: CapacityCriteria = DEFAULT_CRITERIA) {
  const reasons: string[] = [];
  const rate = step.requests > 0 ? step.errors / step.requests : 1;
  if (step.chatRequests < criteria.minChatRequests) {
    reasons.push(
      `only ${step.chatRequests} chat requests measured, ${criteria.minChatRequests} needed to judge a step`,
    );
  }
  const p95 = step.totalMs.p95;
  if (p95 === null) reasons.push('no chat completed, so there is no round-trip p95');
  else if (!(p95 < criteria.p95TotalMsBelow)) {
    reasons.push(`round-trip p95 ${Math.round(p95)} ms ≥ ${criteria.p95TotalMsBelow} ms`);
  }
  if (!(rate < criteria.errorRateBelow)) {
    const limit = formatPercent(criteria.errorRateBelow);
    reasons.push(`error rate ${formatPercent(rate)} ≥ ${limit} (${step.errors} of ${step.requests} calls)`);
  }
  return { passed: reasons.length === 0, errorRate: rate, reasons };
}

/**
 * The largest passing step with all smaller steps passing (0 when the first failed), and the first
 * failing step. A step fails on its figures (judgeStep) and on any reason the run gave it besides
 * (`reasons`: it hit its time limit, its merged percentiles were off), so a step shown as failed
 * never counts toward the capacity.
 */
export function capacityOf(
  steps: readonly (StepFigures & { reasons?: readonly string[] })[],
  criteria: CapacityCriteria = DEFAULT_CRITERIA,
) {
  let maxUsers = 0;
  for (const step of [...steps].sort((a, b) => a.users - b.users)) {
    const reasons = [...new Set([...judgeStep(step, criteria).reasons, ...(step.reasons ?? [])])];
    if (reasons.length > 0) return { maxUsers, firstFailure: { users: step.users, reasons } };
    maxUsers = step.users;
  }
  return { maxUsers, firstFailure: undefined };
}

/**
 * Turns per user so that a step of `users` users sends at least `minChatRequests` chats
 * (never fewer than `minTurns`: a person sends a few messages, not one).
 */
export function turnsPerUser(users: number, minChatRequests: number, minTurns = 3): number {
  return Math.max(minTurns, Math.ceil(minChatRequests / users));
}

function formatPercent(rate: number): string {
  return `${(rate * 100).toFixed(rate < 0.1 ? 2 : 1)} %`;
}
