/**
 * Evidence of the response chats (response.spec.ts): the app-overhead split, the app against the
 * model alone, and Checkpoint 7.4 §4's bottleneck evidence from the heaviest prompt-building path.
 */
import type { Health } from '../../contract';
import type { MetricOptions, PerfRecorder } from '../../fixtures';
import { diffStatements, type StatementSnapshot } from '../../lib/figures/statements';
import { figure, p50, round } from '../../lib/verdict/numbers';
import { SampleFailure } from './failures';
import type { ChatSamples } from './response-samples';

const TOP_STATEMENTS = 10;

/**
 * The app-overhead split seen from both sides: the server's own (the metric) and the client's
 * (round trip − model time, so it also contains network and SSE framing).
 */
export function recordOverheadSplit(perf: PerfRecorder, scenario: string, s: ChatSamples, health: Health): void {
  perf.evidence(
    'response.app_overhead_split',
    `${scenario}: app overhead p50 ${figure(p50(s.serverOverhead))} ms server-side, ` +
      `${figure(p50(s.clientOverhead))} ms client-side (round trip − model time), ` +
      `round trip p50 ${figure(p50(s.roundTrips))} ms`,
    {
      serverSideMs: s.serverOverhead.map((v) => round(v)),
      clientSideMs: s.clientOverhead.map((v) => round(v)),
      tokenBudget: health.tokenBudget,
      faults: health.faults,
    },
    { scenario },
  );
}

/**
 * The simple-query round trip against the model's own latency for the same request shape. Without
 * the app's figures (the simple-query API test did not run in this worker) the summary says so.
 */
export function recordAppVsModel(
  perf: PerfRecorder,
  appRoundTripP50: number | undefined,
  directTotals: number[],
  maxTokens: number,
  missingAppNote?: string,
): void {
  const modelDirectP50 = p50(directTotals);
  const diff =
    appRoundTripP50 === undefined || modelDirectP50 === undefined ? undefined : appRoundTripP50 - modelDirectP50;
  perf.evidence(
    'response.app_vs_model',
    `simple-query: app round trip p50 ${figure(appRoundTripP50)} ms vs the model alone ` +
      `p50 ${figure(modelDirectP50)} ms (difference ${figure(diff)} ms)` +
      (missingAppNote ? ` (${missingAppNote})` : ''),
    { appRoundTripP50, modelDirectP50, maxTokens },
    { scenario: 'simple-query' },
  );
}

/**
 * Checkpoint 7.4 §4 evidence from the chats of `scenario`: the app's share of the round trip (p50
 * server-side overhead / p50 round trip, one derived sample) and which SQL statements those chats
 * ran (`pg_stat_statements`, evidence only: the view is database-wide). Statements per chat by
 * memory count are in memory-scaling.spec.ts.
 */
export function recordBottleneckEvidence(
  perf: PerfRecorder,
  scenario: string,
  s: ChatSamples,
  { before, after }: { before: StatementSnapshot; after: StatementSnapshot },
): void {
  const shareOpts: MetricOptions = { scenario: 'default', tags: { scenario, samples: s.roundTrips.length } };
  const o = p50(s.serverOverhead);
  const t = p50(s.roundTrips);
  if (o !== undefined && t !== undefined && t > 0)
    perf.record('bottlenecks.app_overhead_share', o / t, {
      ...shareOpts,
      tags: { ...shareOpts.tags, overheadP50Ms: round(o, 1), roundTripP50Ms: round(t, 1) },
    });
  else
    perf.recordError(
      'bottlenecks.app_overhead_share',
      new SampleFailure('not_derivable', 'no successful chat sample'),
      shareOpts,
    );
  perf.evidence(
    'bottlenecks.app_overhead',
    `app overhead p50 ${figure(o)} ms of a ${figure(t)} ms round trip ` +
      `(${o !== undefined && t ? round((100 * o) / t, 1) : 'n/a'} %)`,
    { overheadMs: s.serverOverhead.map((v) => round(v)), roundTripMs: s.roundTrips.map((v) => round(v)) },
  );

  // Which SQL statements the chats ran.
  if ('error' in before || 'error' in after) {
    const why = 'error' in before ? before.error : 'error' in after ? after.error : '';
    perf.evidence('bottlenecks.top_statements', `pg_stat_statements not available: ${why}`, null, {});
    return;
  }
  const diff = diffStatements(before.rows, after.rows);
  const byTime = [...diff].sort((a, b) => b.total_ms - a.total_ms).slice(0, TOP_STATEMENTS);
  const byCalls = [...diff].sort((a, b) => b.calls - a.calls).slice(0, TOP_STATEMENTS);
  const totalCalls = diff.reduce((n, d) => n + d.calls, 0);
  const top = byTime[0];
  const slowest = top ? `${round(top.total_ms, 1)} ms over ${top.calls} calls: ${top.query.slice(0, 80)}` : 'none';
  perf.evidence(
    'bottlenecks.top_statements',
    // The counters ran around the warm-up chats too (they start alongside the first samples).
    `${s.repliedChats} ${scenario} chats (${s.roundTrips.length} measured, the rest warm-ups): ` +
      `${totalCalls} statements database-wide; ` +
      `app-reported ${figure(p50(s.statementsPerChat))} per chat (p50); slowest total: ${slowest}`,
    {
      byTotalTime: byTime,
      byCalls,
      appReportedStatementsPerChat: s.statementsPerChat,
      note: 'pg_stat_statements is database-wide: concurrent work is included',
    },
  );
}
