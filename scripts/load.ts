/**
 * `npm run load`: how many people can chat at once (load/orchestrate.ts; docs/load.md).
 * Configuration (.env included) is read by lib/run/config.ts and load/config.ts.
 *
 *   npm run load                          the stepped ramp against the bundled stack, or BASE_URL
 *                                         (another machine's only with LOAD_ALLOW_REMOTE=1)
 *   npm run load -- --fargate-users <N>   seed N users of a deployment for `artillery run-fargate`
 */
import { prepareFargate } from '../load/fargate';
import { runLoad } from '../load/orchestrate';

const USAGE = 'usage: npm run load [-- --fargate-users <N>]';

function main(argv: string[]): Promise<number> {
  if (argv.length === 0) return runLoad();
  if (argv[0] === '--help' || argv[0] === '-h') {
    console.log(USAGE);
    return Promise.resolve(0);
  }
  const n = Number(argv[1]);
  const validN = Number.isInteger(n) && n >= 1 && n <= 10_000;
  if (argv[0] === '--fargate-users' && argv.length === 2 && validN) return prepareFargate(n);
  console.error(`load: unknown arguments "${argv.join(' ')}"\n${USAGE} (N: 1..10000)`);
  return Promise.resolve(2);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`load: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
