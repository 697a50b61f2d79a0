/**
 * `npm run load -- --fargate-users N`: prepares the same scenarios for `artillery run-fargate`,
 * which runs load/chat.yml on N AWS Fargate containers at once (Artillery merges their metrics).
 * A load test from this machine cannot use it (no AWS account, no route to the internet); a team
 * with one runs the printed command against a reachable deployment.
 *
 * What it does: seeds N users with memories in the deployment's (test) database through the
 * suite's seeder, writes their tokens to load/users.csv (git-ignored, readable by you only: the
 * payload run-fargate uploads with the script), and prints the command. No process here lives
 * through that load, so the run is reserved as in progress for FARGATE_RESERVATION_MS instead of
 * kept alive by a heartbeat: a cleanup elsewhere meanwhile leaves its users alone, and
 * `npm run cleanup -- --run <id>` removes them when the load is done.
 */
import path from 'node:path';
import { loadConfig, REPO_ROOT } from '../lib/run/config';
import { redactUrl } from '../lib/redact';
import { createPool } from '../clients/db';
import { reserveRun } from '../clients/runs';
import { target } from '../clients/target';
import { loadLoadConfig } from './config';
import { newRunId, seedUsers, writeUsersFile } from './orchestrate';

const FARGATE_USERS_FILE = path.join(REPO_ROOT, 'load', 'users.csv');
/** How long the seeded users count as in progress: time to start and run the Fargate load. */
const FARGATE_RESERVATION_MS = 6 * 60 * 60_000;

export async function prepareFargate(users: number): Promise<number> {
  const perf = loadConfig();
  const cfg = loadLoadConfig();
  if (!perf.baseUrl || !perf.databaseUrl) {
    console.error(
      'load --fargate-users: set BASE_URL (a deployment the Fargate containers can reach) ' +
        'and DATABASE_URL (its test database).',
    );
    return 2;
  }
  const runId = newRunId('fargate');
  // Before the first row: a cleanup elsewhere must never take this run for a killed one.
  await reserveRun(perf.databaseUrl, runId, perf.allowSeed, FARGATE_RESERVATION_MS);
  const pool = createPool(perf.databaseUrl, { max: 3 });
  try {
    const seeder = target.seeder(pool, { runId, tag: 'load', allowSeed: perf.allowSeed });
    writeUsersFile(FARGATE_USERS_FILE, await seedUsers(seeder, pool, users, cfg.memoriesPerUser));
  } catch (err) {
    console.error(`load: seeding run ${runId} failed; remove what it seeded with: npm run cleanup -- --run ${runId}`);
    throw err;
  } finally {
    await pool.end().catch(() => undefined);
  }
  const db = redactUrl(perf.databaseUrl);
  console.log(`load: seeded ${users} users (run ${runId}) in ${db}; tokens in load/users.csv (git-ignored).`);
  console.log(
    `They count as in progress for ${FARGATE_RESERVATION_MS / 3_600_000} hours: npm run cleanup leaves them alone ` +
      'until then.',
  );
  console.log('Run the API users on 4 Fargate containers (each runs the whole phase: 4 × 50 = 200 users),');
  console.log('then remove the users:');
  console.log(`  npx artillery run-fargate --count 4 --region eu-west-1 --target ${perf.baseUrl} \\`);
  const overrides = '{"config":{"phases":[{"duration":10,"arrivalCount":50}],"variables":{"turns":3,"thinkMs":2000}}}';
  console.log(`    --overrides '${overrides}' \\`);
  console.log('    --output load-fargate.json load/chat.yml');
  console.log(`  npm run cleanup -- --run ${runId}`);
  return 0;
}
