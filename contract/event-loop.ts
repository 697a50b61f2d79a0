/**
 * The event-loop probe: how long work waited for a Node process's one JavaScript thread. A target
 * MAY offer it (the reference app does); the load test samples it per step, and a target without
 * it is reported as "not reported", never as an error.
 *
 *   GET /api/diagnostics/event-loop  (no auth) → EventLoopReport
 *
 * Each read covers the time since the previous read (the first: since the process started), then
 * starts a new window: with two readers at once each sees part of the other's window. The model
 * simulator of the reference stack offers its own figures as `GET /v1/sim/event-loop` (Bearer
 * auth like its other endpoints); the app relays them as `modelSimulator`.
 */

export const EVENT_LOOP_PATH = '/api/diagnostics/event-loop';
export const SIM_EVENT_LOOP_PATH = '/v1/sim/event-loop';

/** One process's event loop over one window. */
export interface EventLoopDelay {
  /** Length of the window (ms). */
  windowMs: number;
  /** How many times the probe's timer fired (the delay samples behind the percentiles). */
  samples: number;
  /** How late the probe's timer fired, beyond its interval: p50 / p99 / max (ms). */
  delayP50Ms: number;
  delayP99Ms: number;
  delayMaxMs: number;
  /**
   * Share of the window the loop was not idle-waiting for I/O (0..1, `eventLoopUtilization`).
   * It counts time the thread was ready but had no CPU: near 1 with little CPU used means the
   * thread waits for a core, not for its own work.
   */
  utilization: number;
}

export interface EventLoopReport {
  app: EventLoopDelay;
  /** The bundled model simulator's own loop; null when the app uses another model server. */
  modelSimulator: EventLoopDelay | null;
}

const DELAY_FIELDS = ['windowMs', 'samples', 'delayP50Ms', 'delayP99Ms', 'delayMaxMs', 'utilization'] as const;

/** The EventLoopDelay in `value`, or a readable reason why it is not one. */
export function parseEventLoopDelay(value: unknown, where: string): EventLoopDelay | string {
  if (typeof value !== 'object' || value === null) return `${where}: not an object`;
  const v = value as Record<string, unknown>;
  for (const field of DELAY_FIELDS) {
    const n = v[field];
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return `${where}.${field}: not a number ≥ 0`;
  }
  const out = Object.fromEntries(DELAY_FIELDS.map((f) => [f, v[f]])) as unknown as EventLoopDelay;
  return out.utilization > 1 ? `${where}.utilization: above 1` : out;
}

/** The EventLoopReport in a response body, or a readable reason why it is not one. */
export function parseEventLoopReport(body: unknown): EventLoopReport | string {
  if (typeof body !== 'object' || body === null) return 'the body is not a JSON object';
  const b = body as Record<string, unknown>;
  const app = parseEventLoopDelay(b.app, 'app');
  if (typeof app === 'string') return app;
  if (b.modelSimulator === null || b.modelSimulator === undefined) return { app, modelSimulator: null };
  const sim = parseEventLoopDelay(b.modelSimulator, 'modelSimulator');
  return typeof sim === 'string' ? sim : { app, modelSimulator: sim };
}
