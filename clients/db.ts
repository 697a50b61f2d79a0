/**
 * The database under test: a `pg` Pool with int8 parsed as number (ids and counts fit easily;
 * specs compare them with the API's numbers), and the test-database guard.
 *
 * Safety lives here too: {@link assertTestDatabase} decides whether seeding/cleanup may write:
 * the database has the marker table, or its name passes {@link isTestDatabaseName}, or
 * PERF_ALLOW_SEED=1. This is the only copy of the rule (the app never guesses from names).
 * The check is lazy: read-only specs never need it; the seeder calls it before its first write.
 */
import pg from 'pg';
import type { PerfConfig } from '../lib/run/config';
import { redact, redactUrl } from '../lib/redact';

export type Db = pg.Pool;

export const MARKER_TABLE = 'memorychat_perf_marker';
/** The name rule in words, for the refusal message. */
const TEST_DB_NAME_RULE =
  'its name has "test" or "perf" as a whole word (words separated by "_" or "-", any case), ' +
  'e.g. memorychat_test, perf_db, test, app-perf; not contest, prod_latest, performance';
const TEST_DB_NAME = /(?:^|[_-])(?:test|perf)(?:[_-]|$)/i;

/** Whether a database name alone marks a test database: whole words only (not `contest`, `prod_latest`). */
export function isTestDatabaseName(name: string): boolean {
  return TEST_DB_NAME.test(name);
}

export class DatabaseRefusedError extends Error {
  override name = 'DatabaseRefusedError';
}

/** Creates a pool with int8 → number and short, finite timeouts (never hang on a dead DB). */
export function createPool(databaseUrl: string, opts: { max?: number } = {}): pg.Pool {
  const types = new pg.TypeOverrides();
  types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: opts.max ?? 4,
    types,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 10_000,
    // A runaway statement must not stall a worker for the whole test timeout.
    statement_timeout: 120_000,
    application_name: 'memorychat-perf',
  });
  // An idle client losing its connection must not crash the worker; the next query reports it.
  pool.on('error', () => undefined);
  return pool;
}

export interface TestDatabaseCheck {
  database: string;
  hasMarker: boolean;
  isTestDatabase: boolean;
  /** Why it is (or is not) considered a test database, readable. */
  reason: string;
}

export async function checkTestDatabase(db: pg.Pool | pg.Client, allowSeed: boolean): Promise<TestDatabaseCheck> {
  const { rows } = await db.query<{ db: string; marker: boolean }>(
    `SELECT current_database() AS db, to_regclass($1) IS NOT NULL AS marker`,
    [`public.${MARKER_TABLE}`],
  );
  const row = rows[0];
  if (!row) throw new Error('current_database() returned no row');
  const nameLooksLikeTest = isTestDatabaseName(row.db);
  const reason = row.marker
    ? `database "${row.db}" has the marker table ${MARKER_TABLE}`
    : nameLooksLikeTest
      ? `database name "${row.db}" has "test" or "perf" as a whole word`
      : allowSeed
        ? `PERF_ALLOW_SEED=1 is set for database "${row.db}"`
        : `database "${row.db}" has no ${MARKER_TABLE} table ` +
          'and its name has neither "test" nor "perf" as a whole word';
  return {
    database: row.db,
    hasMarker: row.marker,
    isTestDatabase: row.marker || nameLooksLikeTest || allowSeed,
    reason,
  };
}

export function refusalMessage(check: TestDatabaseCheck): string {
  return (
    `Refusing to seed or delete rows: ${check.reason}, so it does not look like a test database. ` +
    `A test database has the table ${MARKER_TABLE}, or ${TEST_DB_NAME_RULE}. ` +
    `The suite inserts and deletes rows. If this database is disposable, set PERF_ALLOW_SEED=1 ` +
    `(or create the table ${MARKER_TABLE} in it, ` +
    'e.g. start the bundled stack on it with MEMORYCHAT_MARK_TEST_DATABASE=1).'
  );
}

const verified = new WeakSet<pg.Pool>();

/** Throws {@link DatabaseRefusedError} unless the pool's database is a test database (cached per pool). */
export async function assertTestDatabase(db: pg.Pool, allowSeed: boolean): Promise<void> {
  if (verified.has(db)) return;
  const check = await checkTestDatabase(db, allowSeed);
  if (!check.isTestDatabase) throw new DatabaseRefusedError(refusalMessage(check));
  verified.add(db);
}

export function requireDatabaseUrl(config: PerfConfig): string {
  if (!config.databaseUrl) {
    throw new Error(
      'DATABASE_URL is not set: the database specs and seeding need the database of the deployment under test. ' +
        'Set DATABASE_URL (postgres://…), or unset BASE_URL so the suite starts the bundled stack.',
    );
  }
  return config.databaseUrl;
}

/** Wraps a connection failure into one readable line naming the (redacted) URL. */
export function describeDbError(databaseUrl: string, error: unknown): string {
  const cause = error instanceof Error ? error.message : String(error);
  return `database at ${redactUrl(databaseUrl)} is not reachable or refused the query: ${redact(cause)}`;
}
