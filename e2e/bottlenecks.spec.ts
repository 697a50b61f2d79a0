/**
 * Checkpoint 7.4 §4 ("no major bottlenecks"): how much of a chat round trip is the app's own work
 * (app overhead share), and which SQL statements a burst of chat messages runs
 * (`pg_stat_statements`, when the extension is loaded). Statements per chat by memory count and
 * the growth exponents are in memory-scaling.spec.ts; the EXPLAIN index checks are in
 * database.spec.ts.
 *
 * `pg_stat_statements` is database-wide and other tests run at the same time, so the statement
 * diff is evidence (what ran, how often, how long), never a gated number; the per-request
 * statement count comes from the app's own `timing.dbQueries`. The extension is never reset
 * (other specs may be reading it).
 */
import type { Pool } from 'pg';
import { test, expect } from '../fixtures';
import type { MetricOptions } from '../fixtures/types';
import { timeBudget } from './helpers/budget';
import { SampleFailure, failureMessage } from './helpers/failures';
import { p50, round } from './helpers/numbers';
import { fewSamples, questionFor, setupScenario } from './helpers/scenarios';
import { chatOverApi } from './helpers/stream';

interface StatementRow {
  queryid: string;
  query: string;
  calls: number;
  total_ms: number;
  rows: number;
}

const TOP_STATEMENTS = 10;

test('app overhead share of a chat round trip, and the statements a chat burst runs', {
  tag: ['@bottlenecks', '@database', '@api'],
}, async ({ seed, api, perf, db }) => {
  const profile = perf.profile;
  const budget = timeBudget();
  const samples = fewSamples(profile);
  const sc = await setupScenario(seed, api, 'large-memory-context', profile, { sessions: profile.warmup + samples });

  const before = await statementSnapshot(db);
  const overhead: number[] = [];
  const roundTrip: number[] = [];
  const statements: number[] = [];
  const shareOpts: MetricOptions = { category: 'bottlenecks', scenario: 'default', unit: 'ratio', tags: { scenario: sc.name, samples } };

  await perf.repeat({ samples, warmup: profile.warmup, concurrency: 2, errorsTo: [{ name: 'bottlenecks.app_overhead_share', opts: shareOpts }] }, async (ctx) => {
    const session = await sc.nextSession();
    const r = await chatOverApi(sc.client, session.id, questionFor(sc.name, ctx.index + profile.warmup), budget);
    if (ctx.warmup) return;
    overhead.push(r.done.timing.totalMs - r.done.timing.modelMs);
    roundTrip.push(r.totalMs);
    if (r.done.timing.dbQueries !== undefined) statements.push(r.done.timing.dbQueries);
  });
  const after = await statementSnapshot(db);

  // One derived sample: p50 server-side app overhead / p50 client round trip.
  const o = p50(overhead);
  const t = p50(roundTrip);
  if (o !== undefined && t !== undefined && t > 0) perf.record('bottlenecks.app_overhead_share', o / t, { ...shareOpts, tags: { ...shareOpts.tags, overheadP50Ms: round(o, 1), roundTripP50Ms: round(t, 1) } });
  else perf.recordError('bottlenecks.app_overhead_share', new SampleFailure('not_derivable', 'no successful chat sample'), shareOpts);

  if ('error' in before || 'error' in after) {
    const why = 'error' in before ? before.error : 'error' in after ? after.error : '';
    perf.evidence('bottlenecks.top_statements', `pg_stat_statements not available: ${why}`, null, { category: 'bottlenecks' });
  } else {
    const diff = diffStatements(before.rows, after.rows);
    const byTime = [...diff].sort((a, b) => b.total_ms - a.total_ms).slice(0, TOP_STATEMENTS);
    const byCalls = [...diff].sort((a, b) => b.calls - a.calls).slice(0, TOP_STATEMENTS);
    const totalCalls = diff.reduce((s, d) => s + d.calls, 0);
    const top = byTime[0];
    perf.evidence('bottlenecks.top_statements',
      `chat burst of ${overhead.length} messages: ${totalCalls} statements database-wide (other tests included); app-reported ${fmt(p50(statements))} per chat (p50); slowest total: ${top ? `${round(top.total_ms, 1)} ms over ${top.calls} calls: ${top.query.slice(0, 80)}` : 'none'}`,
      { byTotalTime: byTime, byCalls, appReportedStatementsPerChat: statements, note: 'pg_stat_statements is database-wide: concurrent tests are included' },
      { category: 'bottlenecks' });
  }

  perf.evidence('bottlenecks.app_overhead', `app overhead p50 ${fmt(o)} ms of a ${fmt(t)} ms round trip (${o !== undefined && t ? round((100 * o) / t, 1) : 'n/a'} %)`, { overheadMs: overhead.map((v) => round(v)), roundTripMs: roundTrip.map((v) => round(v)) }, { category: 'bottlenecks' });

  expect.soft(overhead.every((v) => v >= 0), 'server timing: total ≥ model time for every reply').toBe(true);
});

/** The database's statements so far, or why they cannot be read (extension not loaded/allowed). */
async function statementSnapshot(db: Pool): Promise<{ rows: StatementRow[] } | { error: string }> {
  try {
    const r = await db.query<StatementRow>(
      `SELECT queryid::text AS queryid, left(query, 300) AS query, calls::float8 AS calls, total_exec_time AS total_ms, rows::float8 AS rows
       FROM pg_stat_statements
       WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    return { rows: r.rows };
  } catch (error) {
    return { error: failureMessage(error) };
  }
}

function diffStatements(before: StatementRow[], after: StatementRow[]): StatementRow[] {
  const old = new Map(before.map((r) => [r.queryid, r]));
  return after
    .map((r) => {
      const b = old.get(r.queryid);
      return { ...r, calls: r.calls - (b?.calls ?? 0), total_ms: round(r.total_ms - (b?.total_ms ?? 0), 2), rows: r.rows - (b?.rows ?? 0) };
    })
    .filter((r) => r.calls > 0 && !/pg_stat_statements/.test(r.query));
}

function fmt(v: number | undefined): string {
  return v === undefined ? 'n/a' : String(round(v, 1));
}
