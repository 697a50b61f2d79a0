/**
 * Measurement hygiene for millisecond benchmarks: start from a quiet machine. On a 2-core machine
 * the end of one test keeps the cores busy for a moment (report writing, Postgres flushing), and a
 * 1–2 ms request measured then lands several ms in the tail. So micro-benchmarks first wait
 * (bounded) until the CPUs are mostly idle. Reads /proc/stat: Linux only; elsewhere no wait.
 * The wait is reported, never hidden: callers put it into the test's evidence.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PerfRecorder } from '../../fixtures';

function cpuTimes(): { idle: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    if (fields.length < 5 || fields.some((n) => !Number.isFinite(n))) return undefined;
    // user nice system idle iowait irq softirq steal …: idle + iowait count as idle.
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { idle, total: fields.slice(0, 8).reduce((a, b) => a + b, 0) };
  } catch {
    return undefined;
  }
}

/**
 * Waits until one `windowMs` window shows at least `minIdle` of all CPU time idle, or until
 * `maxWaitMs` passed. Returns the time waited (ms), the last window's idle share (0–1, undefined
 * without /proc/stat) and `quiet: false` when the deadline passed first (measured anyway).
 *
 * 50 ms: /proc/stat counts in 10 ms ticks, so a window on 2 cores holds 10 of them and 85 % idle
 * allows one busy tick. With 150 ms windows every wait of a smoke run passed its first window
 * (93–100 % idle), so the window was all the wait cost: 2.4 s of 16 waits.
 */
async function waitForQuietCpu(maxWaitMs: number, minIdle = 0.85, windowMs = 50) {
  const started = performance.now();
  for (;;) {
    const a = cpuTimes();
    await sleep(windowMs);
    const b = cpuTimes();
    if (!a || !b) return { waitedMs: performance.now() - started, idle: undefined, quiet: true };
    const total = b.total - a.total;
    const idle = total > 0 ? (b.idle - a.idle) / total : 1;
    const waitedMs = performance.now() - started;
    if (idle >= minIdle) return { waitedMs, idle, quiet: true };
    if (waitedMs >= maxWaitMs) return { waitedMs, idle, quiet: false };
  }
}

/**
 * Waits for a quiet machine before `phase` and records how long that took as evidence. A profile
 * without small effects to measure (`selftest`: settleMaxWaitMs 0) does not wait.
 */
export async function settleBefore(perf: PerfRecorder, phase: string, opts: { scenario?: string } = {}): Promise<void> {
  const maxWaitMs = perf.profile.settleMaxWaitMs;
  if (maxWaitMs <= 0) {
    perf.evidence('harness.quiet_wait', `${phase}: not waited (profile ${perf.profile.name})`, undefined, opts);
    return;
  }
  const r = await waitForQuietCpu(maxWaitMs);
  const idle = r.idle === undefined ? 'n/a' : `${Math.round(r.idle * 100)} %`;
  perf.evidence(
    'harness.quiet_wait',
    `${phase}: waited ${Math.round(r.waitedMs)} ms for idle CPUs ` +
      `(last window ${idle} idle${r.quiet ? '' : ', deadline passed: measured anyway'})`,
    r,
    opts,
  );
}
