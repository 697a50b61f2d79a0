/**
 * What the target does while a step runs, sampled beside the load (never by the virtual users):
 *
 * - database: `pg_stat_activity` every 500 ms: the app's connections (busy = running a statement
 *   or idle inside a transaction), what the busy ones wait on (wait events), and how often all of
 *   them were busy at once: then the app's pool has no free connection and requests queue for one.
 * - statements: `pg_stat_statements` before and after the step; the statements whose total time
 *   grew most.
 * - CPU: /proc/<pid>/stat of the bundled stack's processes (app, PostgreSQL, model simulator) and
 *   of the load generator, as cores used on average (1.0 = one core busy the whole step). Only for
 *   processes on this machine: a remote deployment has no CPU figures here. The step's average
 *   includes its ramp and its tail, so the machine's busiest 5 s and the CPU pressure (Linux PSI:
 *   the share of time some task waited for a core) are kept too: saturation in bursts.
 * - event loop: the target's `GET /api/diagnostics/event-loop` (contract/event-loop.ts) every 5 s:
 *   how late the app's (and the bundled simulator's) one JavaScript thread ran its work. A target
 *   without it is "not reported".
 */
import { readdirSync, readFileSync } from 'node:fs';
import type pg from 'pg';
import { EVENT_LOOP_PATH, parseEventLoopReport, type EventLoopDelay } from '../contract';
import { diffStatements, type StatementSnapshot } from '../lib/figures/statements';

const SAMPLE_EVERY_MS = 500;
const CPU_EVERY_MS = 1_000;

export interface DbFigures {
  samples: number;
  /** Most app connections open at once. */
  connectionsMax: number;
  busyMean: number;
  busyMax: number;
  /** Share of samples in which every open app connection was busy (pool exhausted → requests wait). */
  allBusyShare: number;
  /** Busy-connection samples by wait event (`Lock:transactionid`, `IO:WALSync`, `CPU` when none). */
  waitEvents: Record<string, number>;
}

export interface StatementGrowth {
  query: string;
  calls: number;
  totalMs: number;
  meanMs: number;
}

export interface CpuFigures {
  /** Cores used on average during the step, per part. Missing parts are absent. */
  app?: number;
  postgres?: number;
  modelSimulator?: number;
  loadGenerator?: number;
  /** Whole machine: busy share of all cores (0..1). */
  machineBusy: number;
  /** The same in the step's busiest PEAK_SPAN_S seconds (absent when the step was shorter). */
  machineBusyPeak?: number;
  /** Share of the step in which some task waited for a CPU (/proc/pressure/cpu "some"; absent without PSI). */
  cpuPressure?: number;
  cpuPressurePeak?: number;
  /**
   * Share of the time the app's and the simulator's main thread (their event loop) was ready to
   * run that it spent waiting for a core (/proc/<pid>/schedstat; absent where unavailable). High:
   * the machine's CPUs, not the process's own work, hold its requests back.
   */
  coreWait?: { app?: number; modelSimulator?: number };
  cores: number;
}

// ---------------------------------------------------------------- database

interface ActivityRow {
  busy: number;
  open: number;
}

/**
 * Samples the app's connections. `appName`: the app's application_name (the bundled app sets
 * `memorychat`); null counts every client connection to the database except the probe's own.
 */
export function startDbSampler(pool: pg.Pool, appName: string | null): { stop(): Promise<DbFigures> } {
  const rows: ActivityRow[] = [];
  let running: Promise<void> | undefined;
  const sample = async (): Promise<void> => {
    const r = await pool.query<ActivityRow>(
      `SELECT count(*) FILTER (WHERE state <> 'idle')::int AS busy, count(*)::int AS open
         FROM pg_stat_activity
        WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
          AND ($1::text IS NULL OR application_name = $1)`,
      [appName],
    );
    const row = r.rows[0];
    if (row) rows.push(row);
  };
  const waitCounts: Record<string, number> = {};
  const sampleWaits = async (): Promise<void> => {
    const r = await pool.query<{ w: string; n: number }>(
      `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS w, count(*)::int AS n
         FROM pg_stat_activity
        WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
          AND state <> 'idle' AND ($1::text IS NULL OR application_name = $1)
        GROUP BY 1`,
      [appName],
    );
    for (const { w, n } of r.rows) waitCounts[w] = (waitCounts[w] ?? 0) + n;
  };
  const timer = setInterval(() => {
    if (running) return; // a slow sample (busy database) is skipped, never queued
    running = Promise.all([sample(), sampleWaits()])
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        running = undefined;
      });
  }, SAMPLE_EVERY_MS);
  return {
    async stop(): Promise<DbFigures> {
      clearInterval(timer);
      await running;
      const n = rows.length;
      const busy = rows.map((r) => r.busy);
      return {
        samples: n,
        connectionsMax: Math.max(0, ...rows.map((r) => r.open)),
        busyMean: n > 0 ? busy.reduce((a, b) => a + b, 0) / n : 0,
        busyMax: Math.max(0, ...busy),
        allBusyShare: n > 0 ? rows.filter((r) => r.open > 0 && r.busy >= r.open).length / n : 0,
        waitEvents: waitCounts,
      };
    },
  };
}

/** The statements whose total execution time grew most between two snapshots. */
export function statementGrowth(before: StatementSnapshot, after: StatementSnapshot, top = 5): StatementGrowth[] {
  if ('error' in before || 'error' in after) return [];
  return diffStatements(before.rows, after.rows)
    .filter((s) => s.total_ms > 0)
    .map((s) => ({
      query: s.query.replace(/\s+/g, ' ').trim().slice(0, 160),
      calls: s.calls,
      totalMs: s.total_ms,
      meanMs: s.total_ms / s.calls,
    }))
    .sort((x, y) => y.totalMs - x.totalMs)
    .slice(0, top);
}

// ---------------------------------------------------------------- CPU

const CLOCK_TICKS = 100; // USER_HZ on Linux

interface ProcTimes {
  ticks: number;
  cmd: string;
  ppid: number;
}

function readProc(pid: number): ProcTimes | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name "(…)", which may contain spaces.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(rest[1]);
    const ticks = Number(rest[11]) + Number(rest[12]); // utime + stime
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    return { ticks, cmd, ppid };
  } catch {
    return undefined; // gone, or not Linux
  }
}

/** Busiest stretches are measured over this many seconds (CPU scans and event-loop windows alike). */
export const PEAK_SPAN_S = 5;

/** Cumulative counters at one moment: `at` (s), and any number of counters (ticks, µs). */
interface Reading {
  at: number;
  busy: number;
  total: number;
}

/**
 * The largest busy/total share over any stretch of at least `spanS` seconds between two readings
 * (readings in time order, counters cumulative). Undefined when no stretch is that long.
 */
export function peakShare(readings: readonly Reading[], spanS: number): number | undefined {
  let peak: number | undefined;
  let j = 0;
  for (let i = 0; i < readings.length; i++) {
    const from = readings[i]!;
    j = Math.max(j, i + 1);
    while (j < readings.length && readings[j]!.at - from.at < spanS) j++;
    const to = readings[j];
    if (!to) break;
    const total = to.total - from.total;
    if (total > 0) peak = Math.max(peak ?? 0, (to.busy - from.busy) / total);
  }
  return peak;
}

/** Microseconds some task waited for a CPU since boot (PSI); undefined without /proc/pressure. */
function cpuStallMicros(): number | undefined {
  try {
    const m = /^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return m?.[1] === undefined ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** A thread's time on a CPU and waiting in a run queue for one (ns, since it started): the main thread's for a pid. */
function readSchedstat(pid: number): { run: number; wait: number } | undefined {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ').map(Number);
    return run !== undefined && wait !== undefined && Number.isFinite(run + wait) ? { run, wait } : undefined;
  } catch {
    return undefined;
  }
}

function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

type Part = 'app' | 'postgres' | 'modelSimulator' | 'loadGenerator';

/** True when `root` is `pid` or one of its ancestors. */
function descendsFrom(pid: number, root: number, procs: ReadonlyMap<number, ProcTimes>): boolean {
  for (let p: number | undefined = pid, hops = 0; p !== undefined && p > 1 && hops < 64; hops++) {
    if (p === root) return true;
    p = procs.get(p)?.ppid;
  }
  return false;
}

/**
 * Which part a process is: a descendant of the bundled stack's process (app, PostgreSQL, model
 * simulator by command line) or of a load generator (Artillery, its workers, Chromium).
 */
export function classify(
  pid: number,
  procs: ReadonlyMap<number, ProcTimes>,
  stackPid: number | undefined,
  generatorPids: readonly number[],
): Part | undefined {
  const p = procs.get(pid);
  if (!p) return undefined;
  if (generatorPids.some((g) => descendsFrom(pid, g, procs))) return 'loadGenerator';
  if (stackPid === undefined || !descendsFrom(pid, stackPid, procs)) return undefined;
  if (/postgres/.test(p.cmd)) return 'postgres';
  if (/model-sim/.test(p.cmd)) return 'modelSimulator';
  return 'app';
}

/** Samples CPU time of the stack's and the generators' processes; stop() gives the step's figures. */
export function startCpuSampler(
  stackPid: number | undefined,
  generatorPids: () => readonly number[],
): { stop(): CpuFigures } {
  // Processes come and go (Chromium renderers, Artillery workers): those alive at the start count
  // from their ticks then, those born during the step from zero; each pid's last ticks are kept.
  const baseline = new Map<number, number>();
  const last = new Map<number, { ticks: number; part: Part }>();
  // Run and run-queue wait of the event-loop threads: at the start (or 0 when born later) and last seen.
  const schedFrom = new Map<number, { run: number; wait: number }>();
  const schedLast = new Map<number, { run: number; wait: number; part: 'app' | 'modelSimulator' }>();
  let firstScan = true;
  const started = performance.now();
  // The whole machine at every scan: its busiest stretch, and how long tasks waited for a core.
  const machine: Reading[] = [];
  const stalls: Reading[] = [];
  const readMachine = (): void => {
    const at = (performance.now() - started) / 1000;
    const ticks = machineTicks();
    if (ticks) machine.push({ at, ...ticks });
    const stalled = cpuStallMicros();
    if (stalled !== undefined) stalls.push({ at, busy: stalled / 1e6, total: at });
  };
  const scan = (): void => {
    readMachine();
    const procs = new Map<number, ProcTimes>();
    try {
      for (const d of readdirSync('/proc')) {
        if (!/^\d+$/.test(d)) continue;
        const p = readProc(Number(d));
        if (p) procs.set(Number(d), p);
      }
    } catch {
      return; // not Linux
    }
    const generators = generatorPids();
    for (const [pid, p] of procs) {
      const part = classify(pid, procs, stackPid, generators);
      if (part) last.set(pid, { ticks: p.ticks, part });
      if (part === 'app' || part === 'modelSimulator') {
        const sched = readSchedstat(pid);
        if (sched) {
          if (firstScan) schedFrom.set(pid, sched);
          schedLast.set(pid, { ...sched, part });
        }
      }
    }
  };
  scan();
  for (const [pid, v] of last) baseline.set(pid, v.ticks);
  firstScan = false;
  const timer = setInterval(scan, CPU_EVERY_MS);
  return {
    stop(): CpuFigures {
      clearInterval(timer);
      scan();
      const seconds = (performance.now() - started) / 1000;
      const used: Partial<Record<Part, number>> = {};
      for (const [pid, { ticks, part }] of last) {
        const from = baseline.get(pid) ?? 0;
        used[part] = (used[part] ?? 0) + (ticks - from) / CLOCK_TICKS / Math.max(seconds, 1e-3);
      }
      const round = (n: number | undefined): number | undefined =>
        n === undefined ? undefined : Math.round(n * 100) / 100;
      const whole = (readings: readonly Reading[]): number | undefined => {
        const [first, end] = [readings[0], readings.at(-1)];
        return first && end && end.total > first.total
          ? (end.busy - first.busy) / (end.total - first.total)
          : undefined;
      };
      const out: CpuFigures = { machineBusy: round(whole(machine)) ?? 0, cores: cpuCount() };
      const extra = {
        machineBusyPeak: round(peakShare(machine, PEAK_SPAN_S)),
        cpuPressure: round(whole(stalls)),
        cpuPressurePeak: round(peakShare(stalls, PEAK_SPAN_S)),
      };
      for (const [key, v] of Object.entries(extra)) if (v !== undefined) out[key as keyof typeof extra] = v;
      const sums: Record<string, { run: number; wait: number }> = {};
      for (const [pid, { run, wait, part }] of schedLast) {
        const from = schedFrom.get(pid) ?? { run: 0, wait: 0 };
        const sum = (sums[part] ??= { run: 0, wait: 0 });
        sum.run += run - from.run;
        sum.wait += wait - from.wait;
      }
      const coreWait: NonNullable<CpuFigures['coreWait']> = {};
      for (const part of ['app', 'modelSimulator'] as const) {
        const sum = sums[part];
        if (sum && sum.run + sum.wait > 0) coreWait[part] = round(sum.wait / (sum.run + sum.wait));
      }
      if (Object.keys(coreWait).length > 0) out.coreWait = coreWait;
      for (const part of ['app', 'postgres', 'modelSimulator', 'loadGenerator'] as const) {
        const v = round(used[part]);
        if (v !== undefined) out[part] = v;
      }
      return out;
    },
  };
}

function cpuCount(): number {
  try {
    return (
      readFileSync('/proc/cpuinfo', 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('processor')).length || 1
    );
  } catch {
    return 1;
  }
}

// ---------------------------------------------------------------- event loop

const EVENT_LOOP_EVERY_MS = PEAK_SPAN_S * 1000;
/** A loop too busy to answer its probe in time is itself the finding: that window merges into the next. */
const EVENT_LOOP_TIMEOUT_MS = 3_000;

export interface LoopFigures {
  /** Windows read during the step (one per EVENT_LOOP_EVERY_MS, plus the last, shorter one). */
  windows: number;
  /** Median of the windows' p50 delays (ms). */
  delayP50Ms: number;
  /** The worst window's p99 delay (ms). */
  delayP99Ms: number;
  delayMaxMs: number;
  /** Share of the step the loop was not idle, mean over the step and in the busiest window. */
  utilizationMean: number;
  utilizationPeak: number;
}

export interface EventLoopFigures {
  /** False: the target does not offer the probe (or it never answered); `note` says why. */
  reported: boolean;
  note: string | null;
  app: LoopFigures | null;
  modelSimulator: LoopFigures | null;
}

/** The last window may be a fraction of a second: a peak counts full windows when there are any. */
function peakCandidates(windows: readonly EventLoopDelay[]): readonly EventLoopDelay[] {
  const full = windows.filter((w) => w.windowMs >= EVENT_LOOP_EVERY_MS / 2);
  return full.length > 0 ? full : windows;
}

/** A step's figures from its windows; null without any window that saw the timer fire. */
export function summarizeLoop(windows: readonly EventLoopDelay[]): LoopFigures | null {
  const seen = windows.filter((w) => w.samples > 0 && w.windowMs > 0);
  if (seen.length === 0) return null;
  const p50s = seen.map((w) => w.delayP50Ms).sort((a, b) => a - b);
  const mid = Math.floor(p50s.length / 2);
  const median = p50s.length % 2 ? p50s[mid]! : (p50s[mid - 1]! + p50s[mid]!) / 2;
  const ms = seen.reduce((n, w) => n + w.windowMs, 0);
  const r2 = (n: number): number => Math.round(n * 100) / 100;
  return {
    windows: seen.length,
    delayP50Ms: r2(median),
    delayP99Ms: r2(Math.max(...seen.map((w) => w.delayP99Ms))),
    delayMaxMs: r2(Math.max(...seen.map((w) => w.delayMaxMs))),
    utilizationMean: r2(seen.reduce((n, w) => n + w.utilization * w.windowMs, 0) / ms),
    utilizationPeak: r2(Math.max(...peakCandidates(seen).map((w) => w.utilization))),
  };
}

type LoopRead = { app: EventLoopDelay; modelSimulator: EventLoopDelay | null } | { notReported: string };

async function readEventLoop(baseUrl: string): Promise<LoopRead> {
  const url = `${baseUrl}${EVENT_LOOP_PATH}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(EVENT_LOOP_TIMEOUT_MS) });
  } catch (err) {
    return { notReported: `GET ${EVENT_LOOP_PATH} failed (${(err as Error).message})` };
  }
  if (!res.ok) {
    await res.body?.cancel();
    return {
      notReported:
        res.status === 404
          ? `the target does not offer GET ${EVENT_LOOP_PATH} (404)`
          : `GET ${EVENT_LOOP_PATH} answered HTTP ${res.status}`,
    };
  }
  const parsed = parseEventLoopReport(await res.json().catch(() => undefined));
  return typeof parsed === 'string' ? { notReported: `GET ${EVENT_LOOP_PATH}: ${parsed}` } : parsed;
}

/**
 * Samples the target's event-loop probe every EVENT_LOOP_EVERY_MS. The first read only starts a
 * fresh window (it covers the time before the step); stop() reads the rest of the step.
 */
export function startEventLoopSampler(baseUrl: string): { stop(): Promise<EventLoopFigures> } {
  const app: EventLoopDelay[] = [];
  const sim: EventLoopDelay[] = [];
  let lastProblem: string | null = null;
  let running: Promise<void> = Promise.resolve();
  let busy = false;
  const read = (keep: boolean): Promise<void> => {
    busy = true;
    running = readEventLoop(baseUrl).then((r) => {
      busy = false;
      if ('notReported' in r) {
        lastProblem = r.notReported;
        return;
      }
      if (!keep) return;
      app.push(r.app);
      if (r.modelSimulator) sim.push(r.modelSimulator);
    });
    return running;
  };
  void read(false);
  const timer = setInterval(() => {
    if (!busy) void read(true); // a slow read is skipped, never queued: its window joins the next
  }, EVENT_LOOP_EVERY_MS);
  return {
    async stop(): Promise<EventLoopFigures> {
      clearInterval(timer);
      await running;
      await read(true);
      const appFigures = summarizeLoop(app);
      return {
        reported: appFigures !== null,
        note: appFigures === null ? (lastProblem ?? 'no window was read') : null,
        app: appFigures,
        modelSimulator: summarizeLoop(sim),
      };
    },
  };
}
