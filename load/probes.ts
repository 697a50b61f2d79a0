/**
 * What the target does while a step runs, sampled beside the load (never by the virtual users;
 * docs/load.md "Per stage"):
 *
 * - database: `pg_stat_activity` every 500 ms: the app's busy connections (running a statement or
 *   idle in a transaction), their wait events, and how often all were busy (the pool ran out);
 * - statements: `pg_stat_statements` before and after the step, the ones whose total time grew most;
 * - CPU: /proc of this machine's processes (stack parts and load generator) as cores used on average,
 *   plus the machine's busiest 5 s and CPU pressure (Linux PSI), which the step's average hides;
 * - event loop: the target's `GET /api/diagnostics/event-loop` (contract/event-loop.ts) every 5 s;
 *   a target without it is "not reported".
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import type pg from 'pg';
import { EVENT_LOOP_PATH, parseEventLoopReport, type EventLoopDelay } from '../contract';
import { diffStatements, type StatementSnapshot } from '../lib/figures/statements';
import { readCpuTicks } from '../lib/run/cpu-steal';
import { avg, p50, round } from '../lib/verdict/numbers';
import type { LoadStage } from './summary';

const SAMPLE_EVERY_MS = 500;
const CPU_EVERY_MS = 1_000;

/** The step's figures, as the report's schema (load/summary.ts) defines them. */
type DbFigures = NonNullable<LoadStage['db']>;
type CpuFigures = NonNullable<LoadStage['cpu']>;
type EventLoopFigures = NonNullable<LoadStage['eventLoop']>;

// ---------------------------------------------------------------- database

/**
 * Samples the app's connections. `appName`: the app's application_name (the bundled app sets
 * `memorychat`); null counts every client connection to the database except the probe's own.
 */
export function startDbSampler(pool: pg.Pool, appName: string | null): { stop(): Promise<DbFigures> } {
  const samples: { busy: number; open: number }[] = [];
  const waitEvents: Record<string, number> = {};
  let running: Promise<void> | undefined;
  const sample = async (): Promise<void> => {
    const { rows } = await pool.query<{ busy: boolean | null; wait: string }>(
      `SELECT state <> 'idle' AS busy, coalesce(wait_event_type || ':' || wait_event, 'CPU') AS wait
         FROM pg_stat_activity
        WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
          AND ($1::text IS NULL OR application_name = $1)`,
      [appName],
    );
    const busy = rows.filter((r) => r.busy);
    samples.push({ busy: busy.length, open: rows.length });
    for (const { wait } of busy) waitEvents[wait] = (waitEvents[wait] ?? 0) + 1;
  };
  const timer = setInterval(() => {
    if (running) return; // a slow sample (busy database) is skipped, never queued
    running = sample()
      .catch(() => undefined)
      .finally(() => {
        running = undefined;
      });
  }, SAMPLE_EVERY_MS);
  return {
    async stop(): Promise<DbFigures> {
      clearInterval(timer);
      await running;
      const busy = samples.map((r) => r.busy);
      return {
        samples: samples.length,
        connectionsMax: Math.max(0, ...samples.map((r) => r.open)),
        busyMean: avg(busy) ?? 0,
        busyMax: Math.max(0, ...busy),
        allBusyShare: avg(samples.map((r) => (r.open > 0 && r.busy >= r.open ? 1 : 0))) ?? 0,
        waitEvents,
      };
    },
  };
}

/** The statements whose total execution time grew most between two snapshots. */
export function statementGrowth(before: StatementSnapshot, after: StatementSnapshot, top = 5) {
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

/** A /proc file's text; undefined when it is gone (or not Linux). */
function readProcFile(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function readProc(pid: number): ProcTimes | undefined {
  const stat = readProcFile(`/proc/${pid}/stat`);
  const cmd = readProcFile(`/proc/${pid}/cmdline`);
  if (stat === undefined || cmd === undefined) return undefined;
  // Fields after the command name "(…)", which may contain spaces.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[11]) + Number(rest[12]); // utime + stime
  return { ticks, cmd: cmd.replace(/\0/g, ' '), ppid: Number(rest[1]) };
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
  const m = /^some .*total=(\d+)/m.exec(readProcFile('/proc/pressure/cpu') ?? '');
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** A thread's time on a CPU and waiting in a run queue for one (ns, since it started): the main thread's for a pid. */
function readSchedstat(pid: number): { run: number; wait: number } | undefined {
  const [run, wait] = (readProcFile(`/proc/${pid}/schedstat`) ?? '').split(' ').map(Number);
  return run !== undefined && wait !== undefined && Number.isFinite(run + wait) ? { run, wait } : undefined;
}

/** The machine's busy time (stolen time included: a CPU that had work) and all time, in ticks. */
function machineTicks(): { busy: number; total: number } | undefined {
  const t = readCpuTicks();
  return t && { busy: t.wanted, total: t.wanted + t.idle };
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
function classify(
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
  // Each process of a part, at the first scan and the last: its CPU ticks and, for the event-loop
  // processes, their main thread's run and run-queue wait. Processes come and go (Chromium renderers,
  // Artillery workers): those born during the step count from zero.
  type Seen = { part: Part; ticks: number; sched: { run: number; wait: number } | undefined };
  const last = new Map<number, Seen>();
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
      if (!part) continue;
      const loop = part === 'app' || part === 'modelSimulator' ? readSchedstat(pid) : undefined;
      last.set(pid, { part, ticks: p.ticks, sched: loop ?? last.get(pid)?.sched });
    }
  };
  scan();
  const first = new Map(last);
  const timer = setInterval(scan, CPU_EVERY_MS);
  return {
    stop(): CpuFigures {
      clearInterval(timer);
      scan();
      const seconds = Math.max((performance.now() - started) / 1000, 1e-3);
      const r = (n: number | undefined): number | undefined => (n === undefined ? undefined : round(n));
      const whole = (readings: readonly Reading[]): number | undefined => {
        const [from, to] = [readings[0], readings.at(-1)];
        return from && to && to.total > from.total ? (to.busy - from.busy) / (to.total - from.total) : undefined;
      };
      /** Cores a part used on average; undefined when no process of it was seen. */
      const used = (part: Part): number | undefined => {
        let ticks: number | undefined;
        for (const [pid, now] of last) {
          if (now.part === part) ticks = (ticks ?? 0) + now.ticks - (first.get(pid)?.ticks ?? 0);
        }
        return ticks === undefined ? undefined : r(ticks / CLOCK_TICKS / seconds);
      };
      const waitShare = (part: Part): number | undefined => {
        let [run, wait] = [0, 0];
        for (const [pid, { part: p, sched }] of last) {
          if (p !== part || !sched) continue;
          run += sched.run - (first.get(pid)?.sched?.run ?? 0);
          wait += sched.wait - (first.get(pid)?.sched?.wait ?? 0);
        }
        return run + wait > 0 ? r(wait / (run + wait)) : undefined;
      };
      const coreWait = { app: waitShare('app'), modelSimulator: waitShare('modelSimulator') };
      return {
        app: used('app'),
        postgres: used('postgres'),
        modelSimulator: used('modelSimulator'),
        loadGenerator: used('loadGenerator'),
        machineBusy: r(whole(machine)) ?? 0,
        machineBusyPeak: r(peakShare(machine, PEAK_SPAN_S)),
        cpuPressure: r(whole(stalls)),
        cpuPressurePeak: r(peakShare(stalls, PEAK_SPAN_S)),
        coreWait: coreWait.app === undefined && coreWait.modelSimulator === undefined ? undefined : coreWait,
        cores: os.cpus().length || 1,
      };
    },
  };
}

// ---------------------------------------------------------------- event loop

const EVENT_LOOP_EVERY_MS = PEAK_SPAN_S * 1000;
/** A loop too busy to answer its probe in time is itself the finding: that window merges into the next. */
const EVENT_LOOP_TIMEOUT_MS = 3_000;

type LoopFigures = NonNullable<EventLoopFigures['app']>;

/** The last window may be a fraction of a second: a peak counts full windows when there are any. */
function peakCandidates(windows: readonly EventLoopDelay[]): readonly EventLoopDelay[] {
  const full = windows.filter((w) => w.windowMs >= EVENT_LOOP_EVERY_MS / 2);
  return full.length > 0 ? full : windows;
}

/** A step's figures from its windows; null without any window that saw the timer fire. */
export function summarizeLoop(windows: readonly EventLoopDelay[]): LoopFigures | null {
  const seen = windows.filter((w) => w.samples > 0 && w.windowMs > 0);
  if (seen.length === 0) return null;
  const ms = seen.reduce((n, w) => n + w.windowMs, 0);
  return {
    windows: seen.length,
    delayP50Ms: round(p50(seen.map((w) => w.delayP50Ms)) ?? 0),
    delayP99Ms: round(Math.max(...seen.map((w) => w.delayP99Ms))),
    delayMaxMs: round(Math.max(...seen.map((w) => w.delayMaxMs))),
    utilizationMean: round(seen.reduce((n, w) => n + w.utilization * w.windowMs, 0) / ms),
    utilizationPeak: round(Math.max(...peakCandidates(seen).map((w) => w.utilization))),
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
