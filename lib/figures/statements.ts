/**
 * `pg_stat_statements` around a phase of a run: what SQL ran, how often, how long. The view is
 * database-wide (concurrent work is included) and never reset here (others may read it), so a
 * diff is evidence, never a gated number. Used by the specs and by the load test's probes.
 */
import type { Pool } from 'pg';

export interface StatementRow {
  queryid: string;
  query: string;
  calls: number;
  total_ms: number;
  /** Planning time (0 unless `pg_stat_statements.track_planning` is on: compare mode's own stacks). */
  plan_ms: number;
  rows: number;
}

export type StatementSnapshot = { rows: StatementRow[] } | { error: string };

/** The database's statements so far, or why they cannot be read (extension not loaded/allowed). */
export async function statementSnapshot(db: Pick<Pool, 'query'>): Promise<StatementSnapshot> {
  try {
    const r = await db.query<StatementRow>(
      `SELECT queryid::text AS queryid, left(query, 300) AS query, calls::float8 AS calls,
              total_exec_time AS total_ms, total_plan_time AS plan_ms, rows::float8 AS rows
       FROM pg_stat_statements
       WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    return { rows: r.rows };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * Statements that ran between two snapshots, with their calls/time/rows in that window; the
 * probes' own reads of the statistics views are not the app's and are left out.
 */
export function diffStatements(before: StatementRow[], after: StatementRow[]): StatementRow[] {
  const old = new Map(before.map((r) => [r.queryid, r]));
  return after
    .map((r) => {
      const b = old.get(r.queryid);
      return {
        ...r,
        calls: r.calls - (b?.calls ?? 0),
        total_ms: Math.round((r.total_ms - (b?.total_ms ?? 0)) * 100) / 100,
        plan_ms: Math.round((r.plan_ms - (b?.plan_ms ?? 0)) * 100) / 100,
        rows: r.rows - (b?.rows ?? 0),
      };
    })
    .filter((r) => r.calls > 0 && !/pg_stat_statements|pg_stat_activity/.test(r.query));
}

/** Per table: how often autovacuum has vacuumed and analyzed it so far. */
export type AutovacuumSnapshot = Map<string, { vacuums: number; analyzes: number }>;

/** The database's autovacuum counters, or undefined when they cannot be read. */
export async function autovacuumSnapshot(db: Pick<Pool, 'query'>): Promise<AutovacuumSnapshot | undefined> {
  try {
    const r = await db.query<{ relname: string; vacuums: number; analyzes: number }>(
      `SELECT relname, autovacuum_count::int AS vacuums, autoanalyze_count::int AS analyzes
       FROM pg_stat_user_tables`,
    );
    return new Map(r.rows.map((x) => [x.relname, { vacuums: x.vacuums, analyzes: x.analyzes }]));
  } catch {
    return undefined;
  }
}

/**
 * What autovacuum did between two snapshots, e.g. `sessions (analyze), memories (vacuum, analyze)`,
 * `none`, or undefined when a snapshot is missing. Autovacuum runs on one arm's database and not
 * the other's can tilt a millisecond comparison for a while (docs/compare-mode.md).
 */
export function autovacuumBetween(
  before: AutovacuumSnapshot | undefined,
  after: AutovacuumSnapshot | undefined,
): string | undefined {
  if (!before || !after) return undefined;
  const runs = [...after].flatMap(([table, a]) => {
    const b = before.get(table) ?? { vacuums: 0, analyzes: 0 };
    const what = [a.vacuums > b.vacuums && 'vacuum', a.analyzes > b.analyzes && 'analyze'].filter(Boolean);
    return what.length > 0 ? [`${table} (${what.join(', ')})`] : [];
  });
  return runs.length > 0 ? runs.sort().join(', ') : 'none';
}
