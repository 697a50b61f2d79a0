/**
 * Versioned, idempotent migrations: `app/db/migrations/NNN_name.sql`, applied in order once each
 * and recorded in `schema_migrations`. Every file is itself idempotent (IF NOT EXISTS), so a
 * half-applied run or a database created by other tooling is safe to migrate again.
 *
 * The `missing-indexes` fault skips the index migrations (002: the Step 7.4 and full-text
 * indexes; 005: the fuzzy-search term index) and drops their indexes if a previous run created
 * them; the skip is recorded so a later run without the fault applies them.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Db, Queryable } from './db';

export const MIGRATIONS_DIR = path.join(__dirname, 'migrations');
const INDEX_MIGRATIONS: readonly number[] = [2, 5];
const SKIPPED_SUFFIX = ' (skipped: missing-indexes fault)';
/** Any constant works; it only has to be the same for every MemoryChat process. */
const MIGRATION_LOCK_KEY = 7_400_001;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .sort()
    .map((file) => ({
      version: Number(file.split('_')[0]),
      name: file.replace(/\.sql$/, ''),
      sql: readFileSync(path.join(dir, file), 'utf8'),
    }));
}

/** A digest of every migration's name and SQL: a template migrated with other files is another template. */
export function migrationsDigest(dir = MIGRATIONS_DIR): string {
  const hash = createHash('sha256');
  for (const m of listMigrations(dir)) hash.update(`${m.name}\n${m.sql}\n`);
  return hash.digest('hex').slice(0, 16);
}

/** The version a fully migrated database reports (= number of migration files). */
export function latestSchemaVersion(): number {
  return listMigrations().reduce((max, m) => Math.max(max, m.version), 0);
}

/** Index names created by the index migration (so the fault can drop exactly those). */
export function indexNamesOf(sql: string): string[] {
  return [...sql.matchAll(/CREATE\s+INDEX\s+IF\s+NOT\s+EXISTS\s+(\w+)/gi)].map((m) => m[1] ?? '').filter(Boolean);
}

async function createExtensions(q: Queryable, log: (line: string) => void): Promise<void> {
  // pg_trgm and btree_gin are required (the fuzzy-search term index); pg_stat_statements is a
  // bonus for the suite.
  for (const ext of ['pg_trgm', 'btree_gin']) {
    try {
      await q.query(`CREATE EXTENSION IF NOT EXISTS ${ext}`);
    } catch (err) {
      throw new Error(
        `cannot enable the ${ext} extension (${(err as Error).message}); ` +
          `install PostgreSQL contrib or run "CREATE EXTENSION ${ext}" as a superuser once`,
      );
    }
  }
  try {
    await q.query('SAVEPOINT pgss');
    await q.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await q.query('RELEASE SAVEPOINT pgss');
  } catch (err) {
    await q.query('ROLLBACK TO SAVEPOINT pgss');
    log(`pg_stat_statements not enabled (${(err as Error).message}); statement statistics will be unavailable`);
  }
}

export interface MigrateResult {
  schemaVersion: number;
  applied: string[];
}

export async function migrate(
  db: Db,
  opts: { missingIndexes: boolean; log?: (line: string) => void },
): Promise<MigrateResult> {
  const log = opts.log ?? (() => undefined);
  const migrations = listMigrations();
  const applied: string[] = [];
  await db.tx(
    async (q) => {
      // Two stacks migrating one database at once must not interleave.
      await q.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      await createExtensions(q, log);
      await q.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const done = new Map<number, string>();
      for (const row of (
        await q.query<{ version: number; name: string }>('SELECT version, name FROM schema_migrations')
      ).rows) {
        done.set(row.version, row.name);
      }
      for (const m of migrations) {
        const skipThis = opts.missingIndexes && INDEX_MIGRATIONS.includes(m.version);
        const previous = done.get(m.version);
        if (skipThis) {
          for (const name of indexNamesOf(m.sql)) await q.query(`DROP INDEX IF EXISTS ${name}`);
          await q.query(
            `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)
           ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, applied_at = now()`,
            [m.version, m.name + SKIPPED_SUFFIX],
          );
          applied.push(m.name + SKIPPED_SUFFIX);
          continue;
        }
        if (previous !== undefined && !previous.endsWith(SKIPPED_SUFFIX)) continue;
        await q.query(m.sql);
        await q.query(
          `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)
         ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, applied_at = now()`,
          [m.version, m.name],
        );
        applied.push(m.name);
      }
    },
    { unbounded: true },
  ); // an index build over existing rows may outlast the request timeouts
  const version = await db.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
  return { schemaVersion: version.rows[0]?.v ?? 0, applied };
}

/**
 * The table that makes a database a test database for the suite (fixtures/db.ts). The stack
 * creates it in its own embedded database, and in a DATABASE_URL database only when asked
 * (MEMORYCHAT_MARK_TEST_DATABASE=1): never by guessing from the name.
 */
export async function createMarker(db: Db): Promise<void> {
  await db.query(`CREATE TABLE IF NOT EXISTS memorychat_perf_marker (
    created_at timestamptz NOT NULL DEFAULT now(),
    note text NOT NULL
      DEFAULT 'created by the memorychat-perf stack: this database may be seeded and cleaned by the suite')`);
}
