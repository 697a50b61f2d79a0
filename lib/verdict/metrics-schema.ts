/**
 * The shape of the metrics every test attaches (one JSON document named
 * {@link METRICS_ATTACHMENT}) and the reporter reads, also from blob reports in `merge-reports`.
 * Samples are raw: statistics are computed the same way whichever shard measured them.
 *
 * Metric names are dotted lower_snake, `<category>.<what>` (`response.ttft_ms`); a metric is
 * identified by (name, scenario, memoryCount). Pass/fail facts (an index was used) are metrics
 * of unit `bool` with samples 1 (true) / 0 (false), so thresholds treat them uniformly.
 */
import { z } from 'zod';
import { PROFILE_NAMES } from '../run/profiles';

export const METRICS_ATTACHMENT = 'perf-metrics';
/** Test annotation with the test's seeding time (ms), summed into the run's phase line (harness time, not a metric). */
export const SEEDING_ANNOTATION = 'seeding-ms';
export const METRICS_SCHEMA_VERSION = 1;

export const CATEGORIES = [
  'response',
  'tokens',
  'memory',
  'database',
  'ui',
  'bottlenecks',
  'seeding',
  'harness',
] as const;
export type Category = (typeof CATEGORIES)[number];

export const UNITS = ['ms', 's', 'tokens', 'count', 'ratio', 'bool', 'rows/s', 'exponent', 'bytes'] as const;
export type Unit = (typeof UNITS)[number];

/** Metric and evidence names: dotted lower_snake, e.g. response.ttft_ms. */
export const METRIC_NAME = /^[a-z0-9_]+(\.[a-z0-9_]+)+$/;
const metricName = z.string().regex(METRIC_NAME, 'metric names are dotted lower_snake, e.g. response.ttft_ms');

export const sampleErrorSchema = z.object({
  /** Short cause, e.g. "model_error: upstream 503" — never a secret. */
  message: z.string(),
  /** Machine-readable cause, e.g. 'model_error', 'model_timeout', 'http_500', 'timeout'. */
  code: z.string(),
  /** Which sample (0-based, after warm-up) failed. */
  sample: z.number().int().nonnegative(),
});
export type SampleError = z.infer<typeof sampleErrorSchema>;

export const metricSchema = z.object({
  name: metricName,
  category: z.enum(CATEGORIES),
  /** e.g. 'simple-query', 'large-memory-context', 'long-conversation', 'sessions-by-user'. */
  scenario: z.string().default('default'),
  unit: z.enum(UNITS),
  /** Raw samples, warm-up already removed, in the order measured. */
  samples: z.array(z.number().finite()),
  /** Samples that failed (not included in `samples`), with their causes. */
  errors: z.array(sampleErrorSchema).default([]),
  /** How many warm-up samples were taken and discarded. */
  warmup: z.number().int().nonnegative().default(0),
  /** Free-form labels: memoryCount, channel ('api' | 'ui' | 'sql'), agent, model, index… */
  tags: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
});
export type Metric = z.infer<typeof metricSchema>;
export type MetricInput = z.input<typeof metricSchema>;

/** Evidence that is not a number: an EXPLAIN plan, top statements. Shown in reports, not gated. */
export const evidenceSchema = z.object({
  name: z.string(),
  category: z.enum(CATEGORIES),
  scenario: z.string().default('default'),
  /** A short human-readable line for summaries. */
  summary: z.string(),
  /** Any JSON detail (plan, statement list). */
  detail: z.unknown().optional(),
});
export type Evidence = z.infer<typeof evidenceSchema>;

/**
 * Compare mode: one metric sampled on both arms in pairs (index i of `base` and of `candidate`
 * is one pair: the same request, close together in time). lib/verdict/compare.ts decides on them.
 */
export const pairedSeriesSchema = z.object({
  name: metricName,
  category: z.enum(CATEGORIES),
  scenario: z.string().default('default'),
  unit: z.enum(UNITS),
  /** 'abba': sequential blocks (A B B A, random start); 'duet': both arms at once. */
  order: z.enum(['abba', 'duet']),
  base: z.array(z.number().finite()),
  candidate: z.array(z.number().finite()),
  /** Pairs dropped because one half failed, with the cause. */
  errors: z.array(sampleErrorSchema).default([]),
  /** Set when the sampler went past its cap: the pairs at the cap (lib/verdict/compare.ts, look 1). */
  firstLookPairs: z.number().int().nonnegative().optional(),
});
export type PairedSeriesDoc = z.infer<typeof pairedSeriesSchema>;

export const testMetricsSchema = z.object({
  schemaVersion: z.literal(METRICS_SCHEMA_VERSION),
  test: z.object({ title: z.string(), file: z.string(), project: z.string() }),
  /** The run profile the test used (lib/run/profiles.ts): decides expected sample counts. */
  profile: z.enum(PROFILE_NAMES),
  metrics: z.array(metricSchema),
  evidence: z.array(evidenceSchema).default([]),
  /** Compare mode only: paired samples of the base and candidate arms. */
  pairs: z.array(pairedSeriesSchema).default([]),
  /**
   * The machine's CPU time while the test ran, all CPUs, in clock ticks: the time a CPU had work
   * (busy or stolen), and how much of it the hypervisor gave to other guests (lib/run/cpu-steal.ts).
   * Absent where /proc/stat is unreadable.
   */
  host: z.object({ wantedTicks: z.number().int().positive(), stealTicks: z.number().int().nonnegative() }).optional(),
});
export type TestMetrics = z.infer<typeof testMetricsSchema>;
