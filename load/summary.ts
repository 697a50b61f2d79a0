/**
 * The load test's outputs, all from one validated object (zod, like lib/summary.ts):
 * `reports/load-summary.json` (the contract for tools), `reports/load-summary.md` (humans, CI job
 * summary), the console table, `reports/charts/load-*.svg` and the Allure result "Load capacity".
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { TopLevelSpec } from 'vega-lite';
import { renderSvg, type Chart } from '../lib/charts';

export const LOAD_SUMMARY_SCHEMA_VERSION = 1;
export const LOAD_SUMMARY_JSON = 'load-summary.json';
export const LOAD_SUMMARY_MD = 'load-summary.md';

const pct = z.object({ p50: z.number().nullable(), p95: z.number().nullable(), p99: z.number().nullable() });

export const stageSchema = z.object({
  users: z.number().int().positive(),
  passed: z.boolean(),
  /** Why the step failed the criteria (empty when it passed). */
  reasons: z.array(z.string()),
  durationS: z.number(),
  /** All API calls: chats (API + browser), memory searches, session creates. */
  requests: z.number().int(),
  chatRequests: z.number().int(),
  errors: z.number().int(),
  errorRate: z.number(),
  errorCauses: z.record(z.string(), z.number()),
  ttftMs: pct,
  itlMs: pct,
  totalMs: pct,
  /** Chats completed within the limit / all chat requests. */
  goodput: z.number().nullable(),
  chatsPerSecond: z.number(),
  /** Users in their chat loop and chats streaming, as each chat saw them when it started. */
  concurrency: z.object({
    activeUsersP50: z.number().nullable(),
    activeUsersMax: z.number().nullable(),
    chatsInFlightP50: z.number().nullable(),
    chatsInFlightMax: z.number().nullable(),
  }),
  tokensPerReply: z.number().nullable(),
  browser: z.object({ users: z.number().int(), requests: z.number().int(), failed: z.number().int(), totalMs: pct, ttftMs: pct }).nullable(),
  db: z.object({
    samples: z.number().int(),
    connectionsMax: z.number(),
    busyMean: z.number(),
    busyMax: z.number(),
    allBusyShare: z.number(),
    waitEvents: z.record(z.string(), z.number()),
  }).nullable(),
  /** LOAD_WORKERS > 1: Artillery's merged round-trip percentiles vs those of all raw samples. */
  mergeCheck: z.object({
    workers: z.number().int(),
    samples: z.number().int(),
    checks: z.array(z.object({
      quantile: z.number(), merged: z.number(), exact: z.number(), interpolated: z.number(), relativeError: z.number(), withinPrecision: z.boolean(),
    })),
  }).nullable(),
  topStatements: z.array(z.object({ query: z.string(), calls: z.number(), totalMs: z.number(), meanMs: z.number() })),
  cpu: z.object({
    app: z.number().optional(),
    postgres: z.number().optional(),
    modelSimulator: z.number().optional(),
    loadGenerator: z.number().optional(),
    machineBusy: z.number(),
    cores: z.number(),
  }).nullable(),
});
export type LoadStage = z.infer<typeof stageSchema>;

export const loadSummarySchema = z.object({
  schemaVersion: z.literal(LOAD_SUMMARY_SCHEMA_VERSION),
  verdict: z.enum(['pass', 'fail']),
  engine: z.literal('artillery'),
  artilleryVersion: z.string(),
  createdAt: z.string(),
  runId: z.string(),
  target: z.object({ baseUrl: z.string(), bundledStack: z.boolean(), app: z.string(), version: z.string(), faults: z.array(z.string()) }),
  model: z.object({ source: z.enum(['simulator', 'openai-compatible']), latency: z.string().nullable(), conversation: z.string().nullable() }),
  capacity: z.object({
    maxUsers: z.number().int(),
    minUsers: z.number().int(),
    criteria: z.object({ p95TotalMsBelow: z.number(), errorRateBelow: z.number(), minChatRequests: z.number().int() }),
    firstFailure: z.object({ users: z.number().int(), reasons: z.array(z.string()) }).nullable(),
    /** Readable: what limited the first failing step (CPU, pool, errors), from the probes. */
    limitedBy: z.array(z.string()),
  }),
  ramp: z.object({
    steps: z.array(z.number().int()),
    stoppedEarly: z.boolean(),
    thinkS: z.number(),
    browsers: z.number().int(),
    memoriesPerUser: z.number().int(),
    minTurns: z.number().int(),
    workers: z.number().int(),
  }),
  stages: z.array(stageSchema),
  /** Set when the run stopped before any step (target down, bad configuration). */
  setupError: z.string().optional(),
});
export type LoadSummary = z.infer<typeof loadSummarySchema>;

// ---------------------------------------------------------------- text

const ms = (v: number | null): string => (v === null ? '–' : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);
const pc = (v: number | null): string => (v === null ? '–' : `${(v * 100).toFixed(v < 0.1 && v > 0 ? 2 : 1)} %`);
const cores = (v: number | undefined): string => (v === undefined ? '–' : v.toFixed(2));

function causesText(causes: Record<string, number>): string {
  const entries = Object.entries(causes).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k} ×${v}`).join(', ');
}

/** Short, readable diagnosis of a step from its probes: what ran out first. */
export function limitsOf(stage: LoadStage): string[] {
  const out: string[] = [];
  const cpu = stage.cpu;
  if (cpu?.app !== undefined && cpu.app >= 0.85) out.push(`app process CPU ${cpu.app.toFixed(2)} cores: Node's one event loop is saturated`);
  if (cpu?.postgres !== undefined && cpu.postgres >= 0.85 * cpu.cores) out.push(`PostgreSQL CPU ${cpu.postgres.toFixed(2)} cores`);
  if (cpu && cpu.machineBusy >= 0.9) out.push(`the machine's CPUs were ${pc(cpu.machineBusy)} busy (load generator ${cores(cpu.loadGenerator)} cores)`);
  if (stage.db && stage.db.allBusyShare >= 0.2) {
    out.push(`database pool: all ${stage.db.connectionsMax} app connections busy in ${pc(stage.db.allBusyShare)} of samples (requests wait for a connection)`);
  }
  const lockWaits = Object.entries(stage.db?.waitEvents ?? {}).filter(([k]) => k.startsWith('Lock:')).reduce((n, [, v]) => n + v, 0);
  if (lockWaits > 0 && stage.db && lockWaits >= 0.2 * stage.db.samples) out.push(`row/transaction lock waits in the database (${lockWaits} samples)`);
  const top = Object.entries(stage.errorCauses).sort((a, b) => b[1] - a[1])[0];
  if (top && stage.errors > 0) out.push(`most frequent error: ${top[0]} (×${top[1]})`);
  return out;
}

export function renderLoadMarkdown(s: LoadSummary): string {
  const lines: string[] = [];
  const c = s.capacity;
  lines.push(`# Load: how many people can chat at once — ${s.verdict === 'pass' ? '✅ PASS' : '❌ FAIL'}`, '');
  if (s.setupError) {
    lines.push(`**Not measured:** ${s.setupError}`, '');
    return lines.join('\n');
  }
  lines.push(
    `**Capacity: ${c.maxUsers} concurrent chat users** (required: ${c.minUsers}, \`LOAD_MIN_USERS\`). ` +
      `A step passes when the chats' round-trip p95 is below ${c.criteria.p95TotalMsBelow} ms and fewer than ` +
      `${pc(c.criteria.errorRateBelow)} of all API calls fail, with at least ${c.criteria.minChatRequests} chats measured.`,
    '',
  );
  if (c.firstFailure) {
    lines.push(`First failing step: **${c.firstFailure.users} users** — ${c.firstFailure.reasons.join('; ')}.`);
    if (c.limitedBy.length > 0) lines.push(`What ran out first: ${c.limitedBy.join('; ')}.`);
    lines.push('');
  } else if (s.stages.length > 0) {
    lines.push(`Every step passed: capacity is at least the largest step (${c.maxUsers}); raise \`LOAD_STEPS\` to find the limit.`, '');
  }
  lines.push(
    `Target ${s.target.baseUrl} (${s.target.bundledStack ? 'bundled stack' : 'given deployment'}${s.target.faults.length ? `, faults: ${s.target.faults.join(', ')}` : ''}), ` +
      `model ${s.model.source}${s.model.latency ? ` (${s.model.latency} latency)` : ''}, Artillery ${s.artilleryVersion}, ` +
      `think time ${s.ramp.thinkS} s, ${s.ramp.browsers} browser user(s) per step, ${s.ramp.memoriesPerUser} memories per user. Run ${s.runId}, ${s.createdAt}.`,
    '',
  );
  lines.push('| users | result | chats | chats/s | in flight max | errors | TTFT p50 / p95 / p99 | inter-token p50 / p95 / p99 | round trip p50 / p95 / p99 | goodput | app CPU | DB all busy |');
  lines.push('|---:|:---|---:|---:|---:|---:|---|---|---|---:|---:|---:|');
  for (const st of s.stages) {
    const p3 = (p: { p50: number | null; p95: number | null; p99: number | null }): string => `${ms(p.p50)} / ${ms(p.p95)} / ${ms(p.p99)}`;
    lines.push(
      `| ${st.users} | ${st.passed ? '✓ pass' : '✗ fail'} | ${st.chatRequests} | ${st.chatsPerSecond.toFixed(1)} | ${st.concurrency.chatsInFlightMax ?? '–'} | ${st.errors} (${pc(st.errorRate)}) | ${p3(st.ttftMs)} | ${p3(st.itlMs)} | ` +
        `${p3(st.totalMs)} | ${pc(st.goodput)} | ${cores(st.cpu?.app)} | ${st.db ? pc(st.db.allBusyShare) : '–'} |`,
    );
  }
  lines.push('');
  for (const st of s.stages) {
    lines.push(`## ${st.users} users: ${st.passed ? 'pass' : 'fail'}`, '');
    if (!st.passed) lines.push(`- failed: ${st.reasons.join('; ')}`);
    lines.push(`- ${st.requests} API calls in ${st.durationS.toFixed(0)} s; errors by cause: ${causesText(st.errorCauses)}`);
    const k = st.concurrency;
    if (k.activeUsersMax !== null) {
      lines.push(`- concurrency seen by each chat as it started: users in their chat loop p50 ${k.activeUsersP50 ?? '–'}, max ${k.activeUsersMax}; ` +
        `chats streaming p50 ${k.chatsInFlightP50 ?? '–'}, max ${k.chatsInFlightMax ?? '–'}`);
    }
    if (st.tokensPerReply !== null) lines.push(`- ${st.tokensPerReply.toFixed(0)} streamed tokens per reply on average`);
    if (st.browser) {
      lines.push(`- browser users: ${st.browser.users}, ${st.browser.requests} chats, ${st.browser.failed} failed, send → done p50 ${ms(st.browser.totalMs.p50)}, p95 ${ms(st.browser.totalMs.p95)}`);
    }
    if (st.cpu) {
      lines.push(`- CPU (cores): app ${cores(st.cpu.app)}, PostgreSQL ${cores(st.cpu.postgres)}, model simulator ${cores(st.cpu.modelSimulator)}, ` +
        `load generator ${cores(st.cpu.loadGenerator)}; machine ${pc(st.cpu.machineBusy)} busy of ${st.cpu.cores} cores`);
    }
    if (st.db) {
      const waits = Object.entries(st.db.waitEvents).sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, v]) => `${k} ×${v}`).join(', ');
      lines.push(`- database: up to ${st.db.connectionsMax} app connections, ${st.db.busyMean.toFixed(1)} busy on average (max ${st.db.busyMax}), ` +
        `all busy in ${pc(st.db.allBusyShare)} of ${st.db.samples} samples; busy connections waiting on: ${waits || 'nothing'}`);
    }
    if (st.mergeCheck) {
      const m = st.mergeCheck;
      lines.push(`- ${m.workers} Artillery workers, merged round-trip percentiles vs all ${m.samples} raw samples: ` +
        m.checks.map((c) => `p${Math.round(c.quantile * 100)} ${c.merged.toFixed(1)} vs ${c.exact.toFixed(1)} ms ` +
          `(${(c.relativeError * 100).toFixed(2)} %${c.withinPrecision ? ', within the sketch’s 1 %' : ', BEYOND the sketch’s 1 %'})`).join('; '));
    }
    if (st.topStatements.length > 0) {
      lines.push('- statements that grew most (pg_stat_statements):');
      for (const q of st.topStatements.slice(0, 3)) lines.push(`  - ${q.totalMs.toFixed(0)} ms in ${q.calls} calls (${q.meanMs.toFixed(2)} ms each): \`${q.query.replace(/`/g, "'")}\``);
    }
    const limits = limitsOf(st);
    if (limits.length > 0) lines.push(`- signs of saturation: ${limits.join('; ')}`);
    lines.push('');
  }
  return lines.join('\n');
}

export function renderLoadConsole(s: LoadSummary): string {
  const bar = '='.repeat(100);
  const out: string[] = [bar, 'LOAD: HOW MANY PEOPLE CAN CHAT AT ONCE'.padStart(69), bar];
  if (s.setupError) {
    out.push(`  not measured: ${s.setupError}`, bar);
    return out.join('\n');
  }
  out.push(`  ${'users'.padStart(5)}  ${'result'.padEnd(6)}  ${'chats'.padStart(5)}  ${'errors'.padStart(12)}  ${'TTFT p95'.padStart(9)}  ${'ITL p95'.padStart(8)}  ` +
    `${'total p50'.padStart(9)}  ${'total p95'.padStart(9)}  ${'total p99'.padStart(9)}  ${'goodput'.padStart(7)}  ${'app CPU'.padStart(7)}`);
  for (const st of s.stages) {
    out.push(`  ${String(st.users).padStart(5)}  ${(st.passed ? '✓ pass' : '✗ fail').padEnd(6)}  ${String(st.chatRequests).padStart(5)}  ` +
      `${`${st.errors} (${pc(st.errorRate)})`.padStart(12)}  ${ms(st.ttftMs.p95).padStart(9)}  ${ms(st.itlMs.p95).padStart(8)}  ${ms(st.totalMs.p50).padStart(9)}  ` +
      `${ms(st.totalMs.p95).padStart(9)}  ${ms(st.totalMs.p99).padStart(9)}  ${pc(st.goodput).padStart(7)}  ${cores(st.cpu?.app).padStart(7)}`);
  }
  out.push(bar);
  const c = s.capacity;
  out.push(`  Capacity: ${c.maxUsers} concurrent chat users (round-trip p95 < ${c.criteria.p95TotalMsBelow} ms, errors < ${pc(c.criteria.errorRateBelow)}); required ${c.minUsers}`);
  if (c.firstFailure) out.push(`  First failing step: ${c.firstFailure.users} users — ${c.firstFailure.reasons.join('; ')}`);
  if (c.limitedBy.length > 0) out.push(`  What ran out first: ${c.limitedBy.join('; ')}`);
  out.push(`  Verdict: ${s.verdict.toUpperCase()}`, bar);
  return out.join('\n');
}

// ---------------------------------------------------------------- charts

function latencySpec(s: LoadSummary): TopLevelSpec | undefined {
  const values = s.stages.flatMap((st) =>
    (['p50', 'p95', 'p99'] as const).flatMap((p) => [
      ...(st.totalMs[p] !== null ? [{ users: st.users, ms: st.totalMs[p], series: `round trip ${p}` }] : []),
      ...(st.ttftMs[p] !== null ? [{ users: st.users, ms: st.ttftMs[p], series: `first token ${p}` }] : []),
    ]));
  if (values.length === 0) return undefined;
  const limit = s.capacity.criteria.p95TotalMsBelow;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Chat latency vs concurrent users (limit: round-trip p95 < ${limit} ms; capacity ${s.capacity.maxUsers})`,
    width: 560,
    height: 260,
    layer: [
      {
        data: { values },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'users', type: 'quantitative', scale: { type: 'log' }, title: 'concurrent users (log)' },
          y: { field: 'ms', type: 'quantitative', title: 'ms' },
          color: { field: 'series', type: 'nominal', title: null },
        },
      },
      { data: { values: [{ limit }] }, mark: { type: 'rule', color: 'firebrick', strokeDash: [4, 3] }, encoding: { y: { field: 'limit', type: 'quantitative' } } },
    ],
  };
}

function goodputSpec(s: LoadSummary): TopLevelSpec | undefined {
  const values = s.stages.flatMap((st) => [
    ...(st.goodput !== null ? [{ users: st.users, share: st.goodput, series: 'goodput (chats within the limit)' }] : []),
    { users: st.users, share: st.errorRate, series: 'error rate (all API calls)' },
  ]);
  if (values.length === 0) return undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Goodput and error rate vs concurrent users',
    width: 560,
    height: 220,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'users', type: 'quantitative', scale: { type: 'log' }, title: 'concurrent users (log)' },
      y: { field: 'share', type: 'quantitative', axis: { format: '%' }, scale: { domain: [0, 1] }, title: null },
      color: { field: 'series', type: 'nominal', title: null },
    },
  };
}

export async function renderLoadCharts(s: LoadSummary): Promise<Chart[]> {
  const specs: [string, string, TopLevelSpec | undefined][] = [
    ['load-latency.svg', 'Chat latency vs concurrent users', latencySpec(s)],
    ['load-goodput.svg', 'Goodput vs concurrent users', goodputSpec(s)],
  ];
  const out: Chart[] = [];
  for (const [file, title, spec] of specs) if (spec) out.push({ file, title, svg: await renderSvg(spec) });
  return out;
}

/** Validates and writes the JSON, Markdown and charts; returns what was written. */
export async function writeLoadReports(reportDir: string, summary: LoadSummary): Promise<{ json: string; markdown: string; charts: Chart[] }> {
  const valid = loadSummarySchema.parse(summary);
  mkdirSync(path.join(reportDir, 'charts'), { recursive: true });
  const json = `${JSON.stringify(valid, null, 2)}\n`;
  const markdown = renderLoadMarkdown(valid);
  writeFileSync(path.join(reportDir, LOAD_SUMMARY_JSON), json);
  writeFileSync(path.join(reportDir, LOAD_SUMMARY_MD), `${markdown}\n`);
  const charts = valid.setupError ? [] : await renderLoadCharts(valid);
  for (const c of charts) writeFileSync(path.join(reportDir, 'charts', c.file), c.svg);
  return { json, markdown, charts };
}
