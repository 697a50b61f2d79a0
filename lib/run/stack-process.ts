/**
 * Starts the bundled MemoryChat stack (app/stack.ts, with the node flags the app asks for) as a
 * child process, the way it runs in production: its own event loop, so the suite's work never
 * shares a loop with the app's.
 *
 * Protocol (app/stack.ts): once ready the stack prints BASE_URL=, DATABASE_URL=, OPENAI_BASE_URL=
 * and STACK_READY_MS= lines on stdout; logs go to stderr. We parse stdout with a start-up
 * timeout, copy stderr (redacted) into a log file, and stop the whole process group (node,
 * postgres, model simulator) on stop(), on our own exit and on Ctrl-C.
 *
 * Lifetime: the stack's stdin is a pipe from this process that we never write to nor close.
 * When this process dies, however it dies (`kill -9` runs none of our handlers), the kernel
 * closes our end; the stack sees end-of-file and stops PostgreSQL and the simulator and deletes
 * its data directory (MEMORYCHAT_EXIT_WITH_STDIN=1, app/stack.ts).
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { redact } from '../redact';
import { prepareAppBundle } from './app-bundle';
import { signalGroup } from './process-group';

export interface StackUrls {
  baseUrl: string;
  databaseUrl: string;
  openaiBaseUrl: string;
  readyMs: number;
}

export interface StackProcess extends StackUrls {
  pid: number;
  logFile: string;
  stop(): Promise<void>;
}

export interface StartStackOptions {
  /** Project root (where node_modules/.bin/tsx and app/stack.ts live). */
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** stderr (and non-protocol stdout) goes here, redacted. */
  logFile: string;
  /** Give up when the ready lines have not arrived by then. Default 60 s. */
  startTimeoutMs?: number;
  /** Grace period for a clean shutdown before SIGKILL. Default 10 s. */
  stopTimeoutMs?: number;
}

const KEYS = ['BASE_URL', 'DATABASE_URL', 'OPENAI_BASE_URL', 'STACK_READY_MS'] as const;
type Key = (typeof KEYS)[number];
const TAIL_LINES = 15;
/** How app/stack.ts says why it did not start (its last words on stderr). */
const STACK_FAILED = /^MemoryChat stack failed to start: (.+)$/;

export class StackStartError extends Error {
  override name = 'StackStartError';
}

/** Parses one protocol line (`KEY=value`); other lines → undefined. */
export function parseStackLine(line: string): { key: Key; value: string } | undefined {
  const m = /^([A-Z_]+)=(.+)$/.exec(line.trim());
  if (!m) return undefined;
  const key = m[1] as Key;
  return KEYS.includes(key) ? { key, value: m[2] as string } : undefined;
}

/** Where the app lists the node flags its process runs with (see appNodeFlags). */
export const APP_NODE_FLAGS_FILE = path.join('app', 'node-flags.json');

/**
 * The node flags the app asks for (`flags` in app/node-flags.json), e.g. its garbage collector's
 * young generation's size: the app's own runtime settings, as `npm run stack` applies them. A
 * checkout without the file (compare mode's base arm at an older ref) runs with none, as it did.
 */
export function appNodeFlags(cwd: string): string[] {
  const file = path.join(cwd, APP_NODE_FLAGS_FILE);
  if (!existsSync(file)) return [];
  const fix = `fix ${file} (an object with "flags": ["--flag=value", ...]) or restore it from git`;
  let flags: unknown;
  try {
    flags = (JSON.parse(readFileSync(file, 'utf8')) as { flags?: unknown } | null)?.flags;
  } catch (err) {
    throw new StackStartError(`${APP_NODE_FLAGS_FILE} cannot be read (${(err as Error).message}): ${fix}`);
  }
  if (!Array.isArray(flags)) throw new StackStartError(`${APP_NODE_FLAGS_FILE} has no list under "flags": ${fix}`);
  // One flag per entry, each a real option: "--" alone would make node take `--import` as the script.
  const bad: unknown = (flags as unknown[]).find((f) => typeof f !== 'string' || !/^--[^\s=-][^\s]*$/.test(f));
  if (bad !== undefined)
    throw new StackStartError(
      `${APP_NODE_FLAGS_FILE}: ${JSON.stringify(bad)} is not a node flag like "--name=value": ${fix}`,
    );
  return flags as string[];
}

/**
 * How node runs the app: its prebuilt bundle (lib/run/app-bundle.ts), or else app/stack.ts through
 * tsx (`node --import tsx`, not the tsx binary: no wrapper process between us and the stack).
 */
async function appEntry(
  cwd: string,
  log: (line: string) => void,
): Promise<{ args: string[]; modelSimulator?: string }> {
  try {
    const bundle = await prepareAppBundle(cwd, log);
    log(`app: ${path.relative(cwd, bundle.stack)} (prebuilt bundle)`);
    return { args: ['--enable-source-maps', bundle.stack], modelSimulator: bundle.modelSimulator };
  } catch (err) {
    log(`app bundle not used (${(err as Error).message}): app/stack.ts runs through tsx`);
    return { args: ['--import', 'tsx', 'app/stack.ts'] };
  }
}

export async function startStackProcess(opts: StartStackOptions): Promise<StackProcess> {
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  const stopTimeoutMs = opts.stopTimeoutMs ?? 10_000;
  const nodeFlags = appNodeFlags(opts.cwd);
  mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const log: WriteStream = createWriteStream(opts.logFile, { flags: 'w' });
  const tail: string[] = [];
  const logLine = (source: string, line: string): void => {
    const safe = redact(line);
    log.write(`${source} ${safe}\n`);
    tail.push(safe);
    if (tail.length > TAIL_LINES) tail.shift();
  };

  const env: NodeJS.ProcessEnv = { ...opts.env, FORCE_COLOR: '0', MEMORYCHAT_EXIT_WITH_STDIN: '1' };
  delete env.BASE_URL; // the stack must not think it is pointed elsewhere
  delete env.MEMORYCHAT_MODEL_SIM_BUNDLE; // set below, for this checkout's bundle only
  const entry = await appEntry(opts.cwd, (line) => logLine('[launcher]', line));
  if (entry.modelSimulator) env.MEMORYCHAT_MODEL_SIM_BUNDLE = entry.modelSimulator;
  const child = spawn(process.execPath, [...nodeFlags, ...entry.args], {
    cwd: opts.cwd,
    env,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // The lifeline pipe (see the header): never written, never ended by us.
  child.stdin?.on('error', () => undefined);

  // 'close', not 'exit': 'exit' can fire while stdout/stderr still hold unread output, and the
  // log stream is ended once this settles; 'close' comes after both pipes are drained.
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('close', () => {
      exited = true;
      resolve();
    });
  });
  // Never leave a stack behind: our exit, Ctrl-C or a kill of the runner stops the group.
  const onExit = (): void => signalGroup(child, 'SIGTERM');
  const onSignal = (): void => signalGroup(child, 'SIGTERM');
  process.once('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const unhook = (): void => {
    process.removeListener('exit', onExit);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };

  const stop = async (): Promise<void> => {
    if (!exited) {
      signalGroup(child, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        exitPromise.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), stopTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        signalGroup(child, 'SIGKILL');
        await Promise.race([exitPromise, new Promise((r) => setTimeout(r, 2_000))]);
      }
    }
    unhook();
    await new Promise<void>((resolve) => log.end(resolve));
  };

  const values: Partial<Record<Key, string>> = {};
  const ready = new Promise<StackUrls>((resolve, reject) => {
    const fail = (reason: string): void => {
      const last = tail.length > 0 ? `\n  last log lines:\n    ${tail.slice(-8).join('\n    ')}` : '';
      reject(new StackStartError(`The bundled stack (app/stack.ts) ${reason}. Full log: ${opts.logFile}${last}`));
    };
    const timer = setTimeout(() => fail(`did not print its URLs within ${startTimeoutMs / 1000} s`), startTimeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      fail(`could not be started (${err.message}); is node_modules installed (npm ci)?`);
    });
    // 'close' too, so the last stderr lines (usually the reason) are in the tail we show.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const how = signal ? `signal ${signal}` : `exit code ${code}`;
      // The stack's own one-line reason, first: reports show an error's first line.
      const said = tail.map((line) => STACK_FAILED.exec(line)?.[1]).findLast((reason) => reason !== undefined);
      fail(said ? `could not start (${how}): ${said}` : `exited before it was ready (${how})`);
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const parsed = parseStackLine(line);
      if (!parsed) {
        logLine('[stdout]', line);
        return;
      }
      values[parsed.key] = parsed.value;
      logLine('[stdout]', line);
      if (KEYS.every((k) => values[k] !== undefined)) {
        clearTimeout(timer);
        resolve({
          baseUrl: (values.BASE_URL as string).replace(/\/+$/, ''),
          databaseUrl: values.DATABASE_URL as string,
          openaiBaseUrl: (values.OPENAI_BASE_URL as string).replace(/\/+$/, ''),
          readyMs: Number(values.STACK_READY_MS),
        });
      }
    });
    createInterface({ input: child.stderr }).on('line', (line) => logLine('[stderr]', line));
  });

  try {
    const urls = await ready;
    return { ...urls, pid: child.pid ?? -1, logFile: opts.logFile, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
