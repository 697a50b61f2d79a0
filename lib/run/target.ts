/**
 * The one target module: start (the bundled stack, when no deployment is given), check (health,
 * schema version, test database, model endpoint) and stop one MemoryChat target. Global setup
 * opens the candidate with it and, in compare mode, the base arm too; every failure is a
 * {@link TargetError} naming the arm, the cause and the fix.
 */
import path from 'node:path';
import { SCHEMA_VERSION, type Health } from '../../contract';
import { checkTestDatabase, createPool, refusalMessage } from '../../clients/db';
import { modelEndpoint } from '../../clients/model';
import { target as adapter } from '../../clients/target';
import { redact, redactUrl } from '../redact';
import { startStackProcess, type StackProcess } from './stack-process';
import { switchOn } from './config';

const CHECK_TIMEOUT_MS = 5_000;
/**
 * A bundled stack builds its tokenizer right after it says ready (seconds of CPU): with two
 * stacks starting at once on two cores (compare mode), its first answer can take longer than 5 s.
 */
const BUNDLED_HEALTH_TIMEOUT_MS = 30_000;

/** An error Playwright prints as just its message: the cause and the fix, no stack. */
export class TargetError extends Error {
  override name = 'TargetError';
  constructor(message: string) {
    super(message);
    this.stack = `memorychat-perf setup: ${message}`;
  }
}

export function errText(err: unknown, timeoutMs = CHECK_TIMEOUT_MS): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return `no answer within ${timeoutMs / 1000} s`;
  const parts = [e?.message ?? String(err), e?.cause?.code ?? e?.cause?.message].filter(Boolean);
  return redact(parts.join(': '));
}

/** What to open: a deployment (URLs given) or the bundled stack of a source tree (`bundled`). */
export interface TargetSpec {
  /** 'candidate' (the change under test) or 'base' (compare mode's other arm): named in errors. */
  arm: 'candidate' | 'base';
  baseUrl?: string;
  databaseUrl?: string;
  openaiBaseUrl?: string;
  openaiApiKey?: string;
  allowSeed: boolean;
  /** Start the bundled stack of this source tree (`cwd`) instead of using the URLs. */
  bundled?: { cwd: string; env: NodeJS.ProcessEnv; logFile: string };
  /** Variable names for messages (the base arm's are BASELINE_*). */
  names?: { baseUrl: string; databaseUrl: string; openaiBaseUrl: string };
}

export interface DbInfo {
  serverVersion: string;
  database: string;
  schemaVersion: number | null;
  testDatabase: string;
  pgStatStatements: boolean;
}

export interface OpenTarget {
  arm: TargetSpec['arm'];
  baseUrl: string;
  databaseUrl: string;
  openaiBaseUrl: string;
  health: Health;
  db: DbInfo;
  model: { host: string; models: string[] };
  /** Set when this module started the bundled stack. */
  stack: StackProcess | undefined;
  /**
   * The bundled stack's own embedded PostgreSQL, gone with the run. False for a given database
   * (a deployment's, or one the bundled stack was pointed at with DATABASE_URL): it outlives the
   * run, so teardown sweeps it, and nothing but rows is changed in it.
   */
  ownDatabase: boolean;
  stop(): Promise<void>;
}

const CANDIDATE_NAMES = { baseUrl: 'BASE_URL', databaseUrl: 'DATABASE_URL', openaiBaseUrl: 'OPENAI_BASE_URL' };
export const BASE_NAMES = {
  baseUrl: 'BASELINE_URL',
  databaseUrl: 'BASELINE_DATABASE_URL',
  openaiBaseUrl: 'BASELINE_OPENAI_BASE_URL',
};

async function checkHealth(spec: TargetSpec, baseUrl: string, stackLog: string | undefined): Promise<Health> {
  const names = spec.names ?? CANDIDATE_NAMES;
  const who = spec.arm === 'base' ? 'The base arm' : 'MemoryChat';
  const fix = stackLog
    ? `the bundled stack started but does not answer; see ${stackLog}`
    : `start the app (e.g. \`npm run stack\`) or fix ${names.baseUrl}` +
      (spec.arm === 'candidate' ? '; unset BASE_URL to let the suite start the bundled stack' : '');
  const timeoutMs = stackLog ? BUNDLED_HEALTH_TIMEOUT_MS : CHECK_TIMEOUT_MS;
  let res: Response;
  try {
    res = await fetch(`${baseUrl}/api/health`, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new TargetError(
      `${who} is not reachable at ${names.baseUrl}=${baseUrl} (GET /api/health: ${errText(err, timeoutMs)}). ` +
        `Fix: ${fix}.`,
    );
  }
  if (!res.ok) {
    throw new TargetError(
      `${who} at ${names.baseUrl}=${baseUrl} answered GET /api/health with HTTP ${res.status}. Fix: ${fix}.`,
    );
  }
  let health: Health;
  try {
    health = (await res.json()) as Health;
  } catch {
    throw new TargetError(`GET ${baseUrl}/api/health did not return JSON: is ${names.baseUrl} pointing at MemoryChat?`);
  }
  // The version the suite was written for: the contract's, not whatever app/ happens to hold.
  if (health.schemaVersion !== SCHEMA_VERSION) {
    const fixIt =
      spec.arm === 'base'
        ? 'Compare mode needs both arms on the schema and API this suite speaks: pick a base ref or ' +
          'deployment with the same migrations (or compare after rebasing the change).'
        : 'Fix: deploy/migrate the matching app version.';
    throw new TargetError(
      `${who} at ${baseUrl} reports schema version ${health.schemaVersion}, the suite expects ${SCHEMA_VERSION} ` +
        `(contract/schema.ts). ${fixIt}`,
    );
  }
  return health;
}

function databaseUnreachable(spec: TargetSpec, databaseUrl: string, err: unknown): TargetError {
  const name = (spec.names ?? CANDIDATE_NAMES).databaseUrl;
  return new TargetError(
    `The ${spec.arm} database is not reachable at ${name}=${redactUrl(databaseUrl)} (${errText(err)}). ` +
      `Fix: start it or correct ${name}.`,
  );
}

async function refuseUnlessTestDatabase(spec: TargetSpec, databaseUrl: string): Promise<void> {
  const names = spec.names ?? CANDIDATE_NAMES;
  const pool = createPool(databaseUrl, { max: 1 });
  try {
    let check: Awaited<ReturnType<typeof checkTestDatabase>>;
    try {
      check = await checkTestDatabase(pool, spec.allowSeed);
    } catch (err) {
      throw databaseUnreachable(spec, databaseUrl, err);
    }
    if (!check.isTestDatabase) {
      throw new TargetError(
        `${refusalMessage(check)} The bundled stack was not started: it would migrate ${names.databaseUrl}'s database.`,
      );
    }
  } finally {
    await pool.end().catch(() => undefined);
  }
}

async function checkDatabase(spec: TargetSpec, databaseUrl: string): Promise<DbInfo> {
  const names = spec.names ?? CANDIDATE_NAMES;
  const pool = createPool(databaseUrl, { max: 1 });
  const where = `${names.databaseUrl}=${redactUrl(databaseUrl)}`;
  try {
    let serverVersion: string;
    try {
      serverVersion =
        (await pool.query<{ v: string }>('SELECT current_setting($1) AS v', ['server_version'])).rows[0]?.v ?? '?';
    } catch (err) {
      throw databaseUnreachable(spec, databaseUrl, err);
    }
    const check = await checkTestDatabase(pool, spec.allowSeed);
    if (!check.isTestDatabase) throw new TargetError(refusalMessage(check));
    const schemaVersion = await adapter.schemaVersion(pool);
    if (schemaVersion !== SCHEMA_VERSION) {
      throw new TargetError(
        `The database at ${where} has schema version ${schemaVersion ?? 'none (no schema_migrations table)'}, ` +
          `the suite expects ${SCHEMA_VERSION} (contract/schema.ts). ` +
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

/**
 * Compare mode, on a database this run created (never on a given one): PostgreSQL also times
 * each statement's planning (`pg_stat_statements.track_planning`), which the comparison's evidence
 * shows beside execution: the retriever's time differs between two stacks of the same code by up
 * to 1.7 ms for a whole run, and this is where it shows that the difference is PostgreSQL planning
 * its query (up to 1.9 vs 1.0 ms), which depends on each database's own statistics. Returns why it
 * could not be set (the run goes on without it), or undefined.
 */
export async function trackPlanning(target: OpenTarget): Promise<string | undefined> {
  // ALTER SYSTEM changes the server: only the embedded one this run created.
  if (!target.ownDatabase) return 'not a database this run created';
  const pool = createPool(target.databaseUrl, { max: 1 });
  try {
    await pool.query('ALTER SYSTEM SET pg_stat_statements.track_planning = on');
    await pool.query('SELECT pg_reload_conf()');
    return undefined;
  } catch (err) {
    return errText(err);
  } finally {
    await pool.end();
  }
}

/** The model endpoint the target's app uses, and the key to ask it with (a TargetError when unset). */
function modelEndpointOf(spec: TargetSpec): { baseUrl: string; apiKey: string } {
  try {
    return modelEndpoint({ openaiBaseUrl: spec.openaiBaseUrl, openaiApiKey: spec.openaiApiKey });
  } catch (err) {
    throw new TargetError((err as Error).message);
  }
}

async function checkModel(spec: TargetSpec): Promise<{ host: string; models: string[] }> {
  const names = spec.names ?? CANDIDATE_NAMES;
  const endpoint = modelEndpointOf(spec);
  const host = new URL(endpoint.baseUrl).host;
  let res: Response;
  try {
    res = await fetch(`${endpoint.baseUrl}/models`, {
      headers: { authorization: `Bearer ${endpoint.apiKey}` },
      signal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
    });
  } catch (err) {
    throw new TargetError(
      `The ${spec.arm} model endpoint ${names.openaiBaseUrl}=${endpoint.baseUrl} is not reachable ` +
        `(GET /models: ${errText(err)}). Fix: start it or correct ${names.openaiBaseUrl}.`,
    );
  }
  if (!res.ok) {
    const hint =
      res.status === 401
        ? ' (check OPENAI_API_KEY)'
        : res.status === 404
          ? ` (does ${names.openaiBaseUrl} end in /v1, as the OpenAI API's base URL does?)`
          : '';
    throw new TargetError(
      `The model endpoint ${endpoint.baseUrl} answered GET /models with HTTP ${res.status}${hint}.`,
    );
  }
  const body = (await res.json().catch(() => ({}))) as { data?: { id?: string }[] };
  return { host, models: (body.data ?? []).map((m) => m.id ?? '?').slice(0, 30) };
}

/**
 * Starts (bundled) and checks one target. On any failure the stack it started is stopped again
 * and a {@link TargetError} is thrown: never a half-open target.
 */
export async function openTarget(spec: TargetSpec): Promise<OpenTarget> {
  let stack: StackProcess | undefined;
  let urls = { baseUrl: spec.baseUrl, databaseUrl: spec.databaseUrl, openaiBaseUrl: spec.openaiBaseUrl };
  if (spec.bundled) {
    // The bundled app migrates the database it is given (tables, triggers, indexes) as it starts:
    // a database that is not a test database is refused before that, not after.
    // MEMORYCHAT_MARK_TEST_DATABASE=1 asks the stack to mark its database as a test database.
    const markRequested = switchOn(spec.bundled.env.MEMORYCHAT_MARK_TEST_DATABASE);
    if (spec.databaseUrl && !markRequested) await refuseUnlessTestDatabase(spec, spec.databaseUrl);
    try {
      stack = await startStackProcess(spec.bundled);
    } catch (err) {
      const what = spec.arm === 'base' ? `The base arm's bundled stack (${spec.bundled.cwd}): ` : '';
      throw new TargetError(`${what}${(err as Error).message}`);
    }
    urls = { baseUrl: stack.baseUrl, databaseUrl: stack.databaseUrl, openaiBaseUrl: stack.openaiBaseUrl };
  }
  const stop = async (): Promise<void> => {
    await stack?.stop();
  };
  try {
    const baseUrl = urls.baseUrl;
    if (!baseUrl) throw new TargetError(`${(spec.names ?? CANDIDATE_NAMES).baseUrl} is not set.`);
    const health = await checkHealth(spec, baseUrl, stack?.logFile);
    if (!urls.databaseUrl) {
      throw new TargetError(
        spec.arm === 'base'
          ? 'BASELINE_DATABASE_URL is not set: the base deployment needs its database too (seeding, SQL timings).'
          : "DATABASE_URL is not set: with BASE_URL given, the suite also needs that deployment's database " +
              '(seeding, SQL timings). Set DATABASE_URL=postgres://… (a test database), ' +
              'or unset BASE_URL to use the bundled stack.',
      );
    }
    const resolved = { ...spec, openaiBaseUrl: urls.openaiBaseUrl };
    const [db, model] = await Promise.all([checkDatabase(spec, urls.databaseUrl), checkModel(resolved)]);
    return {
      arm: spec.arm,
      baseUrl,
      databaseUrl: urls.databaseUrl,
      openaiBaseUrl: modelEndpointOf(resolved).baseUrl,
      health,
      db,
      model,
      stack,
      ownDatabase: stack !== undefined && !spec.databaseUrl,
      stop,
    };
  } catch (err) {
    await stop();
    if (err instanceof TargetError) throw err;
    throw new TargetError(errText(err));
  }
}

/** The bundled stack's log file of an arm. */
export function stackLogFile(reportDir: string, arm: TargetSpec['arm']): string {
  return path.join(reportDir, arm === 'base' ? 'stack-base.log' : 'stack.log');
}
