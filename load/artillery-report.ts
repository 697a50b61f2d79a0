/**
 * Reads what one `artillery run --output report.json` wrote and turns it into the figures of one
 * step. Artillery's report: `{ aggregate: { counters, summaries, firstMetricAt, lastMetricAt, … },
 * intermediate: [...] }`, where `summaries` holds each histogram's percentiles (computed from the
 * histograms merged over all workers and periods) and `counters` the summed counters.
 *
 * Metric names come from load/processor.ts (chat.*), load/browser-processor.ts (chat.browser_*)
 * and Artillery's HTTP engine (http.*, errors.*).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Percentiles } from './capacity';

const summarySchema = z
  .object({
    count: z.number(),
    p50: z.number(),
    p95: z.number(),
    p99: z.number(),
    max: z.number(),
  })
  .loose();

export const artilleryReportSchema = z
  .object({
    aggregate: z
      .object({
        counters: z.record(z.string(), z.number()).default({}),
        summaries: z.record(z.string(), summarySchema).default({}),
        firstMetricAt: z.number().optional(),
        lastMetricAt: z.number().optional(),
      })
      .loose(),
  })
  .loose();
export type ArtilleryReport = z.infer<typeof artilleryReportSchema>;

/** Counts kept in a histogram come back within its 1 % precision: round them to whole users. */
const rounded = (v: number | undefined): number | null => (v === undefined ? null : Math.round(v));

const NO_PERCENTILES: Percentiles = { p50: null, p95: null, p99: null };

export function readArtilleryReport(file: string): ArtilleryReport {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const why = (err as Error).message;
    throw new Error(`Artillery's report ${file} could not be read (${why}); see reports/load-artillery.log`);
  }
  const parsed = artilleryReportSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`Artillery's report ${file} has an unexpected shape: ${parsed.error.issues[0]?.message ?? ''}`);
  }
  return parsed.data;
}

function percentiles(report: ArtilleryReport | undefined, name: string): Percentiles {
  const s = report?.aggregate.summaries[name];
  return s && s.count > 0 ? { p50: s.p50, p95: s.p95, p99: s.p99 } : NO_PERCENTILES;
}

/** Figures of one step from the API users' report and (optionally) the browser users' report. */
export function figuresOf(api: ArtilleryReport, browser?: ArtilleryReport) {
  const causes: Record<string, number> = {};
  const add = (cause: string, n: number): void => {
    if (n > 0) causes[cause] = (causes[cause] ?? 0) + n;
  };
  let httpRequests = 0;
  for (const report of [api, browser]) {
    if (!report) continue;
    const c = report.aggregate.counters;
    httpRequests += c['http.requests'] ?? 0;
    for (const [name, n] of Object.entries(c)) {
      // Per endpoint (metrics-by-endpoint plugin, on by default): "http:503 /api/memories/search".
      const endpoint = /^plugins\.metrics-by-endpoint\.(.+)\.codes\.([45]\d\d)$/.exec(name);
      if (name.startsWith('chat.failed.')) add(`chat:${name.slice('chat.failed.'.length)}`, n);
      else if (name.startsWith('errors.')) add(name.slice('errors.'.length), n);
      else if (endpoint) add(`http:${endpoint[2]} ${endpoint[1]}`, n);
    }
  }
  const c = api.aggregate.counters;
  const b = browser?.aggregate.counters ?? {};
  const apiChats = c['chat.requests'] ?? 0;
  const browserChats = b['chat.browser_requests'] ?? 0;
  const browserFailed = b['chat.browser_failed'] ?? 0;
  add('browser:chat_failed', browserFailed);
  const errors = Object.values(causes).reduce((n, v) => n + v, 0);
  const ok = c['chat.ok'] ?? 0;
  const span = ({ aggregate: a }: ArtilleryReport): number =>
    a.firstMetricAt !== undefined && a.lastMetricAt !== undefined ? (a.lastMetricAt - a.firstMetricAt) / 1000 : 0;
  return {
    requests: apiChats + browserChats + httpRequests,
    chatRequests: apiChats,
    errors,
    errorCauses: causes,
    ttftMs: percentiles(api, 'chat.ttft_ms'),
    itlMs: percentiles(api, 'chat.itl_ms'),
    totalMs: percentiles(api, 'chat.total_ms'),
    serverTtftMs: percentiles(api, 'chat.server_ttft_ms'),
    serverTotalMs: percentiles(api, 'chat.server_total_ms'),
    goodput: apiChats > 0 ? (c['chat.good'] ?? 0) / apiChats : null,
    tokensPerReply: ok > 0 ? (c['chat.tokens'] ?? 0) / ok : null,
    durationS: Math.max(span(api), browser ? span(browser) : 0),
    concurrency: {
      activeUsersP50: rounded(api.aggregate.summaries['load.active_users']?.p50),
      activeUsersMax: rounded(api.aggregate.summaries['load.active_users']?.max),
      chatsInFlightP50: rounded(api.aggregate.summaries['load.chats_in_flight']?.p50),
      chatsInFlightMax: rounded(api.aggregate.summaries['load.chats_in_flight']?.max),
    },
    browser: browser
      ? {
          requests: browserChats,
          failed: browserFailed,
          totalMs: percentiles(browser, 'chat.browser_total_ms'),
          ttftMs: percentiles(browser, 'chat.browser_ttft_ms'),
        }
      : null,
  };
}
