/**
 * The event-loop probe of contract/event-loop.ts, for the app and the model simulator: a timer
 * that should fire every RESOLUTION_MS (perf_hooks.monitorEventLoopDelay), how late it fired, and
 * how busy the loop was (eventLoopUtilization). Each read covers the window since the last one.
 */
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks';
import { parseEventLoopDelay, SIM_EVENT_LOOP_PATH, type EventLoopDelay } from '../../contract';

/** Node's default: fine enough for delays of a few ms, cheap (100 timer ticks per second). */
const RESOLUTION_MS = 10;

export interface EventLoopProbe {
  /** The window since the previous read (or since start), then a new window begins. */
  read(): EventLoopDelay;
  stop(): void;
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

export function startEventLoopProbe(): EventLoopProbe {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  let windowStart = performance.now();
  let elu: EventLoopUtilization = performance.eventLoopUtilization();
  // The histogram holds each tick's whole interval (ns): the timer's own RESOLUTION_MS is not delay.
  const lateMs = (ns: number): number => round2(Math.max(0, ns / 1e6 - RESOLUTION_MS));
  return {
    read(): EventLoopDelay {
      const now = performance.now();
      const used = performance.eventLoopUtilization(elu);
      const samples = histogram.count;
      const out: EventLoopDelay = {
        windowMs: round2(now - windowStart),
        samples,
        delayP50Ms: samples > 0 ? lateMs(histogram.percentile(50)) : 0,
        delayP99Ms: samples > 0 ? lateMs(histogram.percentile(99)) : 0,
        delayMaxMs: samples > 0 ? lateMs(histogram.max) : 0,
        utilization: round2(Math.min(1, Math.max(0, used.utilization))),
      };
      histogram.reset();
      windowStart = now;
      elu = performance.eventLoopUtilization();
      return out;
    },
    stop(): void {
      histogram.disable();
    },
  };
}

/** A simulator that answers slowly is itself the finding: the read gives up after this and reports null. */
const SIM_READ_TIMEOUT_MS = 2_000;

/**
 * Reads the bundled simulator's probe (`openaiBaseUrl` ends in /v1). Null when it cannot be read:
 * the app's own figures still go out.
 */
export function simulatorEventLoop(openaiBaseUrl: string, apiKey: string): () => Promise<EventLoopDelay | null> {
  const url = new URL(SIM_EVENT_LOOP_PATH, openaiBaseUrl).toString();
  return async () => {
    try {
      const res = await fetch(url, {
        headers: { Authorization: `Bearer ${apiKey}` },
        signal: AbortSignal.timeout(SIM_READ_TIMEOUT_MS),
      });
      if (!res.ok) return null;
      const parsed = parseEventLoopDelay(await res.json(), 'modelSimulator');
      return typeof parsed === 'string' ? null : parsed;
    } catch {
      return null;
    }
  };
}
