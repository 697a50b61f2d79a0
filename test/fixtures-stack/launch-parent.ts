/**
 * A throw-away parent for test/unit/stack-lifetime.test.ts: starts the bundled stack the way
 * global setup does (lib/run/stack-process.ts), prints `STACK_PID=<pid>` once it is ready, and then
 * idles until the test kills it (with SIGKILL: none of its exit handlers run).
 *
 *   node --import tsx test/fixtures-stack/launch-parent.ts <log file>
 */
import path from 'node:path';
import { startStackProcess } from '../../lib/run/stack-process';

async function main(): Promise<void> {
  const logFile = process.argv[2];
  if (!logFile) throw new Error('usage: launch-parent.ts <log file>');
  const stack = await startStackProcess({
    cwd: path.resolve(__dirname, '..', '..'),
    env: { ...process.env, MODEL_SIM_LATENCY: 'instant', DATABASE_URL: '', OPENAI_API_KEY: '', BASE_URL: '' },
    logFile,
  });
  process.stdout.write(`STACK_PID=${stack.pid}\n`);
  setInterval(() => undefined, 60_000);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
