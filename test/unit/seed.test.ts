/**
 * Seeding safety and speed against a real PostgreSQL (the bundled stack's own, migrated by it;
 * test/support/stack.ts): cleanup restores every table's row count (also when the
 * test body throws), other users' rows are untouched, a non-test database is refused, and the
 * bulk speed is measured.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import type { StackProcess } from '../../lib/run/stack-process';
import { databaseUrlOf, runStackOn, startTestStack } from '../support/stack';
import { createPool, DatabaseRefusedError, MARKER_TABLE } from '../../clients/db';
import { cleanupRun, escapeLike, PgSeeder, seededEmailLike, withSeeder } from '../../data/seed';
import { hashToken } from '../../clients/target/memorychat';

let stack: StackProcess;
let pool: pg.Pool;
let prodPool: pg.Pool;
let prodUrl: string;

before(async () => {
  stack = await startTestStack();
  pool = createPool(stack.databaseUrl);
  // A database that does not look like a test database: no marker, no test/perf in its name.
  await pool.query('CREATE DATABASE memorychat_app');
  prodUrl = databaseUrlOf(stack.databaseUrl, 'memorychat_app');
  await runStackOn(prodUrl);
  prodPool = createPool(prodUrl);
});

after(async () => {
  await prodPool?.end();
  await pool?.end();
  await stack?.stop();
});

async function rowCounts(db: pg.Pool): Promise<Record<string, number>> {
  const tables = await db.query<{ t: string }>(
    `SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`,
  );
  const out: Record<string, number> = {};
  for (const { t } of tables.rows)
    out[t] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${t}"`)).rows[0]?.n ?? -1;
  return out;
}

const opts = (tag: string, allowSeed = false) => ({ runId: 'unit', tag, allowSeed, textSeed: 42 });

/** Everything a seeder can create, plus rows the app would add for these users (agent_logs). */
async function seedEverything(s: PgSeeder): Promise<void> {
  const u = await s.user();
  const session = await s.session(u, { messages: 50 });
  assert.equal(session.messageIds.length, 50);
  assert.deepEqual(
    session.messageIds,
    [...session.messageIds].sort((a, b) => a - b),
  );
  const refs = await s.sessions(u, 5, { messagesPerSession: 4 });
  assert.equal(refs.length, 5);
  for (const ref of refs) {
    const r = await pool.query<{ n: number; last: number }>(
      'SELECT count(*)::int AS n, max(id) AS last FROM messages WHERE session_id = $1',
      [ref.id],
    );
    assert.deepEqual(
      [r.rows[0]?.n, r.rows[0]?.last],
      [4, ref.lastMessageId],
      'each session: 4 messages, its newest named',
    );
  }
  const r = await s.memories(u, 2_000);
  assert.equal(r.count, 2_000);
  const planted = await s.plantMemories(u, ['my passport number ends in 4417', 'the spare key is under the blue pot']);
  assert.equal(planted.length, 2);
  await pool.query(
    `INSERT INTO agent_logs (session_id, message_id, user_id, agent, model)
     VALUES ($1, $2, $3, 'conversation', 'gpt-4o-mini')`,
    [session.session.id, session.messageIds[1], u.user.id],
  );
  // A user created "through the API" with a seeder e-mail is cleaned up too.
  await pool.query(`INSERT INTO users (email, token_hash) VALUES ($1, $2)`, [s.email(), hashToken('api-created')]);
  const counts = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM memories WHERE user_id = $1', [
    u.user.id,
  ]);
  assert.equal(counts.rows[0]?.n, 2_002);
}

void test('cleanup restores every table to its row count, other users untouched', async () => {
  // Someone else's data, which cleanup must not touch.
  await pool.query(`INSERT INTO users (email, token_hash) VALUES ('real.user@example.com', $1)`, [hashToken('real')]);
  const beforeCounts = await rowCounts(pool);
  await withSeeder(new PgSeeder(pool, opts('ok'), hashToken), seedEverything);
  assert.deepEqual(await rowCounts(pool), beforeCounts);
  const other = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM users WHERE email = 'real.user@example.com'`,
  );
  assert.equal(other.rows[0]?.n, 1);
});

void test('cleanup also runs when the test body throws', async () => {
  const beforeCounts = await rowCounts(pool);
  await assert.rejects(
    withSeeder(new PgSeeder(pool, opts('throws'), hashToken), async (s) => {
      await seedEverything(s);
      throw new Error('the test failed half-way');
    }),
    /the test failed half-way/,
  );
  assert.deepEqual(await rowCounts(pool), beforeCounts);
});

void test('cleanup during a bulk memory load stops it and waits: no row outlives its user', async () => {
  // A test that timed out mid-seeding: the fixture cleans up while the load still inserts.
  const beforeCounts = await rowCounts(pool);
  const s = new PgSeeder(pool, opts('timedout'), hashToken);
  const owner = await s.user();
  // Its outcome is taken at once: the test that started it is gone and awaits nothing.
  const outcome = s.memories(owner, 20_000).then(
    () => 'completed',
    (err: unknown) => (err as Error).message,
  );
  await new Promise((r) => setTimeout(r, 150));
  await s.cleanup();
  assert.match(await outcome, /stopped after \d+ of \d+ chunks: cleanup began/);
  assert.deepEqual(await rowCounts(pool), beforeCounts);
});

void test('cleanup during a bulk message load stops it and waits: no row outlives its user', async () => {
  const beforeCounts = await rowCounts(pool);
  const s = new PgSeeder(pool, opts('timedoutMsgs'), hashToken);
  const owner = await s.user();
  // 100,000 messages in 20 statements: far longer than the wait below.
  const outcome = s.sessions(owner, 1_000, { messagesPerSession: 100 }).then(
    () => 'completed',
    (err: unknown) => (err as Error).message,
  );
  await new Promise((r) => setTimeout(r, 150));
  await s.cleanup();
  assert.match(await outcome, /seed\.sessions: stopped after \d+ of 100000 rows: cleanup began/);
  assert.deepEqual(await rowCounts(pool), beforeCounts);
});

void test('a non-test database is refused, with the reason and how to opt in', async () => {
  const beforeCounts = await rowCounts(prodPool);
  const s = new PgSeeder(prodPool, opts('refused'), hashToken);
  await assert.rejects(s.user(), (err: unknown) => {
    assert.ok(err instanceof DatabaseRefusedError);
    assert.match(err.message, /database "memorychat_app" has no memorychat_perf_marker table/);
    assert.match(err.message, /its name has neither "test" nor "perf" as a whole word/);
    assert.match(err.message, /PERF_ALLOW_SEED=1/);
    return true;
  });
  await assert.rejects(
    s.memories(
      {
        user: { id: 1, email: '', displayName: '', createdAt: '' },
        profile: { id: 1, userId: 1, name: '', createdAt: '' },
        token: '',
      },
      10,
    ),
    DatabaseRefusedError,
  );
  assert.deepEqual(await rowCounts(prodPool), beforeCounts);
});

void test('PERF_ALLOW_SEED=1 or the marker table opt a database in', async () => {
  const beforeCounts = await rowCounts(prodPool);
  await withSeeder(new PgSeeder(prodPool, opts('allowed', true), hashToken), async (s) => {
    await s.memories(await s.user(), 100);
  });
  assert.deepEqual(await rowCounts(prodPool), beforeCounts);
  // Marker: a fresh pool (the check is cached per pool).
  await prodPool.query(`CREATE TABLE ${MARKER_TABLE} (created_at timestamptz DEFAULT now())`);
  const marked = createPool(prodUrl);
  try {
    const before2 = await rowCounts(marked);
    await withSeeder(new PgSeeder(marked, opts('marker'), hashToken), async (s) => {
      await s.user();
    });
    assert.deepEqual(await rowCounts(marked), before2);
  } finally {
    await marked.end();
    await prodPool.query(`DROP TABLE ${MARKER_TABLE}`);
  }
});

void test('run ids never prefix each other: the sweep of run "ci" leaves run "ci-2" intact', async () => {
  const beforeCounts = await rowCounts(pool);
  const ci = new PgSeeder(pool, { ...opts('w0s1'), runId: 'ci' }, hashToken);
  const ci2 = new PgSeeder(pool, { ...opts('w0s1'), runId: 'ci-2' }, hashToken);
  assert.match(ci.email(), /^perf\+ci\.w0s1-\d+@memorychat\.test$/);
  for (const s of [ci, ci2]) {
    const u = await s.user();
    await s.session(u, { messages: 4 });
    await s.memories(u, 20);
  }
  const ci2User = (await ci2.user()).user.id;
  assert.equal(await cleanupRun(pool, 'ci', false), 1);
  const left = await pool.query<{ email: string }>(
    `SELECT email FROM users WHERE email LIKE 'perf+ci%' ORDER BY email`,
  );
  assert.deepEqual(
    left.rows.map((r) => r.email.replace(/\.w0s1-\d+@.*$/, '')),
    ['perf+ci-2', 'perf+ci-2'],
  );
  const memories = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM memories m JOIN users u ON u.id = m.user_id WHERE u.email LIKE $1',
    ['perf+ci-2.%'],
  );
  assert.equal(memories.rows[0]?.n, 20);
  assert.ok((await pool.query('SELECT 1 FROM users WHERE id = $1', [ci2User])).rowCount === 1);
  assert.equal(await cleanupRun(pool, 'ci-2', false), 2);
  assert.deepEqual(await rowCounts(pool), beforeCounts);
});

void test('LIKE wildcards in an e-mail prefix are matched literally; bad run ids and tags are refused', async () => {
  assert.equal(escapeLike('a_b%c\\d'), 'a\\_b\\%c\\\\d');
  const r = await pool.query<{ literal: boolean; other: boolean }>(
    `SELECT 'perf+a_b.w-1@memorychat.test' LIKE $1 ESCAPE '\\' AS literal,
            'perf+aXb.w-1@memorychat.test' LIKE $1 ESCAPE '\\' AS other`,
    [seededEmailLike('perf+a_b.')],
  );
  assert.deepEqual(r.rows[0], { literal: true, other: false });
  const withRunId = (runId: string) => () => new PgSeeder(pool, { ...opts('w0'), runId }, hashToken);
  assert.throws(withRunId('a.b'), /run id "a\.b" must be 1–40 letters, digits or dashes/);
  assert.throws(withRunId('a%'), /PERF_RUN_ID/);
  assert.throws(() => new PgSeeder(pool, opts('w-0'), hashToken), /seeder tag "w-0"/);
});

void test('text is realistic and varied, not one repeated sentence', async () => {
  await withSeeder(new PgSeeder(pool, opts('variety'), hashToken), async (s) => {
    const u = await s.user();
    await s.memories(u, 5_000);
    const r = await pool.query<{ distinct: number; words: number }>(
      `SELECT count(DISTINCT content)::int AS distinct,
              (SELECT count(DISTINCT w)::int FROM memories m2, regexp_split_to_table(lower(m2.content), '\\W+') AS w
              WHERE m2.user_id = $1) AS words
       FROM memories WHERE user_id = $1`,
      [u.user.id],
    );
    console.log(`5,000 memories: ${r.rows[0]?.distinct} distinct texts, ${r.rows[0]?.words} distinct words`);
    assert.ok((r.rows[0]?.distinct ?? 0) > 3_500);
    assert.ok((r.rows[0]?.words ?? 0) > 200);
  });
});

/** The `n` of a count query about one user ($1). */
async function countFor(db: pg.Pool, userId: number, sql: string): Promise<number> {
  return (await db.query<{ n: number }>(sql, [userId])).rows[0]?.n ?? -1;
}
const MEMORIES_OF_USER = 'SELECT count(*)::int AS n FROM memories WHERE user_id = $1';
/** Memories whose stored vector is not the one the schema's trigger computes from the content. */
const WRONG_VECTORS = `SELECT count(*)::int AS n FROM memories
  WHERE user_id = $1 AND content_tsv IS DISTINCT FROM to_tsvector('english', content)`;

// The bulk-load mode (session_replication_role = replica, precomputed vectors) must leave exactly
// what ordinary checked inserts leave: the vector the schema's trigger computes, the term
// dictionary its trigger keeps, valid foreign keys, and pool connections back in normal mode.
void test('bulk load = checked load: vectors, term dictionary, foreign keys, connection state', async () => {
  await withSeeder(new PgSeeder(pool, opts('bulkEqualsChecked'), hashToken), async (s) => {
    const u = await s.user();
    const load = await s.memories(u, 3_000);
    assert.equal(load.loadMode, 'replica-role', 'the bundled database user may use the bulk-load mode');
    // The references the mode does not check row by row are checked once, up front.
    const other = await s.user();
    await assert.rejects(s.memories(u, 10, { profileId: other.profile.id }), /profile \d+ of user \d+ does not exist/);
    const id = u.user.id;
    const one = (sql: string): Promise<number> => countFor(pool, id, sql);
    assert.equal(await one(MEMORIES_OF_USER), 3_000);
    assert.equal(await one(WRONG_VECTORS), 0, 'every supplied vector equals the one the trigger would compute');
    assert.equal(
      await one(`SELECT count(*)::int AS n FROM (
        (SELECT DISTINCT unnest(tsvector_to_array(content_tsv)) FROM memories WHERE user_id = $1
         EXCEPT SELECT term FROM memory_terms WHERE user_id = $1)
        UNION ALL
        (SELECT term FROM memory_terms WHERE user_id = $1
         EXCEPT SELECT DISTINCT unnest(tsvector_to_array(content_tsv)) FROM memories WHERE user_id = $1)) d`),
      0,
      'the term dictionary holds exactly the terms of the loaded memories',
    );
    assert.equal(
      await one(`SELECT count(*)::int AS n FROM memories m
        LEFT JOIN users x ON x.id = m.user_id LEFT JOIN profiles p ON p.id = m.profile_id
        WHERE m.user_id = $1 AND (x.id IS NULL OR p.id IS NULL OR p.user_id <> m.user_id)`),
      0,
      'foreign keys hold by construction',
    );
    // Every connection the pool holds is back in normal mode (foreign keys and triggers fire).
    const clients = await Promise.all(Array.from({ length: 3 }, () => pool.connect()));
    try {
      for (const c of clients)
        assert.equal(
          (await c.query<{ session_replication_role: string }>('SHOW session_replication_role')).rows[0]
            ?.session_replication_role,
          'origin',
        );
    } finally {
      for (const c of clients) c.release();
    }
    // Messages load in the same mode: every one belongs to its user's sessions, none to another's.
    const refs = await s.sessions(u, 30, { messagesPerSession: 20 });
    const long = await s.session(u, { messages: 40 });
    assert.equal(refs.length, 30);
    assert.equal(long.messageIds.length, 40);
    assert.equal(await one('SELECT count(*)::int AS n FROM messages WHERE user_id = $1'), 640);
    assert.equal(
      await one(`SELECT count(*)::int AS n FROM messages m LEFT JOIN sessions x ON x.id = m.session_id
        WHERE m.user_id = $1 AND (x.id IS NULL OR x.user_id <> m.user_id)`),
      0,
      "every message's session exists and is its user's",
    );
    // A checked insert of the same text stores the same vector (the trigger path).
    const [planted] = await s.plantMemories(u, ['My sister Clara moved to Lisbon in March']);
    assert.equal(await one(WRONG_VECTORS), 0);
    assert.ok(planted);
  });
});

// A database user that may not use the bulk-load mode (not superuser, no GRANT SET ON PARAMETER)
// still seeds: ordinary checked inserts, the same rows, and the mode is reported.
void test('bulk loads without the privilege for replica mode fall back to checked inserts', async () => {
  await pool.query(`DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'seeder_plain') THEN
        CREATE ROLE seeder_plain LOGIN PASSWORD 'plain';
      END IF;
    END $$`);
  await pool.query('GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO seeder_plain');
  await pool.query('GRANT ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA public TO seeder_plain');
  const plainUrl = new URL(stack.databaseUrl);
  plainUrl.username = 'seeder_plain';
  plainUrl.password = 'plain';
  const plainPool = createPool(plainUrl.toString());
  try {
    await withSeeder(new PgSeeder(plainPool, opts('plainRole'), hashToken), async (s) => {
      const u = await s.user();
      const load = await s.memories(u, 2_000);
      assert.equal(load.loadMode, 'checked');
      const n = (sql: string): Promise<number> => countFor(plainPool, u.user.id, sql);
      await s.sessions(u, 5, { messagesPerSession: 4 });
      await s.session(u, { messages: 6 });
      assert.equal(await n('SELECT count(*)::int AS n FROM messages WHERE user_id = $1'), 26, 'messages checked too');
      assert.equal(await n(MEMORIES_OF_USER), 2_000);
      assert.equal(await n(WRONG_VECTORS), 0);
      assert.ok(
        (await n('SELECT count(*)::int AS n FROM memory_terms WHERE user_id = $1')) > 0,
        'the dictionary trigger ran',
      );
    });
  } finally {
    await plainPool.end();
  }
});

void test('a batch settles the tables it filled once, at its end, not after each load', async () => {
  const vacuums = async (): Promise<number> =>
    (
      await pool.query<{ n: number }>(
        `SELECT vacuum_count::int AS n FROM pg_stat_user_tables WHERE relname = 'memories'`,
      )
    ).rows[0]?.n ?? -1;
  await withSeeder(new PgSeeder(pool, opts('batch'), hashToken), async (s) => {
    const before = await vacuums();
    await s.batch(async () => {
      const u = await s.user();
      await s.memories(u, 600);
      await s.memories(await s.user(), 600);
      // Inside the batch nothing was vacuumed yet (each load alone would have been).
      assert.equal(await vacuums(), before);
    });
    assert.equal(await vacuums(), before + 1);
  });
});
