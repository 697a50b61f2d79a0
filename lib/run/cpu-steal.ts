/**
 * CPU steal: time the hypervisor gave this VM's virtual CPUs to other guests while they had work
 * (Linux `/proc/stat`, the `steal` column of the `cpu` line). A shared cloud VM can lose a fifth
 * of its CPU this way for an hour, and every CPU-bound time it measures then is slower with no
 * change to the app: on the 2-core VM this suite is developed on, such a phase doubled the app
 * overhead's median (4–6 → 10–18 ms) and failed limits that quiet hours pass with room to spare.
 * Nothing inside a run sees it otherwise, so each test records it beside its samples.
 *
 * The share is of the CPU time the machine *wanted* (busy + steal), not of all time: the kernel
 * counts steal only while a virtual CPU has work, so a share of all time would shrink with every
 * idle wait (a realistic model's latency) and mean something else in each profile.
 */
import { readFileSync } from 'node:fs';

/** CPU time of all CPUs, in clock ticks (USER_HZ, 100 a second per CPU on Linux). */
export interface CpuTicks {
  /** Busy or stolen: time a CPU had work (all time but idle and iowait). */
  wanted: number;
  /** Of `wanted`, the time the hypervisor ran other guests instead. */
  steal: number;
  /** Idle and iowait: `wanted + idle` is all the time there was. */
  idle: number;
}

/**
 * From this share of the wanted CPU time on, reports warn that the host, not only the app, slowed
 * the run. On the 2-core VM, quiet hours showed 0–3 % of all time while the suite kept the CPUs
 * about half busy (≈ 0–6 % of the wanted time); its slow phases 10–23 % of all time, 15–30 % of
 * the wanted time (`vmstat`: `st` over `us + sy + st`).
 */
export const HIGH_STEAL_SHARE = 0.1;

/**
 * A test shorter than this (about a second of one CPU's work) is not judged on its own: 10 ms
 * ticks make its share coarse (5 stolen ticks of 50 read as 10 %). Its ticks still count in the run's share.
 */
export const MIN_JUDGED_TICKS = 100;

/** The share as reports print it (one decimal of a percent), so that "10.0 %" always warns. */
export function isHighSteal(share: number): boolean {
  return Math.round(share * 1000) / 1000 >= HIGH_STEAL_SHARE;
}

/** Steal over wanted CPU time; undefined without any wanted time. */
export function stealShare(t: Pick<CpuTicks, 'wanted' | 'steal'>): number | undefined {
  return t.wanted > 0 ? t.steal / t.wanted : undefined;
}

/** One test's ticks: long enough to be judged on its own (MIN_JUDGED_TICKS), and its share high. */
export function isHighStealTest(t: Pick<CpuTicks, 'wanted' | 'steal'>): boolean {
  return t.wanted >= MIN_JUDGED_TICKS && isHighSteal(stealShare(t) ?? 0);
}

/** The `cpu` line of a /proc/stat text; undefined when absent or malformed. */
export function parseProcStat(text: string): CpuTicks | undefined {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return undefined;
  // user nice system idle iowait irq softirq steal [guest guest_nice]: guest time is already
  // counted in user and nice, so only the first eight add up.
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (fields.length < 8 || fields.some((n) => !Number.isFinite(n) || n < 0)) return undefined;
  const field = (i: number) => fields[i] as number; // all eight are there (checked above)
  const idle = field(3) + field(4);
  return { wanted: fields.reduce((a, b) => a + b, 0) - idle, steal: field(7), idle };
}

/** This machine's CPU ticks now; undefined where there is no /proc/stat (not Linux, a sandbox). */
export function readCpuTicks(path = '/proc/stat'): CpuTicks | undefined {
  try {
    return parseProcStat(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The ticks between two readings (undefined when either is missing or a counter went back). */
export function ticksBetween(from: CpuTicks | undefined, to: CpuTicks | undefined): CpuTicks | undefined {
  if (!from || !to) return undefined;
  const wanted = to.wanted - from.wanted;
  const steal = to.steal - from.steal;
  const idle = to.idle - from.idle;
  return wanted > 0 && steal >= 0 && steal <= wanted && idle >= 0 ? { wanted, steal, idle } : undefined;
}
