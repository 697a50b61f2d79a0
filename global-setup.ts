/**
 * Global setup: make sure there is a target worth measuring before any test runs.
 *
 * 1. BASE_URL unset → start the bundled stack as a child process (lib/stack-process.ts) and
 *    hand its URLs to the workers through process.env.
 * 2. Check, each with a short timeout, and stop the run with ONE readable message otherwise:
 *    the app answers /api/health; its schema version equals the number of migration files; the
 *    database is reachable and is a test database; the model endpoint answers GET /models.
 * 3. Write `${PERF_REPORT_DIR}/environment.json` (redacted) for every report.
 *
 * 4. Register the run as in progress in the target database (fixtures/runs.ts: a heartbeat every
 *    10 s from this process), so `npm run cleanup` elsewhere leaves its rows alone.
 *
 * Returns the teardown (remove leftovers of exactly this run from a given database; end the
 * registration; stop the stack).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FullConfig } from '@playwright/test';
import { SCHEMA_VERSION, type Health } from './contract';
import {
  ConfigError,
  ensureRunId,
  loadConfig,
  runProfile,
  selectedProjects,
  stackModelLatency,
  type PerfConfig,
} from './lib/config';
import { redact, redactDeep, redactUrl } from './lib/redact';
import { startStackProcess, type StackProcess } from './lib/stack-process';
import { checkTestDatabase, createPool, MARKER_TABLE, refusalMessage } from './fixtures/db';
import { modelEndpoint } from './fixtures/model';
import { registerRun, type RunRegistration } from './fixtures/runs';
import { cleanupRun } from './fixtures/seed';
import { target } from './fixtures/target';

const CHECK_TIMEOUT_MS = 5_000;
const ROOT = __dirname;

/** An error Playwright prints as just its message: the cause and the fix, no stack. */
class SetupError extends Error {
  override name = 'SetupError';
  constructor(message: string) {
    super(message);
    this.stack = `memorychat-perf setup: ${message}`;
  }
}

function errText(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return `no answer within ${CHECK_TIMEOUT_MS / 1000} s`;
  const parts = [e?.message ?? String(err), e?.cause?.code ?? e?.cause?.message].filter(Boolean);
  return redact(parts.join(': '));
}

/** `stackLog`: the bundled stack's log file, when the suite started it. */
async function checkHealth(baseUrl: string, stackLog: string | undefined): Promise<Health> {
  const fix = stackLog
    ? `the bundled stack started but does not answer; see ${stackLog}`
    : 'start the app (e.g. `npm run stack`) or fix BASE_URL; unset BASE_URL to let the suite start the bundled stack';
  let res: Response;
  try {
    res = await fetch(`${baseUrl}/api/health`, { signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
  } catch (err) {
    throw new SetupError(
      `MemoryChat is not reachable at BASE_URL=${baseUrl} (GET /api/health: ${errText(err)}). Fix: ${fix}.`,
    );
  }
  if (!res.ok) {
    throw new SetupError(
      `MemoryChat at BASE_URL=${baseUrl} answered GET /api/health with HTTP ${res.status}. Fix: ${fix}.`,
    );
  }
  try {
    return (await res.json()) as Health;
  } catch {
    throw new SetupError(`GET ${baseUrl}/api/health did not return JSON: is BASE_URL pointing at MemoryChat?`);
  }
}

interface DbInfo {
  serverVersion: string;
  database: string;
  schemaVersion: number | null;
  testDatabase: string;
  pgStatStatements: boolean;
}

async function checkDatabase(config: PerfConfig, databaseUrl: string, expected: number): Promise<DbInfo> {
  const pool = createPool(databaseUrl, { max: 1 });
  const where = `DATABASE_URL=${redactUrl(databaseUrl)}`;
  try {
    let serverVersion: string;
    try {
      serverVersion =
        (await pool.query<{ v: string }>('SELECT current_setting($1) AS v', ['server_version'])).rows[0]?.v ?? '?';
    } catch (err) {
      throw new SetupError(
        `The database is not reachable at ${where} (${errText(err)}). Fix: start it or correct DATABASE_URL.`,
      );
    }
    const check = await checkTestDatabase(pool, config.allowSeed);
    if (!check.isTestDatabase) throw new SetupError(refusalMessage(check));
    const schemaVersion = await target.schemaVersion(pool);
    if (schemaVersion !== expected) {
      throw new SetupError(
        `The database at ${where} has schema version ${schemaVersion ?? 'none (no schema_migrations table)'}, ` +
          `the suite expects ${expected} (contract/schema.ts). ` +
          'Fix: migrate it (the app migrates on start) or update the suite.',
      );
    }
    const pgss = await pool
      .query<{ ok: boolean }>(`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS ok`)
      .then(
        (r) => r.rows[0]?.ok ?? false,
        () => false,
      );
    return {
      serverVersion,
      database: check.database,
      schemaVersion,
      testDatabase: check.reason,
      pgStatStatements: pgss,
    };
  } finally {
    await pool.end();
  }
}

async function checkModel(config: PerfConfig): Promise<{ host: string; models: string[] }> {
  let endpoint: { baseUrl: string; apiKey: string };
  try {
    endpoint = modelEndpoint(config);
  } catch (err) {
    throw new SetupError((err as Error).message);
  }
  const host = new URL(endpoint.baseUrl).host;
  let res: Response;
  try {
    res = await fetch(`${endpoint.baseUrl}/models`, {
      headers: { authorization: `Bearer ${endpoint.apiKey}` },
      signal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
    });
  } catch (err) {
    throw new SetupError(
      `The model endpoint OPENAI_BASE_URL=${endpoint.baseUrl} is not reachable (GET /models: ${errText(err)}). ` +
        'Fix: start it or correct OPENAI_BASE_URL.',
    );
  }
  if (!res.ok) {
    const hint = res.status === 401 ? ' (check OPENAI_API_KEY)' : '';
    throw new SetupError(`The model endpoint ${endpoint.baseUrl} answered GET /models with HTTP ${res.status}${hint}.`);
  }
  const body = (await res.json().catch(() => ({}))) as { data?: { id?: string }[] };
  return { host, models: (body.data ?? []).map((m) => m.id ?? '?').slice(0, 30) };
}

function gitInfo(): { sha: string; dirty: boolean | null } {
  try {
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: ROOT,
      timeout: 3_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: ROOT,
      timeout: 3_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).toString();
    return { sha, dirty: status.trim().length > 0 };
  } catch {
    return { sha: process.env.GITHUB_SHA ?? 'unknown', dirty: null };
  }
}

export default async function globalSetup(_config: FullConfig): Promise<() => Promise<void>> {
  const started = performance.now();
  let config: PerfConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) throw new SetupError(err.message);
    throw err;
  }
  const runId = ensureRunId(); // already set by playwright.config.ts; this only reads it

  mkdirSync(config.reportDir, { recursive: true });

  let stack: StackProcess | undefined;
  if (!config.baseUrl) {
    try {
      stack = await startStackProcess({
        cwd: ROOT,
        env: { ...process.env, MODEL_SIM_LATENCY: stackModelLatency(config) },
        logFile: path.join(config.reportDir, 'stack.log'),
      });
    } catch (err) {
      throw new SetupError((err as Error).message);
    }
    // Workers are started after global setup and inherit this environment.
    process.env.BASE_URL = stack.baseUrl;
    process.env.DATABASE_URL = stack.databaseUrl;
    process.env.OPENAI_BASE_URL = stack.openaiBaseUrl;
    config = loadConfig();
  }
  let registration: RunRegistration | undefined;
  const teardown = async (): Promise<void> => {
    if (!stack && config.databaseUrl) {
      // A given database outlives the run: sweep whatever a crashed test may have left behind.
      const pool = createPool(config.databaseUrl, { max: 1 });
      try {
        const n = await cleanupRun(pool, runId, config.allowSeed);
        if (n > 0) console.log(`memorychat-perf: removed ${n} leftover seeded user(s) of run ${runId}`);
      } catch {
        // best effort: the per-test fixtures already cleaned up; never fail the run here
      } finally {
        await pool.end().catch(() => undefined);
      }
    }
    await registration?.stop();
    await stack?.stop();
  };

  try {
    const baseUrl = config.baseUrl as string;
    const health = await checkHealth(baseUrl, stack?.logFile);
    // The version the suite was written for: the contract's, not whatever app/ happens to hold.
    const expected = SCHEMA_VERSION;
    if (health.schemaVersion !== expected) {
      throw new SetupError(
        `MemoryChat at ${baseUrl} reports schema version ${health.schemaVersion}, the suite expects ${expected} ` +
          `(contract/schema.ts). Fix: deploy/migrate the matching app version.`,
      );
    }
    if (!config.databaseUrl) {
      throw new SetupError(
        "DATABASE_URL is not set: with BASE_URL given, the suite also needs that deployment's database " +
          '(seeding, SQL timings). Set DATABASE_URL=postgres://… (a test database), ' +
          'or unset BASE_URL to use the bundled stack.',
      );
    }
    const [dbInfo, model] = await Promise.all([
      checkDatabase(config, config.databaseUrl, expected),
      checkModel(config),
    ]);
    registration = await registerRun(config.databaseUrl, runId, config.allowSeed).catch((err: unknown) => {
      // E.g. no CREATE privilege: measuring still works; only a concurrent cleanup could misjudge us.
      console.warn(
        `memorychat-perf: could not register run ${runId} in the runs table (${errText(err)}); ` +
          'an `npm run cleanup` started elsewhere during this run would treat its rows as leftovers.',
      );
      return undefined;
    });
    const git = gitInfo();
    const cpus = os.cpus();
    const environment = redactDeep({
      runId,
      createdAt: new Date().toISOString(),
      profile: runProfile(config),
      projects: selectedProjects().length > 0 ? selectedProjects() : 'all',
      target: {
        baseUrl,
        bundledStack: stack !== undefined,
        stackReadyMs: stack?.readyMs ?? null,
        app: health.app,
        appVersion: health.version,
        schemaVersion: health.schemaVersion,
        agentModels: health.models,
        tokenBudget: health.tokenBudget,
        faults: health.faults,
      },
      database: {
        url: redactUrl(config.databaseUrl),
        name: dbInfo.database,
        postgresVersion: dbInfo.serverVersion,
        schemaVersion: dbInfo.schemaVersion,
        testDatabase: dbInfo.testDatabase,
        pgStatStatements: dbInfo.pgStatStatements,
        markerTable: MARKER_TABLE,
      },
      model: {
        host: model.host,
        models: model.models,
        simulatorLatency: config.baseUrl || config.openaiApiKey ? undefined : stackModelLatency(config),
        realOpenAI: Boolean(config.openaiApiKey),
      },
      faults: config.faults,
      git,
      machine: {
        node: process.version,
        os: `${os.type()} ${os.release()} ${os.arch()}`,
        cpuCount: cpus.length,
        cpuModel: cpus[0]?.model ?? 'unknown',
        memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
      },
    });
    writeFileSync(path.join(config.reportDir, 'environment.json'), `${JSON.stringify(environment, null, 2)}\n`);
    const took = Math.round(performance.now() - started);
    const what = stack ? `bundled stack ready in ${stack.readyMs} ms` : `target ${baseUrl}`;
    console.log(
      `memorychat-perf: ${what} · ${health.app} ${health.version} · schema v${health.schemaVersion} · ` +
        `PostgreSQL ${dbInfo.serverVersion} · model ${model.host} · run ${runId} · setup ${took} ms`,
    );
  } catch (err) {
    await teardown();
    if (err instanceof SetupError) throw err;
    throw new SetupError(errText(err));
  }
  return teardown;
}
