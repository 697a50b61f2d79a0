/**
 * How each test's metrics reach the two places that judge them: the checkpoint reporter reads
 * the `perf-metrics` attachment (also in `merge-reports`), and the "Checkpoint 7.4" test at the
 * end of a run (e2e/verdict.ts) reads the same document from a file the recorder
 * writes beside the run's test results. One parser, so both decide on identical input.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { METRICS_ATTACHMENT, testMetricsSchema, type TestMetrics } from './metrics-schema';
import type { HarnessError } from './checkpoint';
import { firstIssue } from './json-file';

/** Folder (inside the project's outputDir, which Playwright empties at the start of every run). */
export const CHECKPOINT_INPUT_DIR = '.checkpoint-input';

/** Validates one metrics document; throws an Error naming the first bad field. */
export function parseMetricsDocument(text: string): TestMetrics {
  const parsed = testMetricsSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`invalid ${METRICS_ATTACHMENT}: ${firstIssue(parsed.error)}`);
  return parsed.data;
}

/** Every document of this run; an unreadable one is a harness error naming its file, never a crash. */
export function readCheckpointInput(dir: string): { docs: TestMetrics[]; harnessErrors: HarnessError[] } {
  const docs: TestMetrics[] = [];
  const harnessErrors: HarnessError[] = [];
  if (!existsSync(dir)) return { docs, harnessErrors };
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    try {
      docs.push(parseMetricsDocument(readFileSync(join(dir, file), 'utf8')));
    } catch (error) {
      harnessErrors.push({ test: file, message: (error as Error).message });
    }
  }
  return { docs, harnessErrors };
}
