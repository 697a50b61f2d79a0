/**
 * The bundled stack for the suite's own database-level unit tests (seeding, cleanup, the
 * test-database guard). They need a real, migrated PostgreSQL; they get it the way the runner
 * does: by spawning app/stack.ts (lib/run/stack-process.ts), never by importing app/. Each stack
 * stops when its test file's process ends, even on a failed assertion or a kill (stdin lifeline).
 */
import path from 'node:path';
import { startStackProcess, type StackProcess } from '../../lib/run/stack-process';
import { tempDir } from './temp-dir';

const ROOT = path.resolve(__dirname, '..', '..');

/** No simulator: an API key that is never used and a model URL nothing listens on. */
const NO_MODEL_ENV = { OPENAI_API_KEY: 'sk-unit-never-called', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' };

let started = 0;

/** The caller's environment minus every setting the stack reads: a test states what it wants. */
function withoutStackSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const keep = Object.entries(env).filter(
    ([key]) => !/^(MEMORYCHAT_|OPENAI_|MODEL_SIM_|DATABASE_URL$|BASE_URL$|PORT$)/.test(key),
  );
  return Object.fromEntries(keep);
}

/**
 * Starts the stack with `env` over a clean environment (no BASE_URL, DATABASE_URL or key from
 * the caller's shell leaks in). Without DATABASE_URL it brings its own PostgreSQL, migrated and
 * marked as a test database, whose server also accepts CREATE DATABASE.
 */
export async function startTestStack(env: Record<string, string> = {}): Promise<StackProcess> {
  const logDir = tempDir('memorychat-unit-stack-');
  started += 1;
  return startStackProcess({
    cwd: ROOT,
    env: {
      ...withoutStackSettings(process.env),
      MODEL_SIM_LATENCY: 'instant',
      ...NO_MODEL_ENV,
      ...env,
    },
    logFile: path.join(logDir, `stack-${started}.log`),
  });
}

/** Points the stack at a database, starts it (it migrates the database) and stops it: a deployment in brief. */
export async function runStackOn(databaseUrl: string, env: Record<string, string> = {}): Promise<void> {
  const stack = await startTestStack({ DATABASE_URL: databaseUrl, ...env });
  await stack.stop();
}

/** `url` with another database name on the same server. */
export function databaseUrlOf(url: string, name: string): string {
  return url.replace(/\/[^/?]+(\?|$)/, `/${name}$1`);
}
