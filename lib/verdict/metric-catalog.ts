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
import { messageCreateSamples, type PerfProfile } from '../run/profiles';
import { RELEVANCE_MODES } from '../figures/relevance';

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
  /** Which way is better: 'lower' for times, tokens, counts and growth; 'higher' for recall, MRR, rows/s. */
  better: 'lower' | 'higher';
  /**
   * The center a comparison between runs looks at: 'median', or 'mean' where the checks gate on
   * the mean of per-item scores (relevance: the median of 0/1 hits stays 1 while recall falls to 0.6).
   */
  center: 'median' | 'mean';
}

const api = (p: PerfProfile) => p.apiSamples;
const ui = (p: PerfProfile) => p.uiSamples;
const dbs = (p: PerfProfile) => p.dbSamples;
const context = (p: PerfProfile) => p.contextSamples;
const one = () => 1;
const relevance = (p: PerfProfile) => p.relevanceQuestions;

/**
 * One catalog row: name, category, unit, title, expected scenarios, minimum samples per scenario,
 * and, where it is not lower-is-better by the median, how runs compare.
 */
function metric<const N extends string>(
  name: N,
  category: Category,
  unit: Unit,
  title: string,
  scenarios: CatalogEntry['scenarios'],
  minSamples: CatalogEntry['minSamples'],
  compared: Partial<Pick<CatalogEntry, 'better' | 'center'>> = {},
): CatalogEntry & { name: N } {
  return { name, category, unit, title, scenarios, minSamples, better: 'lower', center: 'median', ...compared };
}

/** Per-question scores: higher is better, and the checks gate on their mean. */
const SCORE = { better: 'higher', center: 'mean' } as const;

export const METRIC_CATALOG = [
  // 1. Response times (API streamed; UI in Chromium). Scenario = response scenario.
  metric('response.ttft_ms', 'response', 'ms', 'Time to first token (API)', RESPONSE_SCENARIOS, api),
  metric('response.total_ms', 'response', 'ms', 'Round trip to the done event (API)', RESPONSE_SCENARIOS, api),
  metric(
    'response.model_ms',
    'response',
    'ms',
    'Model time inside the round trip (Server-Timing)',
    RESPONSE_SCENARIOS,
    api,
  ),
  metric(
    'response.app_overhead_ms',
    'response',
    'ms',
    'App overhead = round trip − model time',
    RESPONSE_SCENARIOS,
    api,
  ),
  metric('response.ui_first_token_ms', 'response', 'ms', 'UI: click → first token in the page', RESPONSE_SCENARIOS, ui),
  metric('response.ui_done_ms', 'response', 'ms', 'UI: click → reply done', RESPONSE_SCENARIOS, ui),
  metric(
    'model.direct_total_ms',
    'response',
    'ms',
    "Model's own latency, same request shape (model fixture)",
    ['simple-query'],
    api,
  ),

  // 2. Token usage. Per-message metrics by response scenario; per-agent metrics by agent name.
  metric('tokens.total_per_message', 'tokens', 'tokens', 'Tokens per message (all agents)', RESPONSE_SCENARIOS, api),
  metric('tokens.prompt_per_message', 'tokens', 'tokens', 'Prompt tokens per message', RESPONSE_SCENARIOS, api),
  metric('tokens.completion_per_message', 'tokens', 'tokens', 'Completion tokens per message', RESPONSE_SCENARIOS, api),
  metric(
    'tokens.agent_total',
    'tokens',
    'tokens',
    'Tokens per call, by agent',
    ['conversation', 'memory_extractor'],
    api,
  ),
  metric('tokens.agent_model_match', 'tokens', 'bool', 'Agent ran on its configured model', AGENTS_USING_MODELS, one),
  metric(
    'tokens.history_growth_ratio',
    'tokens',
    'ratio',
    'Prompt tokens per message, larger vs smaller history/memory set',
    ['history', 'memories'],
    one,
  ),

  // 3. Memory scaling. Scenario = `n=<memory count>`.
  metric('memory.retrieval_ms', 'memory', 'ms', 'List memories recent-first (API)', 'sizes', api),
  metric('memory.search_ms', 'memory', 'ms', 'Ranked full-text search (API)', 'sizes', api),
  metric('memory.fuzzy_search_ms', 'memory', 'ms', 'Fuzzy search with a typo (API)', 'sizes', api),
  metric('memory.chat_retrieval_ms', 'memory', 'ms', "Chat's retrieval step (memory_retriever agent)", 'sizes', one),
  metric(
    'memory.retrieval_exponent',
    'memory',
    'exponent',
    'Growth exponent of retrieval p50 vs size',
    ['default'],
    one,
  ),
  metric('memory.search_exponent', 'memory', 'exponent', 'Growth exponent of search p50 vs size', ['default'], one),
  metric('memory.search_hit', 'memory', 'bool', 'Planted memory in top 5', ['paraphrase', 'typo'], one),
  // Relevance on the labelled retrieval set (data/retrieval-set.ts): one sample per question.
  metric(
    'memory.recall_at_5',
    'memory',
    'ratio',
    'Recall@5, labelled retrieval set',
    RELEVANCE_MODES,
    relevance,
    SCORE,
  ),
  metric(
    'memory.mrr',
    'memory',
    'ratio',
    'Mean reciprocal rank (top 5), labelled retrieval set',
    RELEVANCE_MODES,
    relevance,
    SCORE,
  ),

  // 4. Database.
  metric('db.session_create_ms', 'database', 'ms', "Session creation (API: the app's own time)", ['api', 'sql'], dbs),
  metric(
    'db.session_create_roundtrip_ms',
    'database',
    'ms',
    'Session creation, client round trip (context)',
    ['api'],
    dbs,
  ),
  metric('db.message_create_ms', 'database', 'ms', 'Message creation', ['api', 'sql'], messageCreateSamples),
  metric('db.query_ms', 'database', 'ms', 'Query speed (SQL)', DB_QUERY_SCENARIOS, dbs),
  metric(
    'db.api_query_ms',
    'database',
    'ms',
    'Query speed (API)',
    ['sessions-by-user', 'messages-by-session', 'memories-by-user'],
    context,
  ),
  metric('db.index_used', 'database', 'bool', 'EXPLAIN uses the Step 7.4 index', DB_QUERY_SCENARIOS, one),

  // 5. Bottleneck evidence.
  metric('bottlenecks.queries_per_chat', 'bottlenecks', 'count', 'SQL statements per chat message', 'sizes', one),
  metric(
    'bottlenecks.queries_growth_ratio',
    'bottlenecks',
    'ratio',
    'Statements per chat, largest vs smallest memory set',
    ['default'],
    one,
  ),
  metric(
    'bottlenecks.app_overhead_share',
    'bottlenecks',
    'ratio',
    'App overhead share of the round trip (p50)',
    ['default'],
    one,
  ),

  // UI page performance.
  metric('ui.page_load_ms', 'ui', 'ms', 'Chat page load (navigation → load event)', ['default'], ui),
  metric('ui.lcp_ms', 'ui', 'ms', 'Largest contentful paint', ['default'], ui),
  metric(
    'ui.long_conversation_render_ms',
    'ui',
    'ms',
    'Open a long conversation until all messages are visible',
    ['default'],
    ui,
  ),
  metric('ui.scroll_frame_ms', 'ui', 'ms', 'Frame time while scrolling the long conversation', ['default'], one),

  // Seeding (harness speed; reported, gated only loosely).
  metric('seeding.memories_rows_per_s', 'seeding', 'rows/s', 'Bulk seeding speed', [], one, { better: 'higher' }),
] as const;

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
