/**
 * `npm run cleanup [-- --dry-run]`: removes every row that earlier suite runs left in the
 * DATABASE_URL database (users `perf+<run>.…@memorychat.test` and everything of theirs), leaves
 * runs still in progress alone, and prints what it removed per run and table.
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

const USAGE = 'usage: npm run cleanup [-- --dry-run]';

async function main(argv: string[]): Promise<number> {
  const unknown = argv.filter((a) => a !== '--dry-run');
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  if (unknown.length > 0) {
    console.error(`unknown argument(s): ${unknown.join(' ')}\n${USAGE}`);
    return 2;
  }
  const dryRun = argv.includes('--dry-run');
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
    const result = await sweepLeftovers(pool, { allowSeed: config.allowSeed, dryRun });
    console.log(
      `${dryRun ? 'Dry run on' : 'Cleaned'} ${redactUrl(config.databaseUrl)} ` +
        `(a run counts as in progress with a heartbeat in the last ${LIVE_WITHIN_MS / 60_000} minutes):`,
    );
    console.log(describeSweep(result));
    return 0;
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
