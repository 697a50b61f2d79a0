/**
 * Runs the model simulator alone: `tsx app/model-sim/cli.ts` prints `OPENAI_BASE_URL=...`.
 * Env: PORT (default free), HOST (default 127.0.0.1), MODEL_SIM_LATENCY (instant|realistic|slow,
 * default realistic), MODEL_SIM_SEED (default 42), MODEL_SIM_WARM_MODELS (comma list of models whose
 * tokenizers are built right after it reports ready; default: every tokenizer), MODEL_SIM_EXIT_WITH_STDIN=1
 * (exit when stdin closes; set by spawn.ts). Ctrl-C / SIGTERM stops it.
 */
import { isLatencyProfile, LATENCY_PROFILES } from './latency';
import { startModelSimulator } from './index';

function fail(message: string): never {
  process.stderr.write(`model-sim: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  const latency = process.env.MODEL_SIM_LATENCY ?? 'realistic';
  if (!isLatencyProfile(latency))
    fail(`MODEL_SIM_LATENCY="${latency}" is not a profile; use one of ${LATENCY_PROFILES.join(', ')}.`);
  const port = process.env.PORT ? Number(process.env.PORT) : 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    fail(`PORT="${process.env.PORT}" is not a port number (0–65535).`);
  const seed = process.env.MODEL_SIM_SEED ? Number(process.env.MODEL_SIM_SEED) : 42;
  if (!Number.isInteger(seed)) fail(`MODEL_SIM_SEED="${process.env.MODEL_SIM_SEED}" is not an integer.`);

  const warmModels = process.env.MODEL_SIM_WARM_MODELS?.split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  const sim = await startModelSimulator({
    port,
    host: process.env.HOST ?? '127.0.0.1',
    latency,
    seed,
    warmTokenizers: warmModels?.length ? warmModels : true,
  });
  // Ready once it listens: the tokenizers are built right after (~0.5 s each); a request in that
  // window waits for them, and other encodings are built on first use.
  process.stdout.write(`OPENAI_BASE_URL=${sim.url}\n`);
  process.stderr.write(`model simulator listening (latency ${latency}, seed ${seed}); Ctrl-C to stop\n`);
  const warmStart = performance.now();
  void sim.tokenizersReady.then(() => {
    process.stderr.write(
      `model simulator tokenizers built in ${Math.round(performance.now() - warmStart)} ms, after ready\n`,
    );
  });
  const stop = (): void => {
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (process.env.MODEL_SIM_EXIT_WITH_STDIN === '1') {
    // Started by spawnModelSimulator: the parent holds our stdin; when it goes away, so do we.
    process.stdin.on('end', stop).on('close', stop).resume();
  }
}

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
