/**
 * LOAD_* variables of `npm run load` (docs/load.md), validated once. The target itself
 * (BASE_URL, DATABASE_URL, OPENAI_API_KEY, PERF_ALLOW_SEED, PERF_REPORT_DIR, MEMORYCHAT_FAULTS,
 * MODEL_SIM_LATENCY) is read by the suite's own config (lib/run/config.ts), as for the perf run.
 */
import { DEFAULT_CRITERIA } from './capacity';

const DEFAULT_STEPS = [5, 10, 25, 50, 100, 200, 300, 400];
/** Measured on the bundled stack (docs/load.md): see there before changing it. */
const DEFAULT_MIN_USERS = 100;
/** Browsers cost about a core each while rendering a streamed reply: more would measure the generator. */
const MAX_BROWSERS = 2;
const MAX_STEP_USERS = 1_000;
/** Steps of one ramp: each may take LOAD_MAX_STEP_S and then some, so a ramp stays within hours. */
const MAX_STEPS = 20;

export class LoadConfigError extends Error {
  override name = 'LoadConfigError';
}

type Env = Record<string, string | undefined>;

/** A number from `min` to `max` (a whole one unless `whole` is false); `fallback` when unset. */
function num(env: Env, name: string, fallback: number, min: number, max: number, whole = true): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const v = Number(raw);
  if (!(whole ? /^\d+$/.test(raw) : Number.isFinite(v)) || v < min || v > max) {
    throw new LoadConfigError(
      `${name}="${raw}" must be a ${whole ? 'whole number' : 'number'} from ${min} to ${max}; ` +
        `fix it or unset it (default ${fallback}).`,
    );
  }
  return v;
}

export function parseSteps(raw: string | undefined): number[] {
  if (raw === undefined || raw.trim() === '') return [...DEFAULT_STEPS];
  const parts = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const steps = parts.map(Number);
  if (parts.length === 0 || steps.some((n, i) => !/^\d+$/.test(parts[i] ?? '') || n < 1 || n > MAX_STEP_USERS)) {
    throw new LoadConfigError(
      `LOAD_STEPS="${raw}" must be a comma list of user counts from 1 to ${MAX_STEP_USERS}, e.g. 5,10,25,50.`,
    );
  }
  if (steps.length > MAX_STEPS) {
    throw new LoadConfigError(
      `LOAD_STEPS="${raw}" has ${steps.length} steps; at most ${MAX_STEPS} (each may run LOAD_MAX_STEP_S): ` +
        'pick fewer, wider steps.',
    );
  }
  if (steps.some((n, i) => i > 0 && n <= (steps[i - 1] as number))) {
    throw new LoadConfigError(`LOAD_STEPS="${raw}" must be ascending (each step more users than the one before).`);
  }
  return steps;
}

/** A host name or address on this machine: the only targets `npm run load` drives without asking. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/**
 * Why the load must not start against `baseUrl` as configured: a deployment elsewhere gets up to
 * the last step's users at once (hundreds by default), so it needs LOAD_ALLOW_REMOTE=1 naming that
 * intent, never just a BASE_URL left in `.env` for perf runs. Undefined when it may start.
 */
export function remoteTargetProblem(baseUrl: string | undefined, steps: readonly number[], env: Env = process.env) {
  if (!baseUrl) return undefined;
  let host: string;
  try {
    host = new URL(baseUrl).hostname;
  } catch {
    return undefined; // the suite's config reports a bad BASE_URL itself
  }
  if (isLoopbackHost(host) || env.LOAD_ALLOW_REMOTE?.trim() === '1') return undefined;
  return (
    `npm run load would send up to ${Math.max(...steps)} concurrent chat users to ${host}, which is not ` +
    'this machine. Fix: if that deployment is yours to load, set LOAD_ALLOW_REMOTE=1 (and LOAD_STEPS to ' +
    'what it may take); else unset BASE_URL to load the bundled stack.'
  );
}

export type LoadConfig = ReturnType<typeof loadLoadConfig>;

export function loadLoadConfig(env: Env = process.env) {
  return {
    /** Concurrent users per step, ascending. */
    steps: parseSteps(env.LOAD_STEPS),
    /** Capacity below this fails the run (exit code 1). */
    minUsers: num(env, 'LOAD_MIN_USERS', DEFAULT_MIN_USERS, 0, MAX_STEP_USERS),
    criteria: {
      p95TotalMsBelow: num(env, 'LOAD_LIMIT_MS', DEFAULT_CRITERIA.p95TotalMsBelow, 100, 600_000),
      errorRateBelow: num(env, 'LOAD_MAX_ERROR_RATE', DEFAULT_CRITERIA.errorRateBelow, 0.0001, 1, false),
      minChatRequests: num(env, 'LOAD_MIN_REQUESTS', DEFAULT_CRITERIA.minChatRequests, 1, 100_000),
    },
    /** Messages per user per step, at least (more on small steps, to reach minChatRequests). */
    minTurns: num(env, 'LOAD_MIN_TURNS', 3, 1, 1_000),
    /** Mean think time between a reply and the next message (s); each pause is 0.5–1.5 × this. */
    thinkS: num(env, 'LOAD_THINK_S', 2, 0, 120, false),
    /** Browser users (Playwright engine) beside the API users in each step. */
    browsers: num(env, 'LOAD_BROWSERS', 1, 0, MAX_BROWSERS),
    memoriesPerUser: num(env, 'LOAD_MEMORIES', 200, 0, 100_000),
    /** A step is stopped (and fails) after this long (s). */
    maxStepS: num(env, 'LOAD_MAX_STEP_S', 150, 10, 3_600),
    /** Artillery workers for the API users: 1 = `artillery run`; more = load/artillery-workers.ts. */
    workers: num(env, 'LOAD_WORKERS', 1, 1, 16),
  };
}
