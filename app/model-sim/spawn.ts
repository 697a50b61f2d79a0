/**
 * Runs the simulator in its own process (like a real remote model server), so token counting and
 * JSON work never share the app's event loop and cannot inflate the app's measured overhead.
 * Same result shape as `startModelSimulator`.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { LatencyProfileName } from './latency';

export interface SpawnedModelSimulator {
  url: string;
  pid: number;
  close(): Promise<void>;
}

export interface SpawnModelSimulatorOptions {
  port?: number;
  host?: string;
  latency?: LatencyProfileName;
  seed?: number;
  startTimeoutMs?: number;
  /**
   * Models whose tokenizers are built right after the simulator reports ready (default: all).
   * The stack names the models it uses: building an unused tokenizer would only cost CPU.
   */
  warmModels?: readonly string[];
}

export function spawnModelSimulator(opts: SpawnModelSimulatorOptions = {}): Promise<SpawnedModelSimulator> {
  const startTimeoutMs = opts.startTimeoutMs ?? 15_000;
  // A launcher that prebuilt this app (the suite's lib/run/app-bundle.ts) names the simulator's
  // bundle: plain node loads it faster than tsx compiles cli.ts and its modules.
  const bundle = process.env.MEMORYCHAT_MODEL_SIM_BUNDLE;
  const entry = bundle ? ['--enable-source-maps', bundle] : ['--import', 'tsx', path.join(__dirname, 'cli.ts')];
  const child = spawn(process.execPath, entry, {
    env: {
      ...process.env,
      PORT: String(opts.port ?? 0),
      HOST: opts.host ?? '127.0.0.1',
      MODEL_SIM_LATENCY: opts.latency ?? 'realistic',
      MODEL_SIM_SEED: String(opts.seed ?? 42),
      MODEL_SIM_WARM_MODELS: opts.warmModels?.join(',') ?? '',
      // The child exits when this pipe closes, so it never outlives a crashed parent.
      MODEL_SIM_EXIT_WITH_STDIN: '1',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });

  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(killer);
  };

  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      void close();
      reject(new Error(`Model simulator did not start within ${startTimeoutMs} ms. Its stderr:\n${stderr}`));
    }, startTimeoutMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      const match = /^OPENAI_BASE_URL=(\S+)$/m.exec(stdout);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({ url: match[1], pid: child.pid ?? -1, close });
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(
          `Model simulator exited before it was ready (code ${code}, signal ${signal}). Its stderr:\n${stderr}`,
        ),
      );
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`Cannot start the model simulator process: ${error.message}`));
    });
  });
}
