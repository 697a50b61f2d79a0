/** The JSON files a user hands the verdict (PERF_THRESHOLDS, PERF_BASELINE): read and checked alike. */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';

/** The first problem of a failed validation: `field a.b: message`. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return `field ${issue?.path.join('.') || '(top level)'}: ${issue?.message ?? 'invalid'}`;
}

/**
 * The parsed content of a JSON file. A file that cannot be read, or is not JSON, throws what
 * `fail` makes of the problem ("cannot read the file (…)", "not valid JSON (…)").
 */
export function readJsonFile(path: string, fail: (problem: string, unreadable: boolean) => Error): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw fail(`cannot read the file (${(error as Error).message})`, true);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw fail(`not valid JSON (${(error as Error).message})`, false);
  }
}
