/**
 * `npm run cleanup [-- --dry-run] [--run <id>…]`: removes every row that earlier suite runs left
 * in the DATABASE_URL database (users `perf+<run>.…@memorychat.test` and everything of theirs),
 * leaves runs still in progress alone, and prints what it removed per run and table. With
 * `--run`, only the runs named, in progress or not (e.g. the users reserved for a Fargate load).
 * The same guard as seeding: a database that is not a test database is refused unless
 * PERF_ALLOW_SEED=1. See clients/runs.ts for how "in progress" is decided.
 *
 * Exit code 0 when done (also when there was nothing to remove), 1 on a refusal or error,
 * 2 on bad arguments or configuration.
 */
import { ConfigError, loadConfig, type PerfConfig } from '../lib/run/config';
import { redact, redactUrl } from '../lib/redact';
import { createPool, DatabaseRefusedError, describeDbError } from '../clients/db';
import { describeSweep, LIVE_WITHIN_MS, sweepLeftovers } from '../clients/runs';
import { RUN_ID } from '../data/seed';

const USAGE = 'usage: npm run cleanup [-- --dry-run] [--run <run id> …]';

/** `--dry-run` and any number of `--run <id>` / `--run=<id>`; undefined on anything else. */
function parseArgs(argv: string[]): { dryRun: boolean; runs: string[] } | undefined {
  const runs: string[] = [];
  let dryRun = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--dry-run') dryRun = true;
    else if (a.startsWith('--run=')) runs.push(a.slice('--run='.length));
    else if (a === '--run' && i + 1 < argv.length) runs.push(argv[++i] as string);
    else return undefined;
  }
  // A run id as the suite makes them (it goes into e-mails): a typo or a `…` from the docs is refused.
  return runs.every((id) => RUN_ID.test(id)) ? { dryRun, runs } : undefined;
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const args = parseArgs(argv);
  if (!args) {
    console.error(`bad arguments: ${redact(argv.join(' '))}\n${USAGE} (a run id: letters, digits and dashes)`);
    return 2;
  }
  const { dryRun, runs } = args;
  let config: PerfConfig;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : String(err));
    return 2;
  }
  if (!config.databaseUrl) {
    console.error(
      'DATABASE_URL is not set: set it to the database the suite seeded ' +
        '(postgres://user:password@host:5432/db), e.g. DATABASE_URL=postgres://… npm run cleanup. ' +
        "(The bundled stack's embedded database is deleted at exit; it needs no cleanup.)",
    );
    return 2;
  }
  const pool = createPool(config.databaseUrl, { max: 2 });
  try {
    const result = await sweepLeftovers(pool, {
      allowSeed: config.allowSeed,
      dryRun,
      ...(runs.length > 0 ? { runs } : {}),
    });
    const which =
      runs.length > 0
        ? `only run ${runs.join(', ')}, in progress or not`
        : `a run counts as in progress with a heartbeat in the last ${LIVE_WITHIN_MS / 60_000} minutes`;
    console.log(`${dryRun ? 'Dry run on' : 'Cleaned'} ${redactUrl(config.databaseUrl)} (${which}):`);
    console.log(describeSweep(result));
    // A named run with neither rows nor a registration: most likely a mistyped id, not "done".
    const found = new Set([...result.removed.map((r) => r.runId), ...result.staleRegistrations]);
    const missing = runs.filter((id) => !found.has(id));
    for (const id of missing) console.error(`run ${id}: nothing found (check the id npm run load printed)`);
    return missing.length > 0 ? 1 : 0;
  } catch (err) {
    console.error(err instanceof DatabaseRefusedError ? err.message : describeDbError(config.databaseUrl, err));
    return 1;
  } finally {
    await pool.end().catch(() => undefined);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(redact(err instanceof Error ? err.message : String(err)));
    process.exit(1);
  },
);
