/**
 * Allure integration of the checkpoint: the "Checkpoint 7.4" result (one step per criterion,
 * each check a sub-step with parameters, summary and charts attached), the categories that
 * separate "threshold exceeded" from errors, and environment.properties.
 *
 * Written with allure-js-commons' FileSystemWriter (the writer allure-playwright itself uses;
 * it writes temp-then-rename), in the Allure 2 results format that Allure 3 reads.
 *
 * For playwright.config.ts:
 *   ['allure-playwright', { resultsDir: 'reports/allure-results', categories: ALLURE_CATEGORIES }]
 * (the checkpoint reporter also writes categories.json, with the same content).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  ContentType,
  LabelName,
  Stage,
  Status,
  type Parameter,
  type StepResult,
  type TestResult,
} from 'allure-js-commons';
import { FileSystemWriter, md5, parseEnvInfo, randomUuid } from 'allure-js-commons/sdk/reporter';
import type { Category } from 'allure-js-commons/sdk';
import { redact } from '../redact';
import { SAMPLE_ERRORS, THRESHOLD_EXCEEDED, formatNumber, formatPercent } from '../verdict/thresholds';
import { hostWarning, type PerfSummary } from './summary';
import type { Chart } from './charts';

export const CHECKPOINT_RESULT_NAME = 'Checkpoint 7.4';

/**
 * First match wins. `[\s\S]*` on both sides: Allure 2 (Java) needs a full match, Allure 3 (JS)
 * a partial one; this pattern means the same in both.
 */
export const ALLURE_CATEGORIES: Category[] = [
  {
    name: 'Threshold exceeded',
    description: 'A measured statistic is beyond its limit in perf.thresholds.ts',
    matchedStatuses: [Status.FAILED],
    messageRegex: `[\\s\\S]*${THRESHOLD_EXCEEDED}[\\s\\S]*`,
  },
  {
    name: 'Sample errors',
    description: 'Measurements failed (model errors, timeouts, HTTP errors): the error rate is too high',
    matchedStatuses: [Status.FAILED, Status.BROKEN],
    messageRegex: `[\\s\\S]*${SAMPLE_ERRORS}[\\s\\S]*`,
  },
  {
    name: 'Not measured',
    description: 'An expected metric is missing or has too few samples',
    matchedStatuses: [Status.FAILED],
    messageRegex: '[\\s\\S]*(not measured|samples)[\\s\\S]*',
  },
  {
    name: 'Errors (harness or target)',
    description: 'The test broke: target down, timeout, exception',
    matchedStatuses: [Status.BROKEN],
  },
  { name: 'Other failures', matchedStatuses: [Status.FAILED] },
];

const stat = (s: boolean) => (s ? Status.PASSED : Status.FAILED);

function step(
  name: string,
  status: Status,
  at: number,
  opts: { parameters?: Parameter[]; steps?: StepResult[]; message?: string } = {},
): StepResult {
  return {
    name,
    status,
    stage: Stage.FINISHED,
    statusDetails: opts.message ? { message: opts.message } : {},
    steps: opts.steps ?? [],
    attachments: [],
    parameters: opts.parameters ?? [],
    start: at,
    stop: at,
  };
}

function checkStep(k: PerfSummary['criteria'][number]['checks'][number], at: number): StepResult {
  const value =
    k.value === null
      ? '—'
      : k.statistic === 'errorRate'
        ? formatPercent(k.value, k.limit)
        : formatNumber(k.value, k.unit, k.limit);
  const limit = k.statistic === 'errorRate' ? formatPercent(k.limit) : formatNumber(k.limit, k.unit);
  const status = k.status === 'skipped' ? Status.SKIPPED : stat(k.passed);
  return step(`${k.passed ? '✓' : '✗'} ${k.message}`, status, at, {
    parameters: [
      { name: 'metric', value: k.metric },
      { name: 'scenario', value: k.scenario },
      { name: 'statistic', value: k.statistic },
      { name: 'value', value },
      { name: 'limit', value: `${k.op} ${limit}` },
      { name: 'why', value: k.why },
    ],
    ...(k.passed ? {} : { message: k.message }),
  });
}

/** Allure environment (string → string), flattened from the redacted environment info. */
export function flattenEnvironment(
  env: Record<string, unknown>,
  prefix = '',
  out: Record<string, string> = {},
): Record<string, string> {
  for (const [k, v] of Object.entries(env)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) flattenEnvironment(v as Record<string, unknown>, key, out);
    else if (v !== undefined && v !== null) out[key] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return out;
}

export interface AllureCheckpointInput {
  resultsDir: string;
  summary: PerfSummary;
  markdown: string;
  json: string;
  charts: readonly Chart[];
  start: number;
  stop: number;
}

/** Writes the "Checkpoint 7.4" result, categories.json and environment.properties; returns the result's uuid. */
export function writeAllureCheckpoint(input: AllureCheckpointInput): string {
  const { resultsDir, summary, start, stop } = input;
  const at = stop;
  const warning = hostWarning(summary);

  const criteriaSteps = summary.criteria.map((c) => {
    const checks = c.checks.filter((k) => k.status !== 'skipped');
    // Coverage checks are many; passed ones collapse into one line so failures stand out.
    const passedCoverage = checks.filter((k) => k.id.startsWith('coverage:') && k.passed);
    const shown = checks.filter((k) => !(k.id.startsWith('coverage:') && k.passed));
    const sub = shown.map((k) => checkStep(k, at));
    if (passedCoverage.length > 0)
      sub.unshift(
        step(
          `✓ ${passedCoverage.length} expected metric/scenario pairs present with enough samples`,
          Status.PASSED,
          at,
        ),
      );
    if (c.status === 'skipped') return step(`– ${c.title}: not in this run (compare only)`, Status.SKIPPED, at);
    const failed = checks.filter((k) => !k.passed);
    return step(`${c.passed ? '✓' : '✗'} ${c.title}`, stat(c.passed), at, {
      steps: sub,
      parameters: [{ name: 'checks passed', value: `${checks.filter((k) => k.passed).length}/${checks.length}` }],
      ...(failed.length > 0
        ? { message: failed.map((k) => k.message).join('\n') }
        : c.status === 'not-measured'
          ? { message: 'not measured' }
          : {}),
    });
  });

  if (summary.baseline) {
    const b = summary.baseline;
    const notable = b.comparisons.filter((c) => c.decision === 'regression' || c.decision === 'improvement');
    criteriaSteps.push(
      step(
        `Baseline comparison: ${b.regressions} regressions, ${b.improvements} improvements (vs ${b.path})`,
        Status.PASSED,
        at,
        {
          parameters: [
            { name: 'tolerance', value: `${(b.tolerance * 100).toFixed(0)} %` },
            { name: 'method', value: b.method },
          ],
          steps: notable.map((c) =>
            step(
              `${c.decision === 'regression' ? '✗ regression' : '✓ improvement'}: ${c.name} [${c.scenario}] ` +
                `p50 ${formatNumber(c.baseline.p50, c.unit)} → ${formatNumber(c.current.p50, c.unit)}`,
              Status.PASSED,
              at,
              {
                parameters: [
                  { name: 'ratio (current / baseline)', value: formatNumber(c.ratio, 'ratio') },
                  {
                    name: '95 % CI',
                    value:
                      `${formatNumber(c.ci95?.low ?? null, 'ratio')}–` + formatNumber(c.ci95?.high ?? null, 'ratio'),
                  },
                ],
              },
            ),
          ),
        },
      ),
    );
  }

  const failing = summary.criteria.filter((c) => !c.passed);
  const message = summary.setupError
    ? `Not evaluated: the run stopped before any test. ${summary.setupError}`
    : summary.verdict === 'pass'
      ? undefined
      : [
          `Checkpoint 7.4 FAILED: ${failing.map((c) => c.title).join('; ')}`,
          ...failing.flatMap((c) => c.checks.filter((k) => !k.passed && k.status !== 'skipped').map((k) => k.message)),
        ].join('\n');
  const { writer, uuid } = writeRunResult({
    resultsDir,
    attach: { ...input, name: 'perf-summary' },
    name: CHECKPOINT_RESULT_NAME,
    fullName: 'memorychat-perf:checkpoint-7.4',
    feature: 'Checkpoint',
    framework: 'playwright',
    verdict: summary.verdict,
    setupError: summary.setupError,
    message,
    description:
      `Verdict of Step 7.4's checkpoint over every test of this run (profile ${summary.profile}): ` +
      `${summary.verdict.toUpperCase()}. One step per criterion; the full summary is attached.` +
      (warning ? `\n\n${warning}` : ''),
    steps: criteriaSteps,
    parameters: [
      { name: 'profile', value: summary.profile },
      ...(summary.host ? [{ name: 'CPU steal', value: formatPercent(summary.host.stealShare), excluded: true }] : []),
      { name: 'tests', value: `${summary.tests.passed} passed, ${summary.tests.failed} failed`, excluded: true },
      { name: 'metrics', value: String(summary.metrics.length), excluded: true },
    ],
    extraLabels: [{ name: LabelName.TAG, value: `profile:${summary.profile}` }],
    start,
    stop,
  });
  writer.writeCategoriesDefinitions(ALLURE_CATEGORIES);
  // allure-playwright may have written environment.properties (its environmentInfo option):
  // merge, so the static facts from the config and the measured ones from global setup both show.
  const env = flattenEnvironment(summary.environment);
  if (Object.keys(env).length > 0) {
    const existingPath = join(resultsDir, 'environment.properties');
    const existing = existsSync(existingPath) ? parseEnvInfo(readFileSync(existingPath, 'utf8')) : {};
    // Redacted again: another writer's values pass through here, and this file is uploaded.
    const existingRedacted = Object.fromEntries(Object.entries(existing).map(([k, v]) => [k, redact(v ?? '')]));
    writer.writeEnvironmentInfo({ ...env, ...existingRedacted, 'perf.profile': summary.profile });
  }
  return uuid;
}

/** Deletes the results (and their attachments) that match, e.g. a test another result stands for. */
export function removeAllureResults(resultsDir: string, match: (result: { fullName?: string }) => boolean): void {
  if (!existsSync(resultsDir)) return;
  for (const f of readdirSync(resultsDir).filter((name) => name.endsWith('-result.json'))) {
    let text: string;
    let result: { fullName?: string };
    try {
      text = readFileSync(join(resultsDir, f), 'utf8');
      result = JSON.parse(text) as { fullName?: string };
    } catch {
      continue;
    }
    if (!match(result)) continue;
    // Attachments (of the test and of its steps) are files named by their own uuid: the
    // `"source": "<file>"` entries of the result say which.
    for (const [, source] of text.matchAll(/"source"\s*:\s*"([^"/\\]+)"/g))
      rmSync(join(resultsDir, source as string), { force: true });
    rmSync(join(resultsDir, f), { force: true });
  }
}

/**
 * A summary result's attachments: `<name>.md`, `<name>.json` and the charts, written beside the result
 * (files named after its uuid) and returned as its `attachments`.
 */
export function writeSummaryAttachments(
  writer: FileSystemWriter,
  uuid: string,
  name: string,
  content: { markdown: string; json: string; charts: readonly Chart[] },
): { name: string; type: string; source: string }[] {
  return [
    { name: `${name}.md`, type: 'text/markdown', body: content.markdown, ext: 'md' },
    { name: `${name}.json`, type: ContentType.JSON as string, body: content.json, ext: 'json' },
    ...content.charts.map((c) => ({ name: c.title, type: ContentType.SVG, body: c.svg, ext: 'svg' })),
  ].map((a) => {
    const source = `${uuid}-${md5(a.name).slice(0, 8)}-attachment.${a.ext}`;
    writer.writeAttachment(source, Buffer.from(a.body, 'utf8'));
    return { name: a.name, type: a.type, source };
  });
}

/** What differs between the run-level results (Checkpoint 7.4, Load); {@link summaryResult} adds the rest. */
export interface SummaryResultInput extends Pick<
  TestResult,
  'uuid' | 'description' | 'steps' | 'attachments' | 'parameters' | 'start' | 'stop'
> {
  name: string;
  /** Stable across runs: the history id derives from it. */
  fullName: string;
  /** Allure feature (the group in the Behaviors tree) and the engine that measured. */
  feature: string;
  framework: string;
  verdict: 'pass' | 'fail';
  /** The run stopped before measuring: the result is broken, not failed. */
  setupError?: string;
  message: string | undefined;
  extraLabels?: TestResult['labels'];
}

/**
 * A run-level verdict as one Allure result: stable history id from its full name, broken when
 * set-up failed, failed when the verdict did, and the labels that file it beside the tests.
 */
export function summaryResult(input: SummaryResultInput): TestResult {
  const id = md5(input.fullName);
  return {
    uuid: input.uuid,
    name: input.name,
    fullName: input.fullName,
    historyId: id,
    testCaseId: id,
    status: input.setupError ? Status.BROKEN : input.verdict === 'pass' ? Status.PASSED : Status.FAILED,
    statusDetails: input.message ? { message: input.message } : {},
    stage: Stage.FINISHED,
    description: input.description,
    steps: input.steps,
    attachments: input.attachments,
    parameters: input.parameters,
    labels: [
      { name: LabelName.EPIC, value: 'Performance' },
      { name: LabelName.FEATURE, value: input.feature },
      { name: LabelName.STORY, value: input.name },
      { name: LabelName.SUITE, value: input.name },
      { name: LabelName.SEVERITY, value: 'critical' },
      { name: LabelName.FRAMEWORK, value: input.framework },
      { name: LabelName.LANGUAGE, value: 'typescript' },
      ...(input.extraLabels ?? []),
    ],
    links: [],
    start: input.start,
    stop: input.stop,
  };
}

/**
 * Writes a run-level result (Checkpoint 7.4, Load capacity) with its summary attached, in place of an earlier
 * one of the same full name (allure-playwright does not clean its results dir); returns its writer and uuid.
 */
export function writeRunResult(
  input: Omit<SummaryResultInput, 'uuid' | 'attachments'> & {
    resultsDir: string;
    attach: { name: string; markdown: string; json: string; charts: readonly Chart[] };
  },
): { writer: FileSystemWriter; uuid: string } {
  const { resultsDir, attach } = input;
  mkdirSync(resultsDir, { recursive: true });
  removeAllureResults(resultsDir, (r) => r.fullName === input.fullName);
  const writer = new FileSystemWriter({ resultsDir });
  const uuid = randomUuid();
  const attachments = writeSummaryAttachments(writer, uuid, attach.name, attach);
  writer.writeResult(summaryResult({ ...input, uuid, attachments }));
  return { writer, uuid };
}
