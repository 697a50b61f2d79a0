/**
 * Validates GitHub Actions workflows with @action-validator/cli (JSON-schema validation of the
 * workflow syntax: unknown keys, missing `jobs`/`runs-on`, bad `on:` events, YAML errors, …) plus
 * one check it lacks: every remote action is pinned to a ref (`owner/repo@v7`).
 *
 *   tsx scripts/lint-workflows.ts                 # every *.yml / *.yaml in .github/workflows
 *   tsx scripts/lint-workflows.ts <file|dir>...   # specific files or folders
 *
 * Exit code 0 when all are valid, 1 when any is invalid (one readable line per problem),
 * 2 when the validator itself cannot run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const DEFAULT_DIR = path.join(ROOT, '.github', 'workflows');
const VALIDATOR = path.join(ROOT, 'node_modules', '@action-validator', 'cli', 'cli.mjs');
const VALIDATOR_TIMEOUT_MS = 60_000;

export interface WorkflowProblem {
  /** JSON pointer into the workflow (`/jobs/build/steps/0`) or `line N:M` for YAML errors. */
  where: string;
  message: string;
}

export interface WorkflowLintResult {
  file: string;
  problems: WorkflowProblem[];
}

/** The validator's JSON error tree (schema errors nest alternatives under `states`). */
interface ValidatorError {
  code?: string;
  path?: string;
  title?: string;
  detail?: string;
  location?: { line?: number; column?: number };
  states?: Array<{ errors?: ValidatorError[] }>;
}

function isValidatorError(value: unknown): value is ValidatorError {
  return typeof value === 'object' && value !== null;
}

/**
 * Flattens the error tree. For a `one_of` (e.g. "a normal job OR a reusable-workflow call") the
 * alternative with the fewest errors is the one the author most likely meant; its errors are shown.
 */
function flatten(errors: readonly ValidatorError[]): WorkflowProblem[] {
  const out: WorkflowProblem[] = [];
  for (const error of errors) {
    const states = (error.states ?? []).map((s) => (s.errors ?? []).filter(isValidatorError));
    if (states.length > 0) {
      const closest = states.reduce((best, s) => (s.length < best.length ? s : best));
      if (closest.length > 0) {
        out.push(...flatten(closest));
        continue;
      }
    }
    const where =
      error.location?.line !== undefined
        ? `line ${error.location.line}:${error.location.column ?? 0}`
        : error.path || '/';
    const message = error.detail ?? error.title ?? error.code ?? 'invalid';
    out.push({ where, message });
  }
  return out;
}

/** Extracts the validator's JSON report from its output (it prints nothing when the file is valid). */
function parseValidatorOutput(output: string): ValidatorError[] | null {
  const start = output.indexOf('{');
  const end = output.lastIndexOf('}');
  if (start < 0 || end <= start) return null;
  try {
    const parsed: unknown = JSON.parse(output.slice(start, end + 1));
    if (typeof parsed === 'object' && parsed !== null && Array.isArray((parsed as { errors?: unknown }).errors)) {
      return (parsed as { errors: unknown[] }).errors.filter(isValidatorError);
    }
  } catch {
    return null;
  }
  return null;
}

/** Remote actions without `@ref` float on the default branch: not reproducible, so an error. */
function unpinnedActions(text: string): WorkflowProblem[] {
  const problems: WorkflowProblem[] = [];
  text.split('\n').forEach((line, index) => {
    const match = /^\s*(?:-\s*)?uses:\s*["']?([^\s"'#]+)/.exec(line);
    const target = match?.[1];
    if (!target || target.startsWith('./') || target.startsWith('docker://')) return;
    if (!target.includes('@'))
      problems.push({
        where: `line ${index + 1}`,
        message: `action "${target}" is not pinned to a version (use ${target}@<major or sha>)`,
      });
  });
  return problems;
}

export class ValidatorUnavailableError extends Error {}

export function lintWorkflowFile(file: string): WorkflowLintResult {
  if (!existsSync(VALIDATOR)) {
    throw new ValidatorUnavailableError(
      `@action-validator/cli is not installed (${path.relative(ROOT, VALIDATOR)} missing): run npm ci.`,
    );
  }
  const run = spawnSync(process.execPath, [VALIDATOR, file], { encoding: 'utf8', timeout: VALIDATOR_TIMEOUT_MS });
  if (run.error) throw new ValidatorUnavailableError(`action-validator could not run on ${file}: ${run.error.message}`);
  const output = `${run.stdout}\n${run.stderr}`;
  const problems: WorkflowProblem[] = [];
  if (run.status !== 0) {
    const errors = parseValidatorOutput(output);
    if (errors) problems.push(...flatten(errors));
    else
      problems.push({
        where: '/',
        message: output.trim() || `action-validator exited with ${String(run.status ?? run.signal)}`,
      });
  }
  problems.push(...unpinnedActions(readFileSync(file, 'utf8')));
  return { file, problems };
}

/** Workflow files under the given files/folders (default: .github/workflows). */
export function workflowFiles(targets: readonly string[]): string[] {
  const files: string[] = [];
  for (const target of targets.length > 0 ? targets : [DEFAULT_DIR]) {
    const resolved = path.resolve(target);
    if (!existsSync(resolved)) throw new Error(`No such file or folder: ${target}`);
    if (statSync(resolved).isDirectory()) {
      for (const name of readdirSync(resolved).sort()) {
        if (/\.ya?ml$/.test(name)) files.push(path.join(resolved, name));
      }
    } else files.push(resolved);
  }
  return files;
}

export function lintWorkflows(targets: readonly string[] = []): WorkflowLintResult[] {
  return workflowFiles(targets).map(lintWorkflowFile);
}

function main(): number {
  let results: WorkflowLintResult[];
  try {
    const files = workflowFiles(process.argv.slice(2));
    if (files.length === 0) {
      console.error('lint-workflows: no *.yml / *.yaml workflow files found.');
      return 1;
    }
    results = files.map(lintWorkflowFile);
  } catch (error) {
    console.error(`lint-workflows: ${(error as Error).message}`);
    return error instanceof ValidatorUnavailableError ? 2 : 1;
  }
  let failed = 0;
  for (const { file, problems } of results) {
    const shown = path.relative(process.cwd(), file) || file;
    if (problems.length === 0) {
      console.log(`✓ ${shown}`);
      continue;
    }
    failed++;
    console.error(`✗ ${shown}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
    for (const p of problems) console.error(`    ${p.where}  ${p.message}`);
  }
  if (failed > 0) console.error(`lint-workflows: ${failed} of ${results.length} workflow file(s) invalid.`);
  return failed > 0 ? 1 : 0;
}

if (require.main === module) process.exitCode = main();
