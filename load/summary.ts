/**
 * The load test's outputs, all from one validated object (zod, like lib/report/summary.ts):
 * `reports/load-summary.json` (the contract for tools), `reports/load-summary.md` (humans, CI job
 * summary), the console table, `reports/charts/load-*.svg` and the Allure result "Load capacity".
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { TopLevelSpec } from 'vega-lite';
import { EVENT_LOOP_PATH } from '../contract';
import { renderSpecs, type Chart } from '../lib/report/charts';
import { list, table, text, type Block, type Format, type Report, type Section } from '../lib/report/document';
import { renderConsoleReport } from '../lib/report/console';
import { renderMarkdownReport } from '../lib/report/markdown';
import { PEAK_SPAN_S } from './probes';

export const LOAD_SUMMARY_JSON = 'load-summary.json';
const LOAD_SUMMARY_MD = 'load-summary.md';

const pct = z.object({ p50: z.number().nullable(), p95: z.number().nullable(), p99: z.number().nullable() });

/** One event loop over a step (load/probes.ts). */
const loopFigures = z.object({
  /** Windows read during the step (one per 5 s, plus the last, shorter one). */
  windows: z.number().int(),
  /** Median of the windows' p50 delays (ms). */
  delayP50Ms: z.number(),
  /** The worst window's p99 delay (ms). */
  delayP99Ms: z.number(),
  delayMaxMs: z.number(),
  /** Share of the step the loop was not idle, mean over the step and in the busiest window. */
  utilizationMean: z.number(),
  utilizationPeak: z.number(),
});

const stageSchema = z.object({
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
  /** The same chats timed by the app itself (`done.timing`); null percentiles when the target sends none. */
  serverTtftMs: pct,
  serverTotalMs: pct,
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
  browser: z
    .object({
      users: z.number().int(),
      requests: z.number().int(),
      failed: z.number().int(),
      totalMs: pct,
      ttftMs: pct,
    })
    .nullable(),
  /** The app's connections, sampled from pg_stat_activity (load/probes.ts). */
  db: z
    .object({
      samples: z.number().int(),
      /** Most app connections open at once. */
      connectionsMax: z.number(),
      busyMean: z.number(),
      busyMax: z.number(),
      /** Share of samples in which every open app connection was busy (pool exhausted → requests wait). */
      allBusyShare: z.number(),
      /** Busy-connection samples by wait event (`Lock:transactionid`, `IO:WALSync`, `CPU` when none). */
      waitEvents: z.record(z.string(), z.number()),
    })
    .nullable(),
  /** LOAD_WORKERS > 1: Artillery's merged round-trip percentiles vs those of all raw samples. */
  mergeCheck: z
    .object({
      workers: z.number().int(),
      samples: z.number().int(),
      checks: z.array(
        z.object({
          quantile: z.number(),
          merged: z.number(),
          exact: z.number(),
          interpolated: z.number(),
          relativeError: z.number(),
          withinPrecision: z.boolean(),
        }),
      ),
    })
    .nullable(),
  topStatements: z.array(z.object({ query: z.string(), calls: z.number(), totalMs: z.number(), meanMs: z.number() })),
  /** Cores used on average during the step, per part (absent when not seen: a remote target's). */
  cpu: z
    .object({
      app: z.number().optional(),
      postgres: z.number().optional(),
      modelSimulator: z.number().optional(),
      loadGenerator: z.number().optional(),
      /** Whole machine: busy share of all cores (0..1); `…Peak` in the step's busiest PEAK_SPAN_S. */
      machineBusy: z.number(),
      machineBusyPeak: z.number().optional(),
      /** Share of the step in which some task waited for a CPU (/proc/pressure/cpu "some"; absent without PSI). */
      cpuPressure: z.number().optional(),
      cpuPressurePeak: z.number().optional(),
      /**
       * Share of the time the app's and the simulator's main thread was ready to run that it spent
       * waiting for a core (/proc/<pid>/schedstat). High: the machine's CPUs hold its requests back.
       */
      coreWait: z.object({ app: z.number().optional(), modelSimulator: z.number().optional() }).optional(),
      cores: z.number(),
    })
    .nullable(),
  /**
   * The target's event-loop probe (contract/event-loop.ts), read every 5 s; `reported` false (with
   * `note`) when the target does not offer it. Null when the step ended before the probes started.
   */
  eventLoop: z
    .object({
      reported: z.boolean(),
      note: z.string().nullable(),
      app: loopFigures.nullable(),
      modelSimulator: loopFigures.nullable(),
    })
    .nullable(),
});
export type LoadStage = z.infer<typeof stageSchema>;

export const loadSummarySchema = z.object({
  schemaVersion: z.literal(1),
  verdict: z.enum(['pass', 'fail']),
  engine: z.literal('artillery'),
  artilleryVersion: z.string(),
  createdAt: z.string(),
  runId: z.string(),
  target: z.object({
    baseUrl: z.string(),
    bundledStack: z.boolean(),
    app: z.string(),
    version: z.string(),
    faults: z.array(z.string()),
  }),
  model: z.object({
    source: z.enum(['simulator', 'openai-compatible']),
    latency: z.string().nullable(),
    conversation: z.string().nullable(),
  }),
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

/** A load figure in ms (seconds from 10 s on), `–` when not measured: the one format of every load report. */
export const ms = (v: number | null): string => {
  if (v === null) return '–';
  return v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;
};
const pc = (v: number | null): string => (v === null ? '–' : `${(v * 100).toFixed(v < 0.1 && v > 0 ? 2 : 1)} %`);
const cores = (v: number | undefined): string => (v === undefined ? '–' : v.toFixed(2));
export const p3 = (p: z.infer<typeof pct>): string => `${ms(p.p50)} / ${ms(p.p95)} / ${ms(p.p99)}`;
/** Event-loop delays are often below a millisecond: one decimal below 10 ms. */
const loopMs = (v: number): string => (v < 10 ? v.toFixed(1) : String(Math.round(v)));
const NOT_REPORTED = 'not reported';
type Loop = z.infer<typeof loopFigures>;
/** `1.2 / 73 ms (100 %)`: delay p50 / worst-window p99, and the busiest window's utilization. */
const loopCell = (loop: Loop | null | undefined): string =>
  loop ? `${loopMs(loop.delayP50Ms)} / ${loopMs(loop.delayP99Ms)} ms (${pc(loop.utilizationPeak)})` : NOT_REPORTED;
/** The app loop's worst-window p99 delay, as the console table and the per-step progress line show it. */
export const appLoopP99 = (st: LoadStage): string =>
  st.eventLoop?.app ? `${loopMs(st.eventLoop.app.delayP99Ms)} ms` : NOT_REPORTED;
const loopText = (name: string, loop: Loop | null): string =>
  loop
    ? `${name} delay p50 ${loopMs(loop.delayP50Ms)} ms, p99 ${loopMs(loop.delayP99Ms)} ms (worst window), ` +
      `max ${loopMs(loop.delayMaxMs)} ms; busy ${pc(loop.utilizationMean)} on average, ` +
      `${pc(loop.utilizationPeak)} in its busiest window`
    : `${name} ${NOT_REPORTED}`;

function causesText(causes: Record<string, number>): string {
  const entries = Object.entries(causes).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k} ×${v}`).join(', ');
}

/** Short, readable diagnosis of a step from its probes: what ran out first. */
export function limitsOf(stage: LoadStage): string[] {
  const out: string[] = [];
  const { cpu, db } = stage;
  if (cpu?.app !== undefined && cpu.app >= 0.85) {
    out.push(`app process CPU ${cpu.app.toFixed(2)} cores: Node's one event loop is saturated`);
  }
  if (cpu?.postgres !== undefined && cpu.postgres >= 0.85 * cpu.cores) {
    out.push(`PostgreSQL CPU ${cpu.postgres.toFixed(2)} cores`);
  }
  if (cpu && cpu.machineBusy >= 0.9) {
    out.push(`the machine's CPUs were ${pc(cpu.machineBusy)} busy (load generator ${cores(cpu.loadGenerator)} cores)`);
  } else if (cpu && (cpu.machineBusyPeak ?? 0) >= 0.9) {
    // The step's average includes its ramp and tail: the plateau can be saturated all the same.
    const pressure = cpu.cpuPressurePeak !== undefined ? `, tasks waiting for a core ${pc(cpu.cpuPressurePeak)}` : '';
    out.push(
      `the machine's CPUs were ${pc(cpu.machineBusyPeak ?? null)} busy in the busiest ${PEAK_SPAN_S} s ` +
        `(${pc(cpu.machineBusy)} over the whole step${pressure}; load generator ${cores(cpu.loadGenerator)} cores)`,
    );
  }
  // A loop that is never idle adds its queue to every await of every request (TTFT grows with users).
  const loops: [string, 'app' | 'modelSimulator', Loop | null | undefined][] = [
    ['app', 'app', stage.eventLoop?.app],
    ['model simulator', 'modelSimulator', stage.eventLoop?.modelSimulator],
  ];
  for (const [name, part, loop] of loops) {
    if (!loop || loop.utilizationPeak < 0.9) continue;
    const wait = cpu?.coreWait?.[part];
    const why =
      wait === undefined
        ? 'every await of a request waits that long'
        : wait >= 0.3
          ? `its thread spent ${pc(wait)} of the time it was ready to run waiting for a core: ` +
            'the machine’s CPUs, shared with the other processes, ran out before the loop’s own work did'
          : `its thread waited for a core only ${pc(wait)} of the time: its own work fills it`;
    out.push(
      `${name} event loop ${pc(loop.utilizationPeak)} busy in its busiest ${PEAK_SPAN_S} s, work waiting ` +
        `p50 ${loopMs(loop.delayP50Ms)} ms / p99 ${loopMs(loop.delayP99Ms)} ms per turn of the loop; ${why}`,
    );
  }
  if (db && db.allBusyShare >= 0.2) {
    out.push(
      `database pool: all ${db.connectionsMax} app connections busy in ${pc(db.allBusyShare)} of samples ` +
        '(requests wait for a connection)',
    );
  }
  const lockWaits = Object.entries(db?.waitEvents ?? {})
    .filter(([k]) => k.startsWith('Lock:'))
    .reduce((n, [, v]) => n + v, 0);
  if (db && lockWaits > 0 && lockWaits >= 0.2 * db.samples) {
    out.push(`row/transaction lock waits in the database (${lockWaits} samples)`);
  }
  if (cpu?.loadGenerator !== undefined && cpu.loadGenerator >= 0.85) {
    out.push(
      `the load generator used ${cpu.loadGenerator.toFixed(2)} cores: client-side figures include its own ` +
        'queueing (spread it with LOAD_WORKERS, or run it on other machines)',
    );
  }
  const client = stage.totalMs.p95;
  const server = stage.serverTotalMs.p95;
  if (client !== null && server !== null && client - server > Math.max(500, 0.25 * server)) {
    out.push(
      `the clients saw ${ms(client)} at p95 where the app measured ${ms(server)}: time spent before the app's ` +
        'handler or in the network/generator',
    );
  }
  const top = Object.entries(stage.errorCauses).sort((a, b) => b[1] - a[1])[0];
  if (top && stage.errors > 0) out.push(`most frequent error: ${top[0]} (×${top[1]})`);
  return out;
}

/** The steps' table: the console shows the columns without `only: 'markdown'`, Markdown those without `'console'`. */
const COLUMNS: [head: string, cell: (st: LoadStage) => string, only?: Format][] = [
  ['users', (st) => String(st.users)],
  ['result', (st) => (st.passed ? '✓ pass' : '✗ fail')],
  ['chats', (st) => String(st.chatRequests)],
  ['chats/s', (st) => st.chatsPerSecond.toFixed(1), 'markdown'],
  ['in flight max', (st) => String(st.concurrency.chatsInFlightMax ?? '–'), 'markdown'],
  ['errors', (st) => `${st.errors} (${pc(st.errorRate)})`],
  ['TTFT p95', (st) => ms(st.ttftMs.p95), 'console'],
  ['ITL p95', (st) => ms(st.itlMs.p95), 'console'],
  ['total p50', (st) => ms(st.totalMs.p50), 'console'],
  ['total p95', (st) => ms(st.totalMs.p95), 'console'],
  ['total p99', (st) => ms(st.totalMs.p99), 'console'],
  ['TTFT p50 / p95 / p99', (st) => p3(st.ttftMs), 'markdown'],
  ['inter-token p50 / p95 / p99', (st) => p3(st.itlMs), 'markdown'],
  ['round trip p50 / p95 / p99', (st) => p3(st.totalMs), 'markdown'],
  ['goodput', (st) => pc(st.goodput)],
  ['app CPU', (st) => cores(st.cpu?.app)],
  ['DB all busy', (st) => (st.db ? pc(st.db.allBusyShare) : '–'), 'markdown'],
  ['app loop p99', appLoopP99, 'console'],
  ['app loop p50 / p99 (busy)', (st) => loopCell(st.eventLoop?.app), 'markdown'],
  ['sim loop p50 / p99 (busy)', (st) => loopCell(st.eventLoop?.modelSimulator), 'markdown'],
  ['CPU peak', (st) => pc(st.cpu?.machineBusyPeak ?? null), 'console'],
  ['machine CPU peak', (st) => pc(st.cpu?.machineBusyPeak ?? null), 'markdown'],
];

function stagesTable(stages: LoadStage[], format: Format): Block {
  const columns = COLUMNS.filter(([, , only]) => only === undefined || only === format);
  const align = columns.map(([head]) => (head === 'result' || head.includes(' / ') ? 'l' : 'r')).join('');
  const rows = stages.map((st) => columns.map(([, cell]) => cell(st)));
  const head = columns.map(([h]) => h);
  return table(head, rows, align, format);
}

/** Cores the machine spent outside the stack and the generator (other work on a shared machine). */
function othersText(cpu: NonNullable<LoadStage['cpu']>): string {
  const parts = [cpu.app, cpu.postgres, cpu.modelSimulator, cpu.loadGenerator];
  if (parts.some((p) => p === undefined)) return '';
  const others = cpu.machineBusy * cpu.cores - parts.reduce((n: number, p) => n + (p ?? 0), 0);
  return ` (${Math.max(0, others).toFixed(2)} cores of it by other processes)`;
}

function stageDetails(st: LoadStage): Section {
  const { concurrency: k, browser: b, cpu, eventLoop: loop, db, mergeCheck: m } = st;
  const waits = Object.entries(db?.waitEvents ?? {})
    .sort((x, y) => y[1] - x[1])
    .slice(0, 4)
    .map(([w, n]) => `${w} ×${n}`);
  const merged = m?.checks.map((c) => {
    const verdict = c.withinPrecision ? 'within the sketch’s 1 %' : 'BEYOND the sketch’s 1 %';
    const error = (c.relativeError * 100).toFixed(2);
    const q = `p${Math.round(c.quantile * 100)}`;
    return `${q} ${c.merged.toFixed(1)} vs ${c.exact.toFixed(1)} ms (${error} %, ${verdict})`;
  });
  const limits = limitsOf(st);
  const items = [
    !st.passed && `failed: ${st.reasons.join('; ')}`,
    `${st.requests} API calls in ${st.durationS.toFixed(0)} s; errors by cause: ` + causesText(st.errorCauses),
    k.activeUsersMax !== null &&
      'concurrency seen by each chat as it started: users in their chat loop ' +
        `p50 ${k.activeUsersP50 ?? '–'}, max ${k.activeUsersMax}; ` +
        `chats streaming p50 ${k.chatsInFlightP50 ?? '–'}, max ${k.chatsInFlightMax ?? '–'}`,
    st.serverTotalMs.p95 !== null &&
      `the app's own timing of the same chats: first token p50 / p95 ${ms(st.serverTtftMs.p50)} / ` +
        `${ms(st.serverTtftMs.p95)}, round trip ${ms(st.serverTotalMs.p50)} / ${ms(st.serverTotalMs.p95)} ` +
        '(the rest of the client figures is network, queueing before the handler, and the load generator)',
    st.tokensPerReply !== null && `${st.tokensPerReply.toFixed(0)} streamed tokens per reply on average`,
    b &&
      `browser users: ${b.users}, ${b.requests} chats, ${b.failed} failed, ` +
        `send → done p50 ${ms(b.totalMs.p50)}, p95 ${ms(b.totalMs.p95)}`,
    cpu &&
      `CPU (cores): app ${cores(cpu.app)}, PostgreSQL ${cores(cpu.postgres)}, ` +
        `model simulator ${cores(cpu.modelSimulator)}, load generator ${cores(cpu.loadGenerator)}; ` +
        `machine ${pc(cpu.machineBusy)} busy of ${cpu.cores} cores${othersText(cpu)}` +
        (cpu.machineBusyPeak !== undefined ? `, ${pc(cpu.machineBusyPeak)} in its busiest ${PEAK_SPAN_S} s` : '') +
        (cpu.cpuPressure !== undefined
          ? `; some task waited for a core ${pc(cpu.cpuPressure)} of the step ` +
            `(${pc(cpu.cpuPressurePeak ?? null)} in the worst ${PEAK_SPAN_S} s)`
          : '') +
        (cpu.coreWait
          ? `; main thread ready but waiting for a core: app ${pc(cpu.coreWait.app ?? null)}, ` +
            `model simulator ${pc(cpu.coreWait.modelSimulator ?? null)} of the time`
          : ''),
    loop &&
      (loop.reported
        ? `event loop (${EVENT_LOOP_PATH}, ${PEAK_SPAN_S}-s windows): ${loopText('app', loop.app)}; ` +
          loopText('model simulator', loop.modelSimulator)
        : `event loop: ${NOT_REPORTED} (${loop.note ?? 'no reason given'})`),
    db &&
      `database: up to ${db.connectionsMax} app connections, ${db.busyMean.toFixed(1)} busy on average ` +
        `(max ${db.busyMax}), all busy in ${pc(db.allBusyShare)} of ${db.samples} samples; ` +
        `busy connections waiting on: ${waits.join(', ') || 'nothing'}`,
    m &&
      `${m.workers} Artillery workers, merged round-trip percentiles vs all ${m.samples} raw samples: ` +
        merged?.join('; '),
    st.topStatements.length > 0 && {
      text: 'statements that grew most (pg_stat_statements):',
      items: st.topStatements
        .slice(0, 3)
        .map(
          (q) =>
            `${q.totalMs.toFixed(0)} ms in ${q.calls} calls (${q.meanMs.toFixed(2)} ms each): ` +
            `\`${q.query.replace(/`/g, "'")}\``,
        ),
    },
    limits.length > 0 && `signs of saturation: ${limits.join('; ')}`,
  ];
  return { heading: `${st.users} users: ${st.passed ? 'pass' : 'fail'}`, blocks: [list(items, 'markdown')] };
}

/** The load run as a report: capacity and what limited it, the steps' table, then each step's details (Markdown). */
export function loadReport(s: LoadSummary): Report {
  const title = 'LOAD: HOW MANY PEOPLE CAN CHAT AT ONCE';
  const mark = s.verdict === 'pass' ? '✓' : '✗';
  const verdict = {
    heading: `${mark} Load: how many people can chat at once — ${s.verdict.toUpperCase()}`,
    line: `Verdict: ${s.verdict.toUpperCase()}`,
  };
  if (s.setupError)
    return { title, verdict, outcome: [{ blocks: [text(`**Not measured:** ${s.setupError}`)] }], sections: [] };
  const c = s.capacity;
  const f = c.firstFailure;
  const faults = s.target.faults.length ? `, faults: ${s.target.faults.join(', ')}` : '';
  const outcome = [
    text(
      `**Capacity: ${c.maxUsers} concurrent chat users** (required ${c.minUsers}, \`LOAD_MIN_USERS\`); a step ` +
        `passes with its chats' round-trip p95 < ${c.criteria.p95TotalMsBelow} ms, errors < ` +
        `${pc(c.criteria.errorRateBelow)} of all API calls and at least ${c.criteria.minChatRequests} chats, ` +
        'within its time limit.',
    ),
    f && text(`First failing step: **${f.users} users** — ${f.reasons.join('; ')}.`),
    c.limitedBy.length > 0 && text(`What ran out first: ${c.limitedBy.join('; ')}.`),
    !f &&
      s.stages.length > 0 &&
      text(
        `Every step passed: capacity is at least the largest step (${c.maxUsers}); ` +
          'raise `LOAD_STEPS` to find the limit.',
      ),
  ];
  const target =
    `Target ${s.target.baseUrl} (${s.target.bundledStack ? 'bundled stack' : 'given deployment'}${faults}), ` +
    `model ${s.model.source}${s.model.latency ? ` (${s.model.latency} latency)` : ''}, ` +
    `Artillery ${s.artilleryVersion}, think time ${s.ramp.thinkS} s, ${s.ramp.browsers} browser user(s) per step, ` +
    `${s.ramp.memoriesPerUser} memories per user. Run ${s.runId}, ${s.createdAt}.`;
  return {
    title,
    verdict,
    outcome: [{ blocks: outcome }],
    sections: [
      { blocks: [text(target, 'markdown'), stagesTable(s.stages, 'console'), stagesTable(s.stages, 'markdown')] },
      ...s.stages.map(stageDetails),
    ],
  };
}

export const renderLoadMarkdown = (s: LoadSummary): string => renderMarkdownReport(loadReport(s));
export const renderLoadConsole = (s: LoadSummary): string => renderConsoleReport(loadReport(s));

// ---------------------------------------------------------------- charts

function latencySpec(s: LoadSummary): TopLevelSpec | undefined {
  const values = s.stages
    .flatMap((st) =>
      (['p50', 'p95', 'p99'] as const).flatMap((p) => [
        { users: st.users, ms: st.totalMs[p], series: `round trip ${p}` },
        { users: st.users, ms: st.ttftMs[p], series: `first token ${p}` },
      ]),
    )
    .filter((v) => v.ms !== null);
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
      {
        data: { values: [{ limit }] },
        mark: { type: 'rule', color: 'firebrick', strokeDash: [4, 3] },
        encoding: { y: { field: 'limit', type: 'quantitative' } },
      },
    ],
  };
}

function goodputSpec(s: LoadSummary): TopLevelSpec | undefined {
  const values = s.stages
    .flatMap((st) => [
      { users: st.users, share: st.goodput, series: 'goodput (chats within the limit)' },
      { users: st.users, share: st.errorRate, series: 'error rate (all API calls)' },
    ])
    .filter((v) => v.share !== null);
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

/** Validates and writes the JSON, Markdown and charts; returns what was written. */
export async function writeLoadReports(
  reportDir: string,
  summary: LoadSummary,
): Promise<{ json: string; markdown: string; charts: Chart[] }> {
  const valid = loadSummarySchema.parse(summary);
  mkdirSync(path.join(reportDir, 'charts'), { recursive: true });
  const json = `${JSON.stringify(valid, null, 2)}\n`;
  const markdown = renderLoadMarkdown(valid);
  writeFileSync(path.join(reportDir, LOAD_SUMMARY_JSON), json);
  writeFileSync(path.join(reportDir, LOAD_SUMMARY_MD), `${markdown}\n`);
  const charts = valid.setupError
    ? []
    : await renderSpecs([
        ['load-latency.svg', 'Chat latency vs concurrent users', latencySpec(valid)],
        ['load-goodput.svg', 'Goodput vs concurrent users', goodputSpec(valid)],
      ]);
  for (const c of charts) writeFileSync(path.join(reportDir, 'charts', c.file), c.svg);
  return { json, markdown, charts };
}
