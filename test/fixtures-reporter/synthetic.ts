/**
 * Synthetic metrics attachments for the reporting unit tests and the reporter fixture run:
 * every catalog metric/scenario a profile expects, with plausible passing values, and knobs to
 * make one criterion fail.
 */
import { METRIC_CATALOG, expectedScenarios } from '../../lib/verdict/metric-catalog';
import { METRICS_SCHEMA_VERSION, type MetricInput, type TestMetrics } from '../../lib/verdict/metrics-schema';
import { PROFILES, type ProfileName } from '../../lib/run/profiles';
import { seededRandom } from '../../lib/verdict/stats';

/** Typical passing value (median) per metric. */
const TYPICAL: Record<string, number> = {
  'response.ttft_ms': 400,
  'response.total_ms': 1800,
  'response.model_ms': 1790,
  'response.app_overhead_ms': 8,
  'response.ui_first_token_ms': 450,
  'response.ui_done_ms': 1900,
  'model.direct_total_ms': 1750,
  'tokens.total_per_message': 1500,
  'tokens.prompt_per_message': 1300,
  'tokens.completion_per_message': 200,
  'tokens.agent_total': 900,
  'tokens.agent_model_match': 1,
  'tokens.history_growth_ratio': 1.02,
  'memory.retrieval_ms': 2,
  'memory.search_ms': 4,
  'memory.fuzzy_search_ms': 6,
  'memory.chat_retrieval_ms': 3,
  'memory.retrieval_exponent': 0.02,
  'memory.search_exponent': 0.1,
  'memory.search_hit': 1,
  'memory.recall_at_5': 0.95,
  'memory.mrr': 0.9,
  'db.session_create_ms': 1.5,
  'db.message_create_ms': 1.8,
  'db.query_ms': 0.4,
  'db.api_query_ms': 2,
  'db.index_used': 1,
  'bottlenecks.queries_per_chat': 6,
  'bottlenecks.queries_growth_ratio': 1,
  'bottlenecks.app_overhead_share': 0.005,
  'ui.page_load_ms': 250,
  'ui.lcp_ms': 300,
  'ui.long_conversation_render_ms': 400,
  'ui.scroll_frame_ms': 16,
};

export interface SyntheticOptions {
  profile?: ProfileName;
  seed?: number;
  /** Multiply every sample of these metrics (e.g. {'response.total_ms': 3} → slow model). */
  scale?: Record<string, number>;
  /** Replace values of these metrics (e.g. {'db.index_used': 0}). */
  set?: Record<string, number>;
  /** Leave these metrics out. */
  omit?: string[];
  /** Turn this many samples of a metric into errors. */
  errors?: Record<string, number>;
  /** Add this many failed samples to a metric's full count (as when auto-sampling took more). */
  extraErrors?: Record<string, number>;
}

/** One TestMetrics document per catalog category, like the specs would attach. */
export function syntheticRun(opts: SyntheticOptions = {}): TestMetrics[] {
  const profile = PROFILES[opts.profile ?? 'smoke'];
  const rnd = seededRandom(opts.seed ?? 42);
  const byCategory = new Map<string, MetricInput[]>();
  for (const entry of METRIC_CATALOG) {
    if (opts.omit?.includes(entry.name)) continue;
    for (const scenario of expectedScenarios(entry, profile)) {
      const n = entry.minSamples(profile);
      const base = opts.set?.[entry.name] ?? TYPICAL[entry.name] ?? 1;
      const scale = opts.scale?.[entry.name] ?? 1;
      const exact =
        entry.unit === 'bool' || entry.unit === 'ratio' || entry.unit === 'exponent' || entry.unit === 'count';
      const samples = Array.from({ length: n }, () => (exact ? base : base * scale * (0.85 + 0.3 * rnd())));
      const nErr = Math.min(opts.errors?.[entry.name] ?? 0, n);
      const errors = Array.from({ length: nErr + (opts.extraErrors?.[entry.name] ?? 0) }, (_, i) => ({
        message: 'model_error: upstream 503',
        code: 'model_error',
        sample: i,
      }));
      const sizeMatch = /^n=(\d+)$/.exec(scenario);
      const metric: MetricInput = {
        name: entry.name,
        category: entry.category,
        scenario,
        unit: entry.unit,
        samples: samples.slice(nErr),
        errors,
        warmup: profile.warmup,
        tags: sizeMatch ? { memoryCount: Number(sizeMatch[1]), channel: 'api' } : { channel: 'api' },
      };
      const list = byCategory.get(entry.category) ?? [];
      list.push(metric);
      byCategory.set(entry.category, list);
    }
  }
  return [...byCategory.entries()].map(([category, metrics]) => ({
    schemaVersion: METRICS_SCHEMA_VERSION,
    test: {
      title: `${category} metrics`,
      file: `e2e/${category}.spec.ts`,
      project: profile.name === 'smoke' ? 'smoke' : 'perf',
    },
    profile: profile.name,
    pairs: [],
    metrics: metrics.map((m) => ({ scenario: 'default', errors: [], warmup: 0, tags: {}, ...m })),
    evidence:
      category === 'database'
        ? [
            {
              name: 'db.explain',
              category: 'database' as const,
              scenario: 'sessions-by-user',
              summary: 'Index Scan using idx_sessions_user_id',
              detail: { plan: 'Index Scan' },
            },
          ]
        : [],
  }));
}
