/**
 * The database spec's evidence, from what PostgreSQL reports: whether an EXPLAIN (FORMAT JSON)
 * plan uses the intended index and its shape in one line, and the statements pg_stat_statements
 * counted during a phase (lib/figures/statements.ts takes the snapshots and their difference).
 */
import type { StatementRow } from './statements';

export interface PlanNode {
  'Node Type'?: string;
  'Index Name'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

/** Every node of an EXPLAIN (FORMAT JSON) plan, depth first. */
function planNodes(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(planNodes)];
}

/** Whether the plan uses `index`, and its nodes in one line: "Limit → Index Scan using idx_…". */
export function readPlan(plan: PlanNode, index: string): { used: boolean; shape: string } {
  const nodes = planNodes(plan);
  const indexes = nodes.map((n) => n['Index Name']).filter((n): n is string => Boolean(n));
  const shape = nodes
    .map((n) => {
      const target = n['Index Name']
        ? ` using ${n['Index Name']}`
        : n['Relation Name']
          ? ` on ${n['Relation Name']}`
          : '';
      return `${n['Node Type'] ?? '?'}${target}`;
    })
    .join(' → ');
  return { used: indexes.includes(index), shape };
}

export interface StatementSummary {
  query: string;
  calls: number;
  meanMs: number;
  totalMs: number;
  rows: number;
}

/**
 * The statements of a phase (a diffStatements result), most total time first, and one line: how
 * many distinct statements, calls per API request, the top three.
 */
export function summarizeStatements(
  rows: readonly StatementRow[],
  apiRequests: number,
): { line: string; statements: StatementSummary[] } {
  const statements = rows
    .map((row) => ({
      query: row.query.replace(/\s+/g, ' ').slice(0, 240),
      calls: row.calls,
      meanMs: row.calls > 0 ? row.total_ms / row.calls : 0,
      totalMs: row.total_ms,
      rows: row.rows,
    }))
    .sort((a, b) => b.totalMs - a.totalMs);
  const totalCalls = statements.reduce((n, s) => n + s.calls, 0);
  const top = statements
    .slice(0, 3)
    .map((s) => `${s.calls}× ${s.meanMs.toFixed(3)} ms ${s.query.slice(0, 60)}`)
    .join(' | ');
  const line =
    `${statements.length} distinct statements, ${totalCalls} calls for ${apiRequests} API requests ` +
    `(${(totalCalls / apiRequests).toFixed(1)} per request); top: ${top}`;
  return { line, statements };
}
