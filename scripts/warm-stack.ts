/**
 * `npm run setup`'s warm-up of the bundled stack (scripts/setup.mjs): starts it once through the
 * suite's own launcher (lib/run/stack-process.ts) until it prints its URLs, then stops it. Its
 * first start builds the cached initdb (app/db/pg-template.ts), which the first timed run would
 * otherwise build on the clock. Exit code 0, or 1 with the launcher's message.
 */
import path from 'node:path';
import { startStackProcess } from '../lib/run/stack-process';

/**
 * The bundled stack whatever the shell or .env says: its own embedded database (a DATABASE_URL
 * there must never see its migrations), simulator and port. Empty values shadow .env (dotenv
 * keeps what is set) and mean "unset" to the app.
 */
const BUNDLED_ONLY = { DATABASE_URL: '', OPENAI_API_KEY: '', OPENAI_BASE_URL: '', PORT: '', MEMORYCHAT_FAULTS: '' };

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..');
  const stack = await startStackProcess({
    cwd: root,
    env: { ...process.env, ...BUNDLED_ONLY },
    // Beside the template it builds; gone with `npm ci`, as the template is.
    logFile: path.join(root, 'node_modules', '.cache', 'memorychat', 'setup-stack.log'),
    startTimeoutMs: 120_000,
  });
  await stack.stop();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
