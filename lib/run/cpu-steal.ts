/**
 * CPU steal: time the hypervisor gave this VM's virtual CPUs to other guests while they had work
 * (Linux `/proc/stat`, the `steal` column of the `cpu` line). A shared cloud VM can lose a fifth
 * of its CPU this way for an hour, and every CPU-bound time it measures then is slower with no
 * change to the app: on the 2-core VM this suite is developed on, such a phase doubled the app
 * overhead's median (4–6 → 10–18 ms) and failed limits that quiet hours pass with room to spare.
 * Nothing inside a run sees it otherwise, so each test records its share beside its samples.
 */
import { readFileSync } from 'node:fs';

/** CPU time of all CPUs since boot, in clock ticks. */
export interface CpuTicks {
  total: number;
  steal: number;
}

/**
 * From this share of a run's CPU time on, reports warn that the host, not only the app, slowed
 * the run. Quiet hours on the 2-core VM showed 0–3 % under load; its slow phases 10–30 %.
 */
export const HIGH_STEAL_SHARE = 0.1;

/** The `cpu` line of a /proc/stat text; undefined when absent or malformed. */
export function parseProcStat(text: string): CpuTicks | undefined {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return undefined;
  // user nice system idle iowait irq softirq steal [guest guest_nice]: guest time is already
  // counted in user and nice, so the total is the first eight.
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (fields.length < 8 || fields.some((n) => !Number.isFinite(n) || n < 0)) return undefined;
  return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7] as number };
}

/** This machine's CPU ticks now; undefined where there is no /proc/stat (not Linux, a sandbox). */
export function readCpuTicks(path = '/proc/stat'): CpuTicks | undefined {
  try {
    return parseProcStat(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The ticks between two readings (undefined when either is missing or the counters went back). */
export function ticksBetween(from: CpuTicks | undefined, to: CpuTicks | undefined): CpuTicks | undefined {
  if (!from || !to) return undefined;
  const total = to.total - from.total;
  const steal = to.steal - from.steal;
  return total > 0 && steal >= 0 && steal <= total ? { total, steal } : undefined;
}
