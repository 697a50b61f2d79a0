/**
 * The test-database guard: the whole-word name rule, the marker table, PERF_ALLOW_SEED, and the
 * bundled stack creating the marker only in its own database or when asked explicitly.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { join, resolve } from 'node:path';
import type { StackProcess } from '../../lib/run/stack-process';
import { databaseUrlOf, runStackOn, startTestStack } from '../support/stack';
import { tempDir } from '../support/temp-dir';
import { checkTestDatabase, createPool, isTestDatabaseName, MARKER_TABLE, refusalMessage } from '../../clients/db';
import { openTarget, trackPlanning } from '../../lib/run/target';

const ACCEPTED = [
  'memorychat_test',
  'perf_db',
  'test',
  'perf',
  'app-perf',
  'TEST_app',
  'memorychat_perf_test',
  'my-Perf-db',
];
const REFUSED = [
  'contest',
  'prod_latest',
  'performance',
  'performance_metrics',
  'memorychat',
  'tests',
  'perfect',
  'testing_db',
  'test1',
  'pre.test',
];

void test('name rule: "test" or "perf" as a whole word separated by _ or -, any case', () => {
  for (const name of ACCEPTED) assert.equal(isTestDatabaseName(name), true, name);
  for (const name of REFUSED) assert.equal(isTestDatabaseName(name), false, name);
});

// The bundled stack's PostgreSQL server hosts the databases under test; its own database (marked
// by the stack) is the one "the bundled stack marks the embedded database it creates" checks.
let stack: StackProcess;
let admin: pg.Pool;
const urlOf = (name: string): string => databaseUrlOf(stack.databaseUrl, name);
const ROOT = resolve(__dirname, '..', '..');

before(async () => {
  stack = await startTestStack();
  admin = createPool(stack.databaseUrl, { max: 1 });
  for (const name of ['contest', 'prod_latest', 'performance_metrics', 'app-perf']) {
    await admin.query(`CREATE DATABASE "${name}"`);
  }
});

after(async () => {
  await admin?.end();
  await stack?.stop();
});

async function check(name: string, allowSeed: boolean): Promise<ReturnType<typeof checkTestDatabase>> {
  const pool = createPool(urlOf(name), { max: 1 });
  try {
    return await checkTestDatabase(pool, allowSeed);
  } finally {
    await pool.end();
  }
}

void test('look-alike names are refused, naming PERF_ALLOW_SEED and the rule; PERF_ALLOW_SEED=1 opts in', async () => {
  for (const name of ['contest', 'prod_latest', 'performance_metrics']) {
    const refused = await check(name, false);
    assert.equal(refused.isTestDatabase, false, name);
    const message = refusalMessage(refused);
    assert.match(message, new RegExp(`database "${name}" has no ${MARKER_TABLE} table`));
    assert.match(message, /PERF_ALLOW_SEED=1/);
    assert.match(message, /"test" or "perf" as a whole word/);
    const allowed = await check(name, true);
    assert.equal(allowed.isTestDatabase, true, name);
    assert.match(allowed.reason, /PERF_ALLOW_SEED=1/);
  }
  assert.equal((await check('app-perf', false)).isTestDatabase, true);
});

void test('the marker table makes any database a test database', async () => {
  const pool = createPool(urlOf('prod_latest'), { max: 1 });
  try {
    await pool.query(`CREATE TABLE ${MARKER_TABLE} (created_at timestamptz DEFAULT now())`);
    const marked = await checkTestDatabase(pool, false);
    assert.equal(marked.isTestDatabase, true);
    assert.equal(marked.hasMarker, true);
    assert.match(marked.reason, /has the marker table/);
  } finally {
    await pool.query(`DROP TABLE IF EXISTS ${MARKER_TABLE}`);
    await pool.end();
  }
});

/** Starts and stops the bundled stack on a given database; did it leave the marker? */
async function stackOn(name: string, extra: Record<string, string> = {}): Promise<boolean> {
  await runStackOn(urlOf(name), extra);
  return (await check(name, false)).hasMarker;
}

void test('the bundled stack marks a DATABASE_URL database only when MEMORYCHAT_MARK_TEST_DATABASE=1', async () => {
  // Even a name that passes the rule is not marked without the switch (the marker is never guessed).
  assert.equal(await stackOn('app-perf'), false);
  assert.equal(await stackOn('contest'), false);
  assert.equal(await stackOn('contest', { MEMORYCHAT_MARK_TEST_DATABASE: '1' }), true);
});

void test('the bundled stack marks the embedded database it creates', async () => {
  assert.equal((await checkTestDatabase(admin, false)).hasMarker, true);
});

void test('the bundled stack is not started on a database that is not a test database', async () => {
  // It would migrate it (tables, triggers, indexes) before any check of the suite's.
  const url = urlOf('performance_metrics');
  const spec = {
    arm: 'candidate',
    databaseUrl: url,
    allowSeed: false,
    bundled: {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: url },
      logFile: join(tempDir('never-started-'), 'stack.log'),
    },
  } as const;
  await assert.rejects(
    openTarget(spec),
    /Refusing to seed or delete rows: database "performance_metrics" has no .*The bundled stack was not started/,
  );
  const pool = createPool(url, { max: 1 });
  try {
    const migrated = await pool.query<{ t: string | null }>(`SELECT to_regclass('public.schema_migrations') AS t`);
    assert.equal(migrated.rows[0]?.t, null, 'no table was created');
  } finally {
    await pool.end();
  }
});

void test('a bundled stack on a given database: swept at teardown, and its server left unconfigured', async () => {
  const url = urlOf('app-perf');
  const target = await openTarget({
    arm: 'candidate',
    databaseUrl: url,
    allowSeed: false,
    bundled: {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: url },
      logFile: join(tempDir('app-perf-stack-'), 'stack.log'),
    },
  });
  try {
    assert.equal(target.ownDatabase, false);
    assert.equal(await trackPlanning(target), 'not a database this run created');
  } finally {
    await target.stop();
  }
});
