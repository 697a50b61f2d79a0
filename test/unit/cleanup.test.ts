/**
 * `npm run cleanup` (clients/runs.ts + scripts/cleanup.ts) against a real PostgreSQL: it removes
 * the rows of finished or killed runs and nothing else: not a live run's, not other users'.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type pg from 'pg';
import type { StackProcess } from '../../lib/run/stack-process';
import { databaseUrlOf, startTestStack } from '../support/stack';
import { createPool } from '../../clients/db';
import {
  describeSweep,
  registerRun,
  reserveRun,
  RUNS_TABLE,
  runIdOfEmail,
  sweepLeftovers,
  type RunRegistration,
} from '../../clients/runs';
import { PgSeeder } from '../../data/seed';
import { hashToken } from '../../clients/target/memorychat';

const ROOT = path.resolve(__dirname, '..', '..');
/** What {@link plantRun} leaves, as cleanup prints it. */
const ROWS = 'agent_logs 1, memory_terms \\d+, memories 30, messages 6, sessions 1, profiles 1, users 1';
let stack: StackProcess;
let pool: pg.Pool;
let live: RunRegistration | undefined;

before(async () => {
  stack = await startTestStack();
  pool = createPool(stack.databaseUrl);
});

after(async () => {
  await live?.stop();
  await pool?.end();
  await stack?.stop();
});

async function rowCounts(): Promise<Record<string, number>> {
  const tables = await pool.query<{ t: string }>(
    `SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`,
  );
  const out: Record<string, number> = {};
  for (const { t } of tables.rows) {
    out[t] = (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${t}"`)).rows[0]?.n ?? -1;
  }
  return out;
}

/** One user with a session of 6 messages, 30 memories (+ their terms) and one agent log. */
async function plantRun(runId: string): Promise<void> {
  const s = new PgSeeder(pool, { runId, tag: 'w0s1', allowSeed: false, textSeed: 7 }, hashToken);
  const u = await s.user();
  const session = await s.session(u, { messages: 6 });
  await s.memories(u, 30);
  await pool.query(
    `INSERT INTO agent_logs (session_id, message_id, user_id, agent, model)
     VALUES ($1, $2, $3, 'conversation', 'gpt-4o-mini')`,
    [session.session.id, session.messageIds[1], u.user.id],
  );
}

function runCleanup(args: string[], env: Record<string, string>): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/cleanup.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: '', PERF_ALLOW_SEED: '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

void test('run ids are read from suite e-mails only', () => {
  assert.equal(runIdOfEmail('perf+r20261127-ab12.w0s1ff-3@memorychat.test'), 'r20261127-ab12');
  const others = [
    'alice@example.com',
    'perf@memorychat.test',
    'perf+ci.w0s1-1@example.org',
    'perf+ci-w0s1-1@memorychat.test',
  ];
  for (const other of others) {
    assert.equal(runIdOfEmail(other), undefined, other);
  }
});

void test('cleanup removes the rows of an old and a killed run, leaves a live run and other users alone', async () => {
  await plantRun('old-1'); // its teardown unregistered it but could not sweep (or it predates the runs table)
  await plantRun('killed'); // killed: still registered, its heartbeat stopped 10 minutes ago
  live = await registerRun(stack.databaseUrl, 'live-1', false, 200);
  await plantRun('live-1');
  await pool.query(
    `INSERT INTO ${RUNS_TABLE} (run_id, host, pid, heartbeat_at)
     VALUES ('killed', 'h', 1, now() - interval '10 minutes'), ('gone', 'h', 2, now() - interval '1 hour')`,
  );
  for (const email of ['alice@example.com', 'perf@memorychat.test', 'perf+old-1.w0s1-1@example.org']) {
    await pool.query('INSERT INTO users (email, token_hash) VALUES ($1, $2)', [email, hashToken(email)]);
  }
  // The live run's heartbeat moves (200 ms interval here, 10 s in a real run).
  const beat = async (): Promise<number> => {
    const r = await pool.query<{ t: Date }>(`SELECT heartbeat_at AS t FROM ${RUNS_TABLE} WHERE run_id = 'live-1'`);
    return r.rows[0]?.t.getTime() ?? 0;
  };
  const first = await beat();
  await new Promise((r) => setTimeout(r, 600));
  assert.ok((await beat()) > first, 'the heartbeat updates heartbeat_at');

  const before = await rowCounts();
  const dry = await sweepLeftovers(pool, { allowSeed: false, dryRun: true });
  assert.deepEqual(await rowCounts(), before, 'a dry run changes nothing');
  assert.deepEqual(
    dry.removed.map((r) => r.runId),
    ['killed', 'old-1'],
  );

  const done = await sweepLeftovers(pool, { allowSeed: false });
  assert.deepEqual(done.removed, dry.removed, 'the dry run announced exactly what was removed');
  const terms = done.removed[0]?.rows.memory_terms ?? -1;
  const expected = {
    agent_logs: 1,
    memory_terms: terms,
    memories: 30,
    messages: 6,
    sessions: 1,
    profiles: 1,
    users: 1,
  };
  assert.ok(expected.memory_terms > 0);
  for (const run of done.removed) assert.deepEqual(run.rows, { ...expected, memory_terms: run.rows.memory_terms });
  assert.deepEqual(done.live, ['live-1']);
  assert.deepEqual(done.liveUsers, { 'live-1': 1 });
  assert.deepEqual(done.staleRegistrations, ['gone', 'killed']);

  const after = await rowCounts();
  for (const [table, n] of Object.entries(expected)) assert.equal(after[table], (before[table] ?? 0) - 2 * n, table);
  const users = await pool.query<{ email: string }>('SELECT email FROM users ORDER BY email');
  assert.deepEqual(
    users.rows.map((r) => r.email.replace(/\.w0s1-\d+@memorychat/, '.…@memorychat')),
    ['alice@example.com', 'perf+live-1.…@memorychat.test', 'perf+old-1.w0s1-1@example.org', 'perf@memorychat.test'],
  );
  const runs = await pool.query<{ run_id: string }>(`SELECT run_id FROM ${RUNS_TABLE}`);
  assert.deepEqual(
    runs.rows.map((r) => r.run_id),
    ['live-1'],
  );
  const text = describeSweep(done);
  assert.match(text, new RegExp(`run killed: removed ${ROWS}`));
  assert.match(text, /left alone \(in progress\): live-1 \(1 user\)/);

  // Once the live run ends (teardown), its registration is gone and so is its protection.
  await live.stop();
  live = undefined;
  assert.equal((await pool.query(`SELECT 1 FROM ${RUNS_TABLE}`)).rowCount, 0);
  assert.deepEqual(
    (await sweepLeftovers(pool, { allowSeed: false })).removed.map((r) => r.runId),
    ['live-1'],
  );
});

void test('a live run whose registration a cleanup removed registers again with its next heartbeat', async () => {
  // The database was away for 2 minutes: a cleanup found the run silent and removed its registration.
  const run = await registerRun(stack.databaseUrl, 'back-1', false, 200);
  try {
    await pool.query(`DELETE FROM ${RUNS_TABLE} WHERE run_id = 'back-1'`);
    await new Promise((r) => setTimeout(r, 600));
    const again = await pool.query(`SELECT 1 FROM ${RUNS_TABLE} WHERE run_id = 'back-1'`);
    assert.equal(again.rowCount, 1, 'registered again: the next cleanup leaves its rows alone');
  } finally {
    await run.stop();
  }
});

void test('npm run cleanup: prints per run and table, refuses other databases, says what to set', async () => {
  await plantRun('script-run');
  const dry = runCleanup(['--dry-run'], { DATABASE_URL: stack.databaseUrl });
  assert.equal(dry.code, 0, dry.out);
  assert.match(dry.out, /Dry run on postgres:\/\/memorychat:\*\*\*@/);
  assert.match(dry.out, new RegExp(`run script-run: would remove ${ROWS}`));
  assert.doesNotMatch(dry.out, new RegExp(new URL(stack.databaseUrl).password));
  const real = runCleanup([], { DATABASE_URL: stack.databaseUrl });
  assert.equal(real.code, 0, real.out);
  assert.match(real.out, /run script-run: removed /);
  assert.match(runCleanup([], { DATABASE_URL: stack.databaseUrl }).out, /Nothing to remove/);

  await pool.query('CREATE DATABASE memorychat_app');
  const refused = runCleanup([], { DATABASE_URL: databaseUrlOf(stack.databaseUrl, 'memorychat_app') });
  assert.equal(refused.code, 1);
  assert.match(refused.out, /Refusing to seed or delete rows: database "memorychat_app".*PERF_ALLOW_SEED=1/);

  const unset = runCleanup([], {});
  assert.equal(unset.code, 2);
  assert.match(unset.out, /DATABASE_URL is not set: set it to the database the suite seeded/);
  assert.equal(runCleanup(['--force'], {}).code, 2);
});

void test('a run id another live run holds is refused; a silent one is taken over', async () => {
  const first = await registerRun(stack.databaseUrl, 'same-id', false, 60_000);
  try {
    await pool.query(`UPDATE ${RUNS_TABLE} SET pid = pid + 1 WHERE run_id = 'same-id'`); // as another process
    await assert.rejects(
      registerRun(stack.databaseUrl, 'same-id', false),
      /run id same-id is in use by another run in progress \(host .*, pid \d+\).*Unset PERF_RUN_ID/,
    );
    // Silent for longer than a live run ever is: a dead run's registration, taken over.
    await pool.query(`UPDATE ${RUNS_TABLE} SET heartbeat_at = now() - interval '10 minutes' WHERE run_id = 'same-id'`);
    const second = await registerRun(stack.databaseUrl, 'same-id', false);
    await second.stop();
  } finally {
    await first.stop();
  }
});

void test('a reserved run (a load running elsewhere) is left alone until named; --run removes it', async () => {
  await reserveRun(stack.databaseUrl, 'fargate-1', false, 60 * 60_000);
  await plantRun('fargate-1');
  await plantRun('other-old');
  const swept = await sweepLeftovers(pool, { allowSeed: false });
  assert.ok(swept.live.includes('fargate-1'), 'reserved for an hour: in progress');
  assert.ok(!swept.removed.some((r) => r.runId === 'fargate-1'));
  await assert.rejects(reserveRun(stack.databaseUrl, 'fargate-1', false, 1000), /already registered/);

  await plantRun('other-old-2');
  const r = runCleanup(['--run', 'fargate-1'], { DATABASE_URL: stack.databaseUrl });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /only run fargate-1, in progress or not/);
  assert.match(r.out, /run fargate-1: removed .*users 1/);
  const left = await pool.query<{ email: string }>(`SELECT email FROM users WHERE email LIKE 'perf+%' ORDER BY 1`);
  const runs = new Set(left.rows.map((u) => runIdOfEmail(u.email)));
  assert.ok(!runs.has('fargate-1'), 'the named run is gone');
  assert.ok(runs.has('other-old-2'), 'runs not named are left alone');
  const reg = await pool.query(`SELECT 1 FROM ${RUNS_TABLE} WHERE run_id = 'fargate-1'`);
  assert.equal(reg.rowCount, 0, 'and its reservation');
  assert.equal(runCleanup(['--run'], { DATABASE_URL: stack.databaseUrl }).code, 2, 'a --run without an id');
  assert.equal(runCleanup(['--run', 'fargate-…'], { DATABASE_URL: stack.databaseUrl }).code, 2, 'not a run id');
  const gone = runCleanup(['--run', 'fargate-1'], { DATABASE_URL: stack.databaseUrl });
  assert.equal(gone.code, 1, 'a named run with nothing left');
  assert.match(gone.out, /run fargate-1: nothing found/);
});
