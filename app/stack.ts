/**
 * `npm run stack`: the whole reference target in one command: PostgreSQL (embedded, unless
 * DATABASE_URL), migrations, the model simulator (unless OPENAI_API_KEY) and the MemoryChat
 * server with its UI. Once ready it prints, on stdout, exactly:
 *
 *   BASE_URL=http://127.0.0.1:<port>
 *   DATABASE_URL=postgres://<user>:<password>@127.0.0.1:<port>/<db>
 *   OPENAI_BASE_URL=http://127.0.0.1:<port>/v1
 *   STACK_READY_MS=<ms>
 *   MemoryChat stack ready in <ms> ms (Ctrl-C to stop)
 *
 * Logs go to stderr. SIGINT/SIGTERM stop everything and delete the temporary data. With
 * MEMORYCHAT_EXIT_WITH_STDIN=1 (set by lib/stack-process.ts) the stack also stops when its
 * stdin closes: the parent holds the other end of that pipe, and the kernel closes it when the
 * parent dies for any reason, `kill -9` included, which no signal handler of the parent survives.
 * The CLI also stops when the process that started it is gone (e.g. `npm run stack`'s shell).
 * `startStack()` does the same in-process (unit tests, benchmarks).
 */
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChatSettings } from './agents/chat';
import { ConfigError, loadConfig, type AppConfig } from './config';
import { startEmbeddedPostgres, type EmbeddedDb, type PgStartStep } from './db/embedded';

// The heavy modules (pg pool, openai, zod, tokenizer) are imported inside startStack, once
// PostgreSQL's start-up runs in a child process: their load time then overlaps it.

const APP_VERSION = '0.1.0';
const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

export interface StartStackOptions {
  /** Environment to read (default process.env). */
  env?: Record<string, string | undefined>;
  /** Config values that win over the environment (tests: faults, timeouts, latency). */
  overrides?: Partial<AppConfig>;
  /** Log sink (default: stderr). */
  log?: (line: string) => void;
}

export interface RunningStack {
  baseUrl: string;
  databaseUrl: string;
  openaiBaseUrl: string;
  readyMs: number;
  config: AppConfig;
  stop(): Promise<void>;
}

/**
 * Masks the password of every connection URL in a text (a URL alone or an error message). The
 * password runs to the last `@` before a space, so a raw `@`, `/` or quote in it is masked whole;
 * a password given as a query parameter (`?password=…`, `sslpassword=…`) is masked too.
 */
export function redactDbUrl(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^/\s:@'"]*):\S*@/gi, '$1:***@')
    .replace(/([?&](?:ssl)?password=)[^&\s]*/gi, '$1***');
}

function listen(server: Server, port: number, host: string, explicit: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const inUse = explicit
        ? `PORT=${port} is already in use on ${host}; ` +
          'stop what uses it, choose another PORT, or unset PORT to get a free one'
        : `port ${port} is already in use on ${host}`;
      reject(err.code === 'EADDRINUSE' ? new Error(inUse) : err);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startStack(opts: StartStackOptions = {}): Promise<RunningStack> {
  const t0 = performance.now();
  const log = opts.log ?? ((line: string) => process.stderr.write(`[stack] ${line}\n`));
  const config: AppConfig = { ...loadConfig(opts.env ?? process.env), ...opts.overrides };
  const cleanups: (() => Promise<void>)[] = [];
  const beforeStop: (() => void)[] = [];
  const phases: string[] = [];
  const phase = (name: string): void => {
    phases.push(`${name} ${Math.round(performance.now() - t0)}`);
  };
  const stopAll = async (): Promise<void> => {
    for (const fn of beforeStop) fn();
    for (const fn of cleanups.splice(0).reverse())
      await fn().catch((err: unknown) => log(`cleanup: ${err instanceof Error ? err.message : String(err)}`));
  };

  try {
    // PostgreSQL and the model simulator start in child processes first. This thread loads its
    // modules while the data directory is copied, or postgres starts from a spare copy (capped
    // wait: a slow child never leaves this thread idle for long). The app's tokenizer loads with
    // its module (≈ 0.4 s of CPU) and is warmed right after the stack reports ready, see below.
    const dbSteps = new Map<PgStartStep, () => void>();
    const dbStep = (step: PgStartStep): Promise<void> =>
      new Promise((resolve) => {
        dbSteps.set(step, resolve);
      });
    const dbCopying = dbStep('copy');
    const dbInitdb = dbStep('initdb');
    // Started from a spare (no copy): postgres itself is the first busy child.
    const dbPostgres = dbStep('postgres');
    const dbStart = config.databaseUrl
      ? Promise.resolve<EmbeddedDb | undefined>(undefined)
      : startEmbeddedPostgres(log, (step) => dbSteps.get(step)?.());
    // Failures are collected below (allSettled); this only keeps an early one from counting as unhandled.
    dbStart.catch(() => undefined);
    const dbSettled = dbStart.then(
      () => undefined,
      () => undefined,
    );
    // The simulator runs in its own process, like a remote model server: its token counting and
    // streaming must not share the app's event loop, or they would inflate the app overhead we measure.
    // It builds the tokenizers of the models this app uses right after it reports ready.
    const { spawnModelSimulator } = await import('./model-sim/spawn');
    const simStart = config.openaiApiKey
      ? Promise.resolve(undefined)
      : spawnModelSimulator({
          latency: config.modelSimLatency,
          warmModels: [config.conversationModel, config.smallModel],
        });
    simStart.catch(() => undefined);
    // Which child finished when (in the phases log line): the slower one is the next thing to speed up.
    void dbStart.then(
      () => phase('db up'),
      () => undefined,
    );
    void simStart.then(
      () => phase('sim up'),
      () => undefined,
    );
    const external = config.databaseUrl !== undefined;
    if (!external) await Promise.race([dbCopying, dbInitdb, dbPostgres, dbSettled, delay(400)]);
    phase('db child running');
    const [
      { Db },
      { migrate, createMarker },
      { ModelClient },
      { createAppServer },
      tokens,
      { AuthCache, listenForUserChanges },
      { ImportSettler },
      { startEventLoopProbe, simulatorEventLoop },
    ] = await Promise.all([
      import('./db/db'),
      import('./db/migrate'),
      import('./agents/model'),
      import('./server/app'),
      import('./agents/tokens'),
      import('./server/auth-cache'),
      import('./db/import-settler'),
      import('./server/event-loop'),
    ]);
    phase('modules');
    const [embedded, sim] = await Promise.allSettled([dbStart, simStart]).then((results) => {
      const [e, s] = results;
      if (e.status === 'fulfilled' && e.value) cleanups.push(() => e.value!.stop());
      if (s.status === 'fulfilled' && s.value) cleanups.push(() => s.value!.close());
      for (const r of results) if (r.status === 'rejected') throw r.reason;
      return [e.status === 'fulfilled' ? e.value : undefined, s.status === 'fulfilled' ? s.value : undefined] as const;
    });
    const databaseUrl = config.databaseUrl ?? embedded?.url;
    if (!databaseUrl) throw new Error('no database URL');

    phase('db+sim up');
    const db = new Db(databaseUrl, {
      statementTimeoutMs: config.dbStatementTimeoutMs,
      queryTimeoutMs: config.dbQueryTimeoutMs,
    });
    cleanups.push(() => db.close());
    beforeStop.push(() => db.markClosing());
    try {
      await db.query('SELECT 1');
    } catch (err) {
      throw new Error(
        `cannot connect to the database at ${redactDbUrl(databaseUrl)} (${(err as Error).message}); ` +
          'check DATABASE_URL or unset it to use an embedded PostgreSQL',
      );
    }
    const { schemaVersion, applied } = await migrate(db, {
      missingIndexes: config.faults.includes('missing-indexes'),
      log,
    });
    phase('migrated');
    if (applied.length > 0) log(`migrations applied: ${applied.join(', ')} (schema version ${schemaVersion})`);
    // Open a few connections now so the first requests don't pay for connection set-up.
    // allSettled: a failed connect must not leave the others checked out (pool.end() would wait forever).
    const warm = await Promise.allSettled(Array.from({ length: 4 }, () => db.pool.connect()));
    for (const w of warm) if (w.status === 'fulfilled') w.value.release();
    const refused = warm.find((w): w is PromiseRejectedResult => w.status === 'rejected');
    if (refused) throw refused.reason;
    // After the migrations: the trigger that announces deleted users exists now.
    const authCache = new AuthCache();
    const userChanges = listenForUserChanges(databaseUrl, authCache, log);
    cleanups.push(() => userChanges.stop());
    await userChanges.ready;
    if (embedded || config.markTestDatabase) await createMarker(db);

    const eventLoop = startEventLoopProbe();
    cleanups.push(() => Promise.resolve(eventLoop.stop()));
    const openaiBaseUrl = sim?.url ?? config.openaiBaseUrl ?? OPENAI_DEFAULT_BASE_URL;
    const model = new ModelClient({
      apiKey: config.openaiApiKey ?? 'sk-simulator',
      baseURL: openaiBaseUrl,
      simulator: sim !== undefined,
      faults: config.faults,
      faultMs: config.faultMs,
      timeoutMs: config.modelTimeoutMs,
      errorRate: config.modelErrorRate,
    });
    const settings: ChatSettings = {
      tokenBudget: config.tokenBudget,
      conversationModel: config.conversationModel,
      smallModel: config.smallModel,
      summaryEvery: config.summaryEvery,
      faults: config.faults,
      faultMs: config.faultMs,
    };
    const server = createAppServer(
      {
        db,
        authCache,
        settler: new ImportSettler(db, log),
        eventLoop: {
          app: eventLoop,
          modelSimulator: sim ? simulatorEventLoop(sim.url, 'sk-simulator') : null,
        },
        model,
        settings,
        health: {
          app: 'memorychat',
          version: APP_VERSION,
          models: {
            conversation: config.conversationModel,
            memory_extractor: config.smallModel,
            summarizer: config.smallModel,
          },
          tokenBudget: config.tokenBudget,
          faults: [...config.faults],
        },
      },
      log,
    );
    const port = await listen(server, config.port, config.host, config.portExplicit);
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const baseUrl = `http://${config.host}:${port}`;
    const readyMs = performance.now() - t0;
    phase('listening');
    // The tokenizer (≈ 0.5 s of CPU to load) is loaded after "ready", once nothing is asked of
    // the app: whoever started the stack checks it right away (the suite's set-up), and those
    // requests must not wait for it. A chat that comes first loads it itself.
    const tokenizerWarm = whenIdle(server, () => {
      const t = performance.now();
      tokens.tokenizer();
      log(`tokenizer built in ${Math.round(performance.now() - t)} ms, once idle after ready`);
    });
    cleanups.push(() => Promise.resolve(tokenizerWarm.cancel()));
    log(`start-up phases (ms since start): ${phases.join(', ')}`);
    if (config.faults.length > 0) log(`faults on: ${config.faults.join(', ')}`);
    const modelShown = sim ? `simulator (${config.modelSimLatency})` : openaiBaseUrl;
    log(`app ${baseUrl}, model ${modelShown}, database ${redactDbUrl(databaseUrl)}`);
    let stopped: Promise<void> | undefined;
    return {
      baseUrl,
      databaseUrl,
      openaiBaseUrl,
      readyMs,
      config,
      stop: () => (stopped ??= stopAll()),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * Runs `work` once `server` has no request in flight and has had none for `quietMs`, or after
 * `maxWaitMs` at the latest: CPU-heavy warming that must not hold up the first requests.
 */
function whenIdle(server: Server, work: () => void, quietMs = 150, maxWaitMs = 3_000): { cancel(): void } {
  const started = performance.now();
  let lastActivity = started;
  let inFlight = 0;
  const onRequest = (_req: unknown, res: ServerResponse): void => {
    inFlight += 1;
    lastActivity = performance.now();
    res.once('close', () => {
      inFlight -= 1;
      lastActivity = performance.now();
    });
  };
  server.on('request', onRequest);
  const cancel = (): void => {
    clearInterval(timer);
    server.off('request', onRequest);
  };
  const timer = setInterval(() => {
    const now = performance.now();
    if ((inFlight === 0 && now - lastActivity >= quietMs) || now - started >= maxWaitMs) {
      cancel();
      work();
    }
  }, 25);
  timer.unref();
  return { cancel };
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** How often the CLI checks that the process that started it is still there. */
const PARENT_CHECK_MS = 500;

/** The CLI: prints the machine-readable lines, then waits for a signal. */
async function main(): Promise<void> {
  const dotenv = await import('dotenv');
  dotenv.config({ quiet: true });
  // `stop` is set once the stack is up (stopping needs its handles).
  const lifeline: { parentGone?: string; stop?: (reason: string) => void } = {};
  // Watched from the start: a parent that dies during start-up is remembered, and the stack
  // stops as soon as it is up.
  const onParentGone = (why: string): void => {
    lifeline.parentGone ??= why;
    lifeline.stop?.(`parent process gone (${why})`);
  };
  if (process.env.MEMORYCHAT_EXIT_WITH_STDIN === '1') {
    const onStdinGone = (): void => onParentGone('stdin closed');
    process.stdin.on('end', onStdinGone).on('close', onStdinGone).on('error', onStdinGone).resume();
  }
  // `npm run stack` runs node under `sh -c`, which does not pass a signal on: a SIGTERM to npm
  // (`kill`, a supervisor, a CI step's timeout) ended npm and the shell and left this process,
  // PostgreSQL and the simulator running. An orphan is adopted by another process, so a changed
  // parent pid means ours is gone. (A terminal's Ctrl-C reaches the whole group anyway.)
  const parentAtStart = process.ppid;
  if (parentAtStart > 1) {
    setInterval(() => {
      if (process.ppid !== parentAtStart) onParentGone(`process ${parentAtStart} exited`);
    }, PARENT_CHECK_MS).unref();
  }
  let stack: RunningStack;
  try {
    stack = await startStack();
  } catch (err) {
    const message = err instanceof ConfigError || err instanceof Error ? err.message : String(err);
    process.stderr.write(`MemoryChat stack failed to start: ${redactDbUrl(message)}\n`);
    process.exit(1);
  }
  // Process-relative: includes Node/tsx start-up, which is what "npm run stack → ready" costs.
  const readyMs = Math.round(performance.now());
  process.stdout.write(
    `BASE_URL=${stack.baseUrl}\nDATABASE_URL=${stack.databaseUrl}\n` +
      `OPENAI_BASE_URL=${stack.openaiBaseUrl}\nSTACK_READY_MS=${readyMs}\n` +
      `MemoryChat stack ready in ${readyMs} ms (Ctrl-C to stop)\n`,
  );
  // A bug that escapes a request (a rejection nobody awaited, a throw in an event handler) is
  // logged; it must not take every other user's requests down with the process.
  process.on('unhandledRejection', (reason) => {
    const shown = reason instanceof Error ? (reason.stack ?? reason.message) : String(reason);
    process.stderr.write(`[stack] unhandled rejection (server stays up): ${shown}\n`);
  });
  process.on('uncaughtException', (err) => {
    process.stderr.write(`[stack] uncaught exception (server stays up): ${err.stack ?? err.message}\n`);
  });
  let stopping = false;
  const shutdown = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`[stack] ${reason}: stopping\n`);
    setTimeout(() => process.exit(1), 10_000).unref();
    stack.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  // A closed stdout/stderr (the parent died) must not crash the shutdown with EPIPE, nor feed
  // the uncaught-exception logger above an endless stream of its own write errors.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
  lifeline.stop = shutdown;
  if (lifeline.parentGone) shutdown(`parent process gone (${lifeline.parentGone})`);
}

if (require.main === module) void main();
