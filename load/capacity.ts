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

export interface CapacityCriteria {
  /** The chats' round-trip p95 must be below this (ms). */
  p95TotalMsBelow: number;
  /** Failed API calls / all API calls must be below this (0..1). */
  errorRateBelow: number;
  /** A step with fewer chat requests than this cannot be judged (and does not pass). */
  minChatRequests: number;
}

export const DEFAULT_CRITERIA: CapacityCriteria = {
  p95TotalMsBelow: 5_000,
  errorRateBelow: 0.01,
  minChatRequests: 100,
};

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

export interface StepJudgement {
  passed: boolean;
  errorRate: number;
  /** Readable reasons it failed (empty when it passed). */
  reasons: string[];
}

export function errorRate(step: Pick<StepFigures, 'requests' | 'errors'>): number {
  return step.requests > 0 ? step.errors / step.requests : 1;
}

export function judgeStep(step: StepFigures, criteria: CapacityCriteria = DEFAULT_CRITERIA): StepJudgement {
  const reasons: string[] = [];
  const rate = errorRate(step);
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

export interface CapacityResult {
  /** Largest passing step with all smaller steps passing; 0 when the first step failed. */
  maxUsers: number;
  /** The first failing step (users), if any. */
  firstFailure: { users: number; reasons: string[] } | undefined;
}

export function capacityOf(
  steps: readonly StepFigures[],
  criteria: CapacityCriteria = DEFAULT_CRITERIA,
): CapacityResult {
  let maxUsers = 0;
  for (const step of [...steps].sort((a, b) => a.users - b.users)) {
    const j = judgeStep(step, criteria);
    if (!j.passed) return { maxUsers, firstFailure: { users: step.users, reasons: j.reasons } };
    maxUsers = step.users;
  }
  return { maxUsers, firstFailure: undefined };
}

/** Pass when the capacity reaches the required number of concurrent users. */
export function verdictOf(capacity: CapacityResult, minUsers: number): 'pass' | 'fail' {
  return capacity.maxUsers >= minUsers ? 'pass' : 'fail';
}

/**
 * Turns per user so that a step of `users` users sends at least `minChatRequests` chats
 * (never fewer than `minTurns`: a person sends a few messages, not one).
 */
export function turnsPerUser(users: number, minChatRequests: number, minTurns = 3): number {
  if (!Number.isInteger(users) || users <= 0) throw new Error(`users must be a positive integer, got ${users}`);
  return Math.max(minTurns, Math.ceil(minChatRequests / users));
}

function formatPercent(rate: number): string {
  return `${(rate * 100).toFixed(rate < 0.1 ? 2 : 1)} %`;
}
