/**
 * The test-database guard: the whole-word name rule, the marker table, PERF_ALLOW_SEED, and the
 * bundled stack creating the marker only in its own database or when asked explicitly.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedDb, startStack } from '../support/reference-app';
import { checkTestDatabase, createPool, isTestDatabaseName, MARKER_TABLE, refusalMessage } from '../../fixtures/db';

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
/** The stack without the simulator: a key that is never used, a model URL nothing listens on. */
const NO_MODEL = { OPENAI_API_KEY: 'sk-unit-never-called', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' };

void test('name rule: "test" or "perf" as a whole word separated by _ or -, any case', () => {
  for (const name of ACCEPTED) assert.equal(isTestDatabaseName(name), true, name);
  for (const name of REFUSED) assert.equal(isTestDatabaseName(name), false, name);
});

let embedded: EmbeddedDb;
let admin: pg.Pool;
const urlOf = (name: string): string => embedded.url.replace(/\/[^/]+$/, `/${name}`);

before(async () => {
  embedded = await startEmbeddedPostgres(() => undefined);
  admin = createPool(embedded.url, { max: 1 });
  for (const name of ['contest', 'prod_latest', 'performance_metrics', 'app-perf']) {
    await admin.query(`CREATE DATABASE "${name}"`);
  }
});

after(async () => {
  await admin?.end();
  await embedded?.stop();
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

/** Starts the bundled stack on a given database (no simulator: a key that is never used). */
async function stackOn(name: string, extra: Record<string, string> = {}): Promise<boolean> {
  const stack = await startStack({
    env: { DATABASE_URL: urlOf(name), ...NO_MODEL, ...extra },
    log: () => undefined,
  });
  await stack.stop();
  return (await check(name, false)).hasMarker;
}

void test('the bundled stack marks a DATABASE_URL database only when MEMORYCHAT_MARK_TEST_DATABASE=1', async () => {
  // Even a name that passes the rule is not marked without the switch (the marker is never guessed).
  assert.equal(await stackOn('app-perf'), false);
  assert.equal(await stackOn('contest'), false);
  assert.equal(await stackOn('contest', { MEMORYCHAT_MARK_TEST_DATABASE: '1' }), true);
});

void test('the bundled stack marks the embedded database it creates', async () => {
  const stack = await startStack({ env: NO_MODEL, log: () => undefined });
  try {
    const pool = createPool(stack.databaseUrl, { max: 1 });
    try {
      assert.equal((await checkTestDatabase(pool, false)).hasMarker, true);
    } finally {
      await pool.end();
    }
  } finally {
    await stack.stop();
  }
});
