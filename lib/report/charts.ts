/**
 * Charts as SVG, rendered in Node with vega-lite (compile) + vega (View.toSVG, renderer 'none'):
 * no canvas, no browser. PNG is skipped on purpose: it would need the native `canvas` package.
 *
 *  - latency-<scenario>.svg: distribution of raw samples per response metric (box plot + points);
 *  - memory-scaling.svg: API p50 vs memory count on log-log axes; the gated growth exponents
 *    (database time) and the API curves' own slopes in the subtitle;
 *  - tokens-per-agent.svg: median tokens per call by agent (bar);
 *  - relevance.svg: recall@5 and MRR per search mode (bar = mean, whisker = 95 % CI, dashed = limit).
 *
 * Limits come from the run's own checks (PERF_THRESHOLDS included), never from constants here.
 *
 * vega is ESM with top-level await (its optional canvas probe), so it cannot be require()d;
 * it is loaded lazily with import(), which tsx and Playwright's transpiler keep as a real import().
 */
import type { TopLevelSpec } from 'vega-lite';
import { relevanceRows } from '../figures/relevance';
import { fitPowerLaw } from '../verdict/stats';
import { formatNumber } from '../verdict/thresholds';
import type { PerfSummary } from './summary';

/** What the charts draw: the run's metrics and the limits of its checks, nothing else of the summary. */
export type ChartInput = Pick<PerfSummary, 'metrics' | 'criteria'>;

export interface Chart {
  /** File name under reports/charts/. */
  file: string;
  title: string;
  svg: string;
}

type VegaModules = { vega: typeof import('vega'); vl: typeof import('vega-lite') };

let modules: Promise<VegaModules> | undefined;
function loadVega(): Promise<VegaModules> {
  modules ??= Promise.all([import('vega'), import('vega-lite')]).then(([vega, vl]) => ({ vega, vl }));
  return modules;
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const { vega, vl } = await loadVega();
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const RESPONSE_CHART_METRICS = [
  'response.ttft_ms',
  'response.total_ms',
  'response.ui_first_token_ms',
  'response.ui_done_ms',
];
const safeName = (s: string) =>
  s
    .replace(/[^a-z0-9_-]+/gi, '-')
    .replace(/^-+|-+$/g, '')
    .toLowerCase();

/** The limit the run held `metric` to (its `statistic`; in `scenario` when given), if it had one. */
function limitOf(
  summary: ChartInput,
  metric: string,
  statistic: string,
  scenario?: string,
): { op: string; limit: number } | undefined {
  const check = summary.criteria
    .flatMap((c) => c.checks)
    .find(
      (k) => k.metric === metric && k.statistic === statistic && (scenario === undefined || k.scenario === scenario),
    );
  return check && { op: check.op, limit: check.limit };
}

export function latencySpec(summary: ChartInput, scenario: string): TopLevelSpec | undefined {
  const values = summary.metrics
    .filter((m) => m.scenario === scenario && RESPONSE_CHART_METRICS.includes(m.name))
    .flatMap((m) => m.samples.map((v) => ({ metric: m.name.replace(/^response\./, ''), ms: v })));
  if (values.length === 0) return undefined;
  const total = limitOf(summary, 'response.total_ms', 'p95', scenario);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title:
      `Latency distribution: ${scenario}` + (total ? ` (round trip: limit p95 ${total.op} ${total.limit} ms)` : ''),
    width: 520,
    height: 200,
    data: { values },
    layer: [
      {
        mark: { type: 'boxplot', extent: 1.5, opacity: 0.5 },
        encoding: {
          y: { field: 'metric', type: 'nominal', title: null },
          x: { field: 'ms', type: 'quantitative', title: 'ms' },
        },
      },
      {
        mark: { type: 'tick', opacity: 0.6 },
        encoding: { y: { field: 'metric', type: 'nominal' }, x: { field: 'ms', type: 'quantitative' } },
      },
      ...(total
        ? [
            {
              data: { values: [{ limit: total.limit }] },
              mark: { type: 'rule' as const, color: 'firebrick', strokeDash: [4, 3] },
              encoding: { x: { field: 'limit', type: 'quantitative' as const } },
            },
          ]
        : []),
    ],
  };
}

/** The gated growth exponents (fitted on the server's database time), each with its limit. */
function gatedExponents(summary: ChartInput): string[] {
  const out: string[] = [];
  for (const [name, label] of [
    ['memory.search_exponent', 'search'],
    ['memory.retrieval_exponent', 'retrieval'],
  ] as const) {
    const m = summary.metrics.find((x) => x.name === name && x.n > 0);
    if (!m || m.max === null) continue;
    const limit = limitOf(summary, name, 'value');
    const value = formatNumber(m.max, m.unit, limit?.limit);
    out.push(`${label} ${value}${limit ? ` (limit ${limit.op} ${limit.limit})` : ''}`);
  }
  return out;
}

export function scalingSpec(summary: ChartInput): TopLevelSpec | undefined {
  const names = ['memory.retrieval_ms', 'memory.search_ms', 'memory.fuzzy_search_ms', 'memory.chat_retrieval_ms'];
  const points = summary.metrics
    .filter((m) => names.includes(m.name) && m.memoryCount !== undefined && m.p50 !== null && m.p50 > 0)
    .map((m) => ({ metric: m.name.replace(/^memory\./, ''), size: m.memoryCount as number, p50: m.p50 as number }));
  if (points.length === 0) return undefined;
  const slopes: string[] = [];
  for (const name of new Set(points.map((p) => p.metric))) {
    const pts = points.filter((p) => p.metric === name).map((p) => ({ size: p.size, value: p.p50 }));
    if (new Set(pts.map((p) => p.size)).size < 2) continue;
    const e = fitPowerLaw(pts).exponent;
    slopes.push(`${name} ${(Math.abs(e) < 0.005 ? 0 : e).toFixed(2)}`);
  }
  const gated = gatedExponents(summary);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Memory scaling: API p50 vs memory count (log-log)',
      subtitle: [
        ...(gated.length ? [`growth exponents checked (database time): ${gated.join(', ')}`] : []),
        slopes.length
          ? `fitted log-log slope of the API p50s (shown, not checked): ${slopes.join(', ')}`
          : 'not enough sizes for a slope',
      ],
    },
    width: 520,
    height: 260,
    data: { values: points },
    layer: [
      {
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'size', type: 'quantitative', scale: { type: 'log' }, title: 'memories' },
          y: { field: 'p50', type: 'quantitative', scale: { type: 'log' }, title: 'p50 (ms)' },
          color: { field: 'metric', type: 'nominal' },
        },
      },
      {
        mark: { type: 'line', strokeDash: [4, 4], opacity: 0.6 },
        transform: [{ regression: 'p50', on: 'size', method: 'pow', groupby: ['metric'] }],
        encoding: {
          x: { field: 'size', type: 'quantitative', scale: { type: 'log' } },
          y: { field: 'p50', type: 'quantitative', scale: { type: 'log' } },
          color: { field: 'metric', type: 'nominal' },
        },
      },
    ],
  };
}

export function tokensSpec(summary: ChartInput): TopLevelSpec | undefined {
  const values = summary.metrics
    .filter((m) => m.name === 'tokens.agent_total' && m.p50 !== null)
    .map((m) => ({ agent: m.scenario, tokens: m.p50 as number, p95: m.p95 ?? m.p50 ?? 0 }));
  if (values.length === 0) return undefined;
  const budget = limitOf(summary, 'tokens.total_per_message', 'max');
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title:
      'Tokens per call by agent (bar = p50, tick = p95' +
      (budget ? `; budget ${budget.limit.toLocaleString('en-US')} per message, all agents)` : ')'),
    width: 420,
    height: 200,
    data: { values },
    layer: [
      {
        mark: 'bar',
        encoding: {
          x: { field: 'agent', type: 'nominal', title: null, axis: { labelAngle: 0 } },
          y: { field: 'tokens', type: 'quantitative', title: 'tokens' },
        },
      },
      {
        mark: { type: 'tick', color: 'black', thickness: 2 },
        encoding: { x: { field: 'agent', type: 'nominal' }, y: { field: 'p95', type: 'quantitative' } },
      },
    ],
  };
}

export function relevanceSpec(summary: ChartInput): TopLevelSpec | undefined {
  const rows = relevanceRows(
    summary.metrics,
    summary.criteria.flatMap((c) => c.checks),
  );
  const values = rows
    .flatMap((r) => [
      { mode: r.mode, metric: 'recall@5', mean: r.recall.mean, low: r.recall.low, high: r.recall.high },
      { mode: r.mode, metric: 'MRR', mean: r.mrr.mean, low: r.mrr.low, high: r.mrr.high },
    ])
    .filter((v) => Number.isFinite(v.mean));
  if (values.length === 0) return undefined;
  const limits = [
    ...(rows[0]?.limits.recall !== undefined ? [{ metric: 'recall@5', limit: rows[0].limits.recall }] : []),
    ...(rows[0]?.limits.mrr !== undefined ? [{ metric: 'MRR', limit: rows[0].limits.mrr }] : []),
  ];
  const modes = rows.map((r) => r.mode);
  const x = { field: 'mode', type: 'nominal' as const, title: 'search mode', sort: modes, axis: { labelAngle: 0 } };
  const metricOrder = ['recall@5', 'MRR'];
  const color = { field: 'metric', type: 'nominal' as const, title: null, sort: metricOrder };
  const xOffset = { field: 'metric', sort: metricOrder };
  const y = { field: 'mean', type: 'quantitative' as const, title: 'mean', scale: { domain: [0, 1] } };
  const limitRule = {
    data: { values: limits },
    mark: { type: 'rule' as const, strokeDash: [4, 3], size: 1.5 },
    encoding: { y: { field: 'limit', type: 'quantitative' as const }, color },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Search relevance on the labelled retrieval set',
      subtitle: 'mean over the questions (bar), 95 % CI (whisker), limit (dashed)',
    },
    width: 360,
    height: 220,
    layer: [
      { data: { values }, mark: 'bar', encoding: { x, xOffset, color, y } },
      {
        data: { values },
        mark: { type: 'rule', color: 'black' },
        encoding: { x, xOffset, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' } },
      },
      ...(limits.length > 0 ? [limitRule] : []),
    ],
  };
}

/** The charts whose spec has data (a spec without data is undefined). */
export async function renderSpecs(specs: (readonly [file: string, title: string, TopLevelSpec | undefined])[]) {
  const charts: Chart[] = [];
  for (const [file, title, spec] of specs) if (spec) charts.push({ file, title, svg: await renderSvg(spec) });
  return charts;
}

/** All charts for a summary (skips those without data). */
export function renderCharts(summary: ChartInput): Promise<Chart[]> {
  const scenarios = [
    ...new Set(summary.metrics.filter((m) => RESPONSE_CHART_METRICS.includes(m.name)).map((m) => m.scenario)),
  ];
  return renderSpecs([
    ...scenarios.map((s) => [`latency-${safeName(s)}.svg`, `Latency: ${s}`, latencySpec(summary, s)] as const),
    ['memory-scaling.svg', 'Memory scaling', scalingSpec(summary)],
    ['tokens-per-agent.svg', 'Tokens per agent', tokensSpec(summary)],
    ['relevance.svg', 'Search relevance', relevanceSpec(summary)],
  ]);
}
