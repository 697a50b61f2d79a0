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
 *   processes on this machine: a remote deployment has no CPU figures here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type pg from 'pg';

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

interface StatementRow {
  queryid: string;
  query: string;
  calls: number;
  total: number;
}

/** A snapshot of pg_stat_statements for this database; undefined when the extension is missing. */
export async function statementSnapshot(pool: pg.Pool): Promise<Map<string, StatementRow> | undefined> {
  try {
    const r = await pool.query<StatementRow>(
      `SELECT queryid::text AS queryid, query, calls::float8 AS calls, total_exec_time AS total
         FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
        WHERE d.datname = current_database()`,
    );
    return new Map(r.rows.map((row) => [row.queryid, row]));
  } catch {
    return undefined;
  }
}

/** The statements whose total execution time grew most between two snapshots. */
export function statementGrowth(
  before: Map<string, StatementRow>,
  after: Map<string, StatementRow>,
  top = 5,
): StatementGrowth[] {
  const out: StatementGrowth[] = [];
  for (const [id, a] of after) {
    const b = before.get(id);
    const calls = a.calls - (b?.calls ?? 0);
    const totalMs = a.total - (b?.total ?? 0);
    if (calls <= 0 || totalMs <= 0) continue;
    // The probes' own statements are not the app's.
    if (/pg_stat_activity|pg_stat_statements/.test(a.query)) continue;
    out.push({ query: a.query.replace(/\s+/g, ' ').trim().slice(0, 160), calls, totalMs, meanMs: totalMs / calls });
  }
  return out.sort((x, y) => y.totalMs - x.totalMs).slice(0, top);
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
  const scan = (): void => {
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
    }
  };
  const startMachine = machineTicks();
  const started = performance.now();
  scan();
  for (const [pid, v] of last) baseline.set(pid, v.ticks);
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
      const endMachine = machineTicks();
      const machineBusy =
        startMachine && endMachine && endMachine.total > startMachine.total
          ? (endMachine.busy - startMachine.busy) / (endMachine.total - startMachine.total)
          : 0;
      const round = (n: number | undefined): number | undefined =>
        n === undefined ? undefined : Math.round(n * 100) / 100;
      const out: CpuFigures = { machineBusy: Math.round(machineBusy * 100) / 100, cores: cpuCount() };
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
