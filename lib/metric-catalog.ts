/**
 * Every metric the suite produces, by name: the contract between the specs (which record them
 * through the `perf` fixture) and the checkpoint (which expects and gates them).
 *
 * `scenarios` lists the scenarios a full run must produce; `'sizes'` means one scenario per
 * memory count of the profile, named `n=<count>` (e.g. `n=1000`). `performance-measured`
 * fails when an expected metric/scenario is missing or has fewer samples than `minSamples`
 * asks for the profile.
 */
import type { Category, Unit } from './metrics-schema';
import { messageCreateSamples, type PerfProfile } from './profiles';
import { RELEVANCE_MODES } from './relevance';

export const RESPONSE_SCENARIOS = ['simple-query', 'large-memory-context', 'long-conversation'] as const;
export type ResponseScenario = (typeof RESPONSE_SCENARIOS)[number];

export const DB_QUERY_SCENARIOS = [
  'sessions-by-user',
  'messages-by-session',
  'memories-by-profile',
  'memories-by-user',
] as const;

export const AGENTS_USING_MODELS = ['conversation', 'memory_extractor', 'summarizer'] as const;

export interface CatalogEntry {
  name: string;
  category: Category;
  unit: Unit;
  title: string;
  /** Scenarios expected in a run; 'sizes' = one per profile memory size (`n=<count>`). */
  scenarios: readonly string[] | 'sizes';
  /** Minimum samples per scenario, from the profile. */
  minSamples: (p: PerfProfile) => number;
}

const api = (p: PerfProfile) => p.apiSamples;
const ui = (p: PerfProfile) => p.uiSamples;
const dbs = (p: PerfProfile) => p.dbSamples;
const one = () => 1;
const relevance = (p: PerfProfile) => p.relevanceQuestions;

export const METRIC_CATALOG = [
  // 1. Response times (API streamed; UI in Chromium). Scenario = response scenario.
  {
    name: 'response.ttft_ms',
    category: 'response',
    unit: 'ms',
    title: 'Time to first token (API)',
    scenarios: RESPONSE_SCENARIOS,
    minSamples: api,
  },
  {
    name: 'response.total_ms',
    category: 'response',
    unit: 'ms',
    title: 'Round trip to last token (API)',
    scenarios: RESPONSE_SCENARIOS,
    minSamples: api,
  },
  {
    name: 'response.model_ms',
    category: 'response',
    unit: 'ms',
    title: 'Model time inside the round trip (Server-Timing)',
    scenarios: RESPONSE_SCENARIOS,
    minSamples: api,
  },
  {
    name: 'response.app_overhead_ms',
    category: 'response',
    unit: 'ms',
    title: 'App overhead = round trip − model time',
    scenarios: RESPONSE_SCENARIOS,
    minSamples: api,
  },
  {
    name: 'response.ui_first_token_ms',
    category: 'response',
    unit: 'ms',
    title: 'UI: click → first token rendered',
    scenarios: RESPONSE_SCENARIOS,
    minSamples: ui,
  },
  {
    name: 'response.ui_done_ms',
    category: 'response',
    unit: 'ms',
    title: 'UI: click → reply done',
    scenarios: RESPONSE_SCENARIOS,
    minSamples: ui,
  },
  {
    name: 'model.direct_total_ms',
    category: 'response',
    unit: 'ms',
    title: "Model's own latency, same request shape (model fixture)",
    scenarios: ['simple-query'],
    minSamples: api,
  },

  // 2. Token usage. Per-message metrics by response scenario; per-agent metrics by agent name.
  {
    name: 'tokens.total_per_message',
    category: 'tokens',
    unit: 'tokens',
    title: 'Tokens per message (all agents)',
    scenarios: RESPONSE_SCENARIOS,
    minSamples: api,
  },
  {
    name: 'tokens.prompt_per_message',
    category: 'tokens',
    unit: 'tokens',
    title: 'Prompt tokens per message',
    scenarios: RESPONSE_SCENARIOS,
    minSamples: api,
  },
  {
    name: 'tokens.completion_per_message',
    category: 'tokens',
    unit: 'tokens',
    title: 'Completion tokens per message',
    scenarios: RESPONSE_SCENARIOS,
    minSamples: api,
  },
  {
    name: 'tokens.agent_total',
    category: 'tokens',
    unit: 'tokens',
    title: 'Tokens per call, by agent',
    scenarios: ['conversation', 'memory_extractor'],
    minSamples: api,
  },
  {
    name: 'tokens.agent_model_match',
    category: 'tokens',
    unit: 'bool',
    title: 'Agent ran on its configured model',
    scenarios: AGENTS_USING_MODELS,
    minSamples: one,
  },
  {
    name: 'tokens.history_growth_ratio',
    category: 'tokens',
    unit: 'ratio',
    title: 'Prompt tokens per message, larger vs smaller history/memory set',
    scenarios: ['history', 'memories'],
    minSamples: one,
  },

  // 3. Memory scaling. Scenario = `n=<memory count>`.
  {
    name: 'memory.retrieval_ms',
    category: 'memory',
    unit: 'ms',
    title: 'List memories recent-first (API)',
    scenarios: 'sizes',
    minSamples: api,
  },
  {
    name: 'memory.search_ms',
    category: 'memory',
    unit: 'ms',
    title: 'Ranked full-text search (API)',
    scenarios: 'sizes',
    minSamples: api,
  },
  {
    name: 'memory.fuzzy_search_ms',
    category: 'memory',
    unit: 'ms',
    title: 'Fuzzy search with a typo (API)',
    scenarios: 'sizes',
    minSamples: api,
  },
  {
    name: 'memory.chat_retrieval_ms',
    category: 'memory',
    unit: 'ms',
    title: "Chat's retrieval step (memory_retriever agent)",
    scenarios: 'sizes',
    minSamples: one,
  },
  {
    name: 'memory.retrieval_exponent',
    category: 'memory',
    unit: 'exponent',
    title: 'Growth exponent of retrieval p50 vs size',
    scenarios: ['default'],
    minSamples: one,
  },
  {
    name: 'memory.search_exponent',
    category: 'memory',
    unit: 'exponent',
    title: 'Growth exponent of search p50 vs size',
    scenarios: ['default'],
    minSamples: one,
  },
  {
    name: 'memory.search_hit',
    category: 'memory',
    unit: 'bool',
    title: 'Planted memory in top 5',
    scenarios: ['paraphrase', 'typo'],
    minSamples: one,
  },
  // Relevance on the labelled retrieval set (fixtures/retrieval-set.ts): one sample per question.
  {
    name: 'memory.recall_at_5',
    category: 'memory',
    unit: 'ratio',
    title: 'Recall@5, labelled retrieval set',
    scenarios: RELEVANCE_MODES,
    minSamples: relevance,
  },
  {
    name: 'memory.mrr',
    category: 'memory',
    unit: 'ratio',
    title: 'Mean reciprocal rank (top 5), labelled retrieval set',
    scenarios: RELEVANCE_MODES,
    minSamples: relevance,
  },

  // 4. Database.
  {
    name: 'db.session_create_ms',
    category: 'database',
    unit: 'ms',
    title: "Session creation (API: the app's own time)",
    scenarios: ['api', 'sql'],
    minSamples: dbs,
  },
  {
    name: 'db.session_create_roundtrip_ms',
    category: 'database',
    unit: 'ms',
    title: 'Session creation, client round trip (context)',
    scenarios: ['api'],
    minSamples: dbs,
  },
  {
    name: 'db.message_create_ms',
    category: 'database',
    unit: 'ms',
    title: 'Message creation',
    scenarios: ['api', 'sql'],
    minSamples: messageCreateSamples,
  },
  {
    name: 'db.query_ms',
    category: 'database',
    unit: 'ms',
    title: 'Query speed (SQL)',
    scenarios: DB_QUERY_SCENARIOS,
    minSamples: dbs,
  },
  {
    name: 'db.api_query_ms',
    category: 'database',
    unit: 'ms',
    title: 'Query speed (API)',
    scenarios: ['sessions-by-user', 'messages-by-session', 'memories-by-user'],
    minSamples: dbs,
  },
  {
    name: 'db.index_used',
    category: 'database',
    unit: 'bool',
    title: 'EXPLAIN uses the Step 7.4 index',
    scenarios: DB_QUERY_SCENARIOS,
    minSamples: one,
  },

  // 5. Bottleneck evidence.
  {
    name: 'bottlenecks.queries_per_chat',
    category: 'bottlenecks',
    unit: 'count',
    title: 'SQL statements per chat message',
    scenarios: 'sizes',
    minSamples: one,
  },
  {
    name: 'bottlenecks.queries_growth_ratio',
    category: 'bottlenecks',
    unit: 'ratio',
    title: 'Statements per chat, largest vs smallest memory set',
    scenarios: ['default'],
    minSamples: one,
  },
  {
    name: 'bottlenecks.app_overhead_share',
    category: 'bottlenecks',
    unit: 'ratio',
    title: 'App overhead share of the round trip (p50)',
    scenarios: ['default'],
    minSamples: one,
  },

  // UI page performance.
  {
    name: 'ui.page_load_ms',
    category: 'ui',
    unit: 'ms',
    title: 'Chat page load (navigation → load event)',
    scenarios: ['default'],
    minSamples: ui,
  },
  {
    name: 'ui.lcp_ms',
    category: 'ui',
    unit: 'ms',
    title: 'Largest contentful paint',
    scenarios: ['default'],
    minSamples: ui,
  },
  {
    name: 'ui.long_conversation_render_ms',
    category: 'ui',
    unit: 'ms',
    title: 'Open a long conversation until all messages are visible',
    scenarios: ['default'],
    minSamples: ui,
  },
  {
    name: 'ui.scroll_frame_ms',
    category: 'ui',
    unit: 'ms',
    title: 'Frame time while scrolling the long conversation',
    scenarios: ['default'],
    minSamples: one,
  },

  // Seeding (harness speed; reported, gated only loosely).
  {
    name: 'seeding.memories_rows_per_s',
    category: 'seeding',
    unit: 'rows/s',
    title: 'Bulk seeding speed',
    scenarios: [],
    minSamples: one,
  },
] as const satisfies readonly CatalogEntry[];

/** Every metric a spec may record: the recorder takes its category and unit from here. */
export type MetricName = (typeof METRIC_CATALOG)[number]['name'];

const BY_NAME: ReadonlyMap<string, CatalogEntry> = new Map(METRIC_CATALOG.map((e) => [e.name, e]));

/** The catalog entry of `name`, or undefined for a name not in the catalog. */
export function catalogEntry(name: string): CatalogEntry | undefined {
  return BY_NAME.get(name);
}

export function sizeScenario(count: number): string {
  return `n=${count}`;
}

/** The scenarios a run of this profile must produce for an entry. */
export function expectedScenarios(entry: CatalogEntry, profile: PerfProfile): readonly string[] {
  return entry.scenarios === 'sizes' ? profile.memorySizes.map(sizeScenario) : entry.scenarios;
}
