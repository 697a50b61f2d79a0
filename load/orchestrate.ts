/**
 * `npm run load`: how many people can chat at once (docs/load.md). One run opens the target
 * (lib/run/target.ts: the bundled stack unless BASE_URL is set; another machine's only with
 * LOAD_ALLOW_REMOTE=1), seeds one user per concurrent user
 * of the largest step (their bearer tokens go to a payload file in a private temp dir, never into
 * reports or logs), runs each step as its own Artillery run (load/chat.yml, load/browser.yml) while
 * the probes sample the target, stops at the first step that fails (load/capacity.ts), writes the
 * reports and cleans up (seeded rows, temp dir, stack), also on failure or Ctrl-C.
 *
 * Exit code: 0 when the capacity reaches LOAD_MIN_USERS, 1 otherwise (also when it could not
 * be measured), 130 on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  type WriteStream,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import type pg from 'pg';
import { CHROMIUM_FLAGS, detectChromium } from '../lib/run/browser';
import { ConfigError, loadConfig, REPO_ROOT, type PerfConfig } from '../lib/run/config';
import { round } from '../lib/verdict/numbers';
import { redact, redactUrl } from '../lib/redact';
import type { StackProcess } from '../lib/run/stack-process';
import { openTarget, type OpenTarget } from '../lib/run/target';
import { signalGroup } from '../lib/run/process-group';
import { createPool } from '../clients/db';
import { registerRun, type RunRegistration } from '../clients/runs';
import { target as targetAdapter, type SeededUser, type Seeder } from '../clients/target';
import { writeAllureLoad } from './allure';
import { figuresOf, readArtilleryReport, type ArtilleryReport } from './artillery-report';
import { checkMergedPercentiles } from './merge-check';
import { capacityOf, judgeStep, turnsPerUser } from './capacity';
import { CLIENT_TIMEOUT_MS } from './sse-timing';
import { LoadConfigError, loadLoadConfig, remoteTargetProblem, type LoadConfig } from './config';
import { statementSnapshot } from '../lib/figures/statements';
import { startCpuSampler, startDbSampler, startEventLoopSampler, statementGrowth } from './probes';
import { appLoopP99, limitsOf, renderLoadConsole, writeLoadReports, type LoadStage, type LoadSummary } from './summary';

const ARTILLERY_BIN = path.join(REPO_ROOT, 'node_modules', '.bin', 'artillery');
const TSX_BIN = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const WORKERS_RUNNER = path.join(REPO_ROOT, 'load', 'artillery-workers.ts');
const API_SCRIPT = path.join(REPO_ROOT, 'load', 'chat.yml');
const BROWSER_SCRIPT = path.join(REPO_ROOT, 'load', 'browser.yml');
/** Artillery's own start-up and shutdown (CLI, bundling the processor, workers) on top of a step. */
const ARTILLERY_OVERHEAD_S = 60;
/** A memory search's limit: Artillery's `http.timeout`, set for every run from here (apiOverrides). */
const SEARCH_TIMEOUT_S = 30;

/**
 * How long a turn that starts just before the step's deadline may still run: its chat, its memory
 * search and its think time (0.5–1.5 × LOAD_THINK_S). The deadline only stops new turns, and
 * Artillery writes its report only when every user is done: killed sooner, a step that ran into
 * its time limit would leave no report, and the run would lose the steps it had measured.
 */
function turnTailS(thinkS: number): number {
  return CLIENT_TIMEOUT_MS / 1000 + SEARCH_TIMEOUT_S + 1.5 * thinkS;
}

function artilleryVersion(): string {
  try {
    const file = path.join(REPO_ROOT, 'node_modules', 'artillery', 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** `load-20261127171132-7b20`: a run id the seeder's e-mails and the runs table accept. */
export function newRunId(prefix: string): string {
  return `${prefix}-${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}-${randomBytes(2).toString('hex')}`;
}

/** Everything the run must undo, in one place: the finally block and the signal handler share it. */
class Cleanup {
  stack: StackProcess | undefined;
  registration: RunRegistration | undefined;
  pool: pg.Pool | undefined;
  seeder: Seeder | undefined;
  tempDir: string | undefined;
  /** DATABASE_URL was given: the database outlives the run, also when the bundled stack used it. */
  persistentDatabase = false;
  readonly children = new Set<ChildProcess>();
  aborted = false;
  private done: Promise<void> | undefined;

  killChildren(): void {
    // Every group still open, also one whose leader exited while a worker holds its output.
    for (const child of this.children) signalGroup(child, 'SIGTERM', { evenIfLeaderExited: true });
    // A group that ignores SIGTERM (a browser mid-start) must not hold the run: SIGKILL after a grace.
    const left = [...this.children];
    if (left.length === 0) return;
    setTimeout(() => {
      for (const child of left)
        if (this.children.has(child)) signalGroup(child, 'SIGKILL', { evenIfLeaderExited: true });
    }, KILL_GRACE_MS).unref();
  }

  run(): Promise<void> {
    this.done ??= (async () => {
      this.killChildren();
      if (this.tempDir) rmSync(this.tempDir, { recursive: true, force: true });
      try {
        await this.seeder?.cleanup();
      } catch (err) {
        // The bundled stack's embedded database goes with the stack (on Ctrl-C it may already be
        // stopping); a given one stays, and so would the rows.
        if (!this.stack || this.persistentDatabase) {
          console.error(
            `load: removing the seeded users failed: ${redact((err as Error).message)}; ` +
              `\`npm run cleanup\` removes them (the users of run ${this.seeder?.runId ?? '?'})`,
          );
        }
      }
      await this.registration?.stop();
      await this.pool?.end().catch(() => undefined);
      await this.stack?.stop();
    })();
    return this.done;
  }
}

/** The target, opened and checked by the one target module (lib/run/target.ts), as the perf run does. */
async function startTarget(perf: PerfConfig, modelLatency: string, cleanup: Cleanup): Promise<OpenTarget> {
  const target = await openTarget({
    arm: 'candidate',
    baseUrl: perf.baseUrl,
    databaseUrl: perf.databaseUrl,
    openaiBaseUrl: perf.openaiBaseUrl,
    openaiApiKey: perf.openaiApiKey,
    allowSeed: perf.allowSeed,
    ...(perf.baseUrl
      ? {}
      : {
          bundled: {
            cwd: REPO_ROOT,
            env: { ...process.env, MODEL_SIM_LATENCY: modelLatency },
            logFile: path.join(perf.reportDir, 'load-stack.log'),
          },
        }),
  });
  cleanup.stack = target.stack;
  return target;
}

/**
 * `count` users with `memories` memories each, then VACUUM ANALYZE: many small loads stay below
 * the seeder's own settle threshold, and autovacuum and the GIN pending lists of the fresh
 * memories would otherwise be processed during the first step. Changes no data; best effort.
 */
export async function seedUsers(
  seeder: Seeder,
  pool: pg.Pool,
  count: number,
  memories: number,
  aborted: () => boolean = () => false,
): Promise<SeededUser[]> {
  const started = performance.now();
  const users: SeededUser[] = [];
  for (let i = 0; i < count; i++) {
    // Ctrl-C while seeding (minutes at 1,000 users): stop between users, not after all of them.
    if (aborted()) throw new Error(`stopped by a signal while seeding (${i} of ${count} users seeded)`);
    const user = await seeder.user({ displayName: `Load user ${i + 1}` });
    if (memories > 0) await seeder.memories(user, memories);
    users.push(user);
  }
  await pool.query('VACUUM (ANALYZE) users, profiles, memories, memory_terms').catch((err: unknown) => {
    console.log(`load: could not VACUUM ANALYZE after seeding (${redact((err as Error).message)}); measuring anyway`);
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`load: seeded ${count} users with ${memories} memories each in ${seconds} s`);
  return users;
}

/** A payload file Artillery reads: a header and one token per line; readable by this user only. */
export function writeUsersFile(file: string, users: readonly Pick<SeededUser, 'token'>[]): string {
  // Written beside and renamed over: `mode` applies only to a file the write creates, so an older
  // load/users.csv that others could read would otherwise keep its mode with the new tokens in it.
  const staging = `${file}.${process.pid}.tmp`;
  writeFileSync(staging, `token\n${users.map((u) => u.token).join('\n')}\n`, { mode: 0o600 });
  renameSync(staging, file);
  return file;
}

/** Environment of an Artillery child: no secrets of ours, no telemetry, no cloud. */
function artilleryEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const secret of ['OPENAI_API_KEY', 'DATABASE_URL', 'ARTILLERY_CLOUD_API_KEY']) delete env[secret];
  // Artillery 2.0 sends a usage event to its telemetry service at the end of `run` even with
  // ARTILLERY_DISABLE_TELEMETRY set; it skips it inside a cloud worker (WORKER_ID set). A load
  // test here must send nothing beyond its target, so every run is started as such a worker.
  env.WORKER_ID = 'memorychat-load';
  env.ARTILLERY_DISABLE_TELEMETRY = 'true';
  env.FORCE_COLOR = '0';
  return env;
}

interface ArtilleryJob {
  /** 1: `artillery run`; more: load/artillery-workers.ts. */
  workers: number;
  script: string;
  overrides: unknown;
  /** Where the report goes. */
  out: string;
  /** Prefix of its lines in the log. */
  label: string;
  env: NodeJS.ProcessEnv;
  log: WriteStream;
  cleanup: Cleanup;
  timeoutS: number;
  onPhaseStarted?: () => void;
}

/** Resolves to Artillery's exit code. */
function runArtillery(job: ArtilleryJob): Promise<number> {
  const { workers, script, out, label, env, log, cleanup, timeoutS, onPhaseStarted } = job;
  const overrides = JSON.stringify(job.overrides);
  return new Promise((resolve) => {
    const [cmd, args] =
      workers > 1
        ? [TSX_BIN, [WORKERS_RUNNER, script, String(workers), out, overrides]]
        : [ARTILLERY_BIN, ['run', '--output', out, '--overrides', overrides, script]];
    const child = spawn(cmd, args, { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    cleanup.children.add(child);
    const timer = setTimeout(() => {
      log.write(`[${label}] still running after ${timeoutS} s: stopping it\n`);
      cleanup.killChildren();
    }, timeoutS * 1000);
    const onLine = (line: string): void => {
      log.write(`[${label}] ${redact(line)}\n`);
      if (/Phase started/.test(line)) onPhaseStarted?.();
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.once('error', (err) => log.write(`[${label}] could not start Artillery: ${err.message}\n`));
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      cleanup.children.delete(child);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

/** How long Artillery's process groups get to stop after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 5_000;

/**
 * Where a load run's time goes, printed as one line at its end: the target, seeding, each step
 * (and the part of it before Artillery's users started: its own start-up) and the reports.
 */
class PhaseClock {
  private readonly parts: string[] = [];
  private last = performance.now();

  /** Closes the phase that ran since the previous mark. */
  mark(name: string, detail?: string): void {
    const now = performance.now();
    this.parts.push(`${name} ${seconds(now - this.last)}${detail ? ` (${detail})` : ''}`);
    this.last = now;
  }

  line(): string {
    return `load: phases: ${this.parts.join(' · ')}`;
  }
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

interface StepContext {
  cfg: LoadConfig;
  target: OpenTarget;
  pool: pg.Pool;
  apiUsersFile: string;
  browserUsersFile: string;
  tempDir: string;
  /** This run's processor entry points (see processorShim). */
  processors: { api: string; browser: string };
  log: WriteStream;
  cleanup: Cleanup;
  chromiumPath: string | undefined;
  phases: PhaseClock;
}

/**
 * Artillery bundles a TypeScript processor into `dist/` beside the file it is given and deletes
 * that folder when it exits. Given load/processor.ts itself, two load runs at once (npm test runs
 * the load smoke beside a load self-test) delete each other's bundle mid-step; a one-line
 * re-export in the run's own temp dir gives each run its own `dist/`.
 */
function processorShim(tempDir: string, name: 'processor' | 'browser-processor'): string {
  const file = path.join(tempDir, `${name}.ts`);
  writeFileSync(file, `export * from ${JSON.stringify(path.join(REPO_ROOT, 'load', name))};\n`);
  return file;
}

async function runStep(ctx: StepContext, users: number): Promise<LoadStage> {
  const { cfg, target } = ctx;
  const turns = turnsPerUser(users, cfg.criteria.minChatRequests, cfg.minTurns);
  // Users arrive over a few seconds (20 per second, 2–10 s): a realistic start, not a thundering herd.
  const rampS = Math.min(10, Math.max(2, Math.ceil(users / 20)));
  const deadline = Date.now() + cfg.maxStepS * 1000;
  const samplesFile = path.join(ctx.tempDir, `samples-${users}.jsonl`);
  const env = artilleryEnv({
    // Playwright's browser profiles and Chromium's scratch folders land in the run's own temp
    // folder, removed at the end: Artillery's engine ends its browsers while Playwright removes
    // their profile, and Chromium's last writes left one `playwright_chromiumdev_profile-*` a run.
    TMPDIR: ctx.tempDir,
    ...(cfg.workers > 1 ? { LOAD_SAMPLES_FILE: samplesFile } : {}),
    LOAD_LIMIT_MS: String(cfg.criteria.p95TotalMsBelow),
    LOAD_STEP_DEADLINE_MS: String(deadline),
    LOAD_THINK_S: String(cfg.thinkS),
    LOAD_BROWSER_TURNS: String(turns),
  });
  const apiOut = path.join(ctx.tempDir, `api-${users}.json`);
  const browserOut = path.join(ctx.tempDir, `browser-${users}.json`);
  const payload = (file: string) => [{ path: file, fields: ['token'], order: 'sequence', skipHeader: true }];
  const apiOverrides = {
    config: {
      target: target.baseUrl,
      processor: ctx.processors.api,
      // Several workers each run the whole phase (as run-fargate does): each gets its share.
      phases: [{ name: `${users} users`, duration: rampS, arrivalCount: Math.ceil(users / cfg.workers) }],
      payload: payload(ctx.apiUsersFile),
      variables: { turns, thinkMs: Math.round(cfg.thinkS * 1000) },
      // One value for the request limit and for the time a turn may still take (turnTailS).
      http: { timeout: SEARCH_TIMEOUT_S },
    },
  };
  const browserOverrides = {
    config: {
      target: target.baseUrl,
      processor: ctx.processors.browser,
      phases: [{ name: 'browsers', duration: 1, arrivalCount: cfg.browsers }],
      payload: payload(ctx.browserUsersFile),
      engines: {
        playwright: {
          launchOptions: {
            headless: true,
            args: CHROMIUM_FLAGS,
            ...(ctx.chromiumPath ? { executablePath: ctx.chromiumPath } : {}),
          },
        },
      },
    },
  };

  // Probes run while the users do: from Artillery's "Phase started" to its exit.
  let probes: { stop(): Promise<Pick<LoadStage, 'db' | 'cpu' | 'topStatements' | 'eventLoop'>> } | undefined;
  const stepStarted = performance.now();
  let usersStartedAfterMs: number | undefined;
  const startProbes = (): void => {
    if (probes) return;
    usersStartedAfterMs = performance.now() - stepStarted;
    const groups = (): number[] => [...ctx.cleanup.children].map((c) => c.pid ?? -1);
    const cpu = startCpuSampler(target.stack?.pid, groups);
    const db = startDbSampler(ctx.pool, target.stack ? 'memorychat' : null);
    const loop = startEventLoopSampler(target.baseUrl);
    const before = statementSnapshot(ctx.pool);
    probes = {
      async stop() {
        const c = cpu.stop();
        const dbFigures = await db.stop();
        const eventLoop = await loop.stop();
        const [b, a] = [await before, await statementSnapshot(ctx.pool)];
        return {
          // A remote target's processes are not ours to see: only the machine and the generator.
          cpu: target.stack ? c : { machineBusy: c.machineBusy, cores: c.cores, loadGenerator: c.loadGenerator },
          db: dbFigures.samples > 0 ? dbFigures : null,
          topStatements: statementGrowth(b, a),
          eventLoop,
        };
      },
    };
  };

  const timeoutS = cfg.maxStepS + turnTailS(cfg.thinkS) + ARTILLERY_OVERHEAD_S;
  const run = { env, log: ctx.log, cleanup: ctx.cleanup, timeoutS };
  const [apiCode] = await Promise.all([
    runArtillery({
      ...run,
      workers: cfg.workers,
      script: API_SCRIPT,
      overrides: apiOverrides,
      out: apiOut,
      label: `${users} users api`,
      onPhaseStarted: startProbes,
    }),
    cfg.browsers > 0 &&
      runArtillery({
        ...run,
        workers: 1,
        script: BROWSER_SCRIPT,
        overrides: browserOverrides,
        out: browserOut,
        label: `${users} users browser`,
      }),
  ]);
  const measured = (await probes?.stop()) ?? { db: null, cpu: null, topStatements: [], eventLoop: null };
  const startUp =
    usersStartedAfterMs === undefined ? 'users never started' : `Artillery start ${seconds(usersStartedAfterMs)}`;
  ctx.phases.mark(`${users} users`, startUp);
  if (ctx.cleanup.aborted) throw new Error('stopped by a signal');
  if (!existsSync(apiOut)) {
    const logFile = path.relative(process.cwd(), ctx.log.path as string);
    throw new Error(
      `Artillery ended with exit code ${apiCode} without a report for the ${users}-user step; see ${logFile}`,
    );
  }
  const apiReport = readArtilleryReport(apiOut);
  const browserReported = cfg.browsers > 0 && existsSync(browserOut);
  const figures = figuresOf(apiReport, browserReported ? readArtilleryReport(browserOut) : undefined);
  if (cfg.browsers > 0 && !browserReported) {
    figures.errorCauses['browser:no_report'] = cfg.browsers;
    figures.errors += cfg.browsers;
  }
  const judgement = judgeStep({ users, ...figures }, cfg.criteria);
  const reasons = [...judgement.reasons];
  if (Date.now() > deadline) reasons.push(`the step hit its time limit (LOAD_MAX_STEP_S=${cfg.maxStepS})`);
  const mergeCheck = cfg.workers > 1 ? checkMerge(samplesFile, apiReport, cfg.workers) : null;
  if (mergeCheck?.checks.some((c) => !c.withinPrecision)) {
    reasons.push('Artillery’s merged percentiles differ from the raw samples’ beyond the sketch’s precision');
  }
  return {
    ...figures,
    ...measured,
    users,
    passed: reasons.length === 0,
    reasons,
    durationS: round(figures.durationS, 1),
    errorRate: judgement.errorRate,
    chatsPerSecond: figures.durationS > 0 ? round(figures.chatRequests / figures.durationS, 1) : 0,
    browser: figures.browser ? { users: cfg.browsers, ...figures.browser } : null,
    mergeCheck,
  };
}

/** LOAD_WORKERS > 1: the merged round-trip percentiles against every worker's raw samples. */
function checkMerge(samplesFile: string, report: ArtilleryReport, workers: number): LoadStage['mergeCheck'] {
  const samples = existsSync(samplesFile)
    ? readFileSync(samplesFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { totalMs: number }).totalMs)
    : [];
  const summary = report.aggregate.summaries['chat.total_ms'];
  if (!summary) return { workers, samples: samples.length, checks: [] };
  const merged = { p50: summary.p50, p95: summary.p95, p99: summary.p99 };
  return { workers, samples: samples.length, checks: checkMergedPercentiles(samples, merged) };
}

function stepLine(st: LoadStage): string {
  const ms = (v: number | null): string => (v === null ? '–' : `${Math.round(v)} ms`);
  return (
    `load: ${String(st.users).padStart(4)} users ${st.passed ? '✓' : '✗'} ` +
    `${st.chatRequests} chats, ${st.errors} errors, ` +
    `TTFT p95 ${ms(st.ttftMs.p95)}, round trip p50 ${ms(st.totalMs.p50)} p95 ${ms(st.totalMs.p95)}, ` +
    `app CPU ${st.cpu?.app?.toFixed(2) ?? '–'} cores, ` +
    `app loop p99 ${appLoopP99(st)}` +
    (st.passed ? '' : ` — ${st.reasons.join('; ')}`)
  );
}

export async function runLoad(): Promise<number> {
  const startedAt = Date.now();
  let perf: PerfConfig;
  let cfg: LoadConfig;
  try {
    perf = loadConfig();
    cfg = loadLoadConfig();
  } catch (err) {
    console.error(err instanceof ConfigError || err instanceof LoadConfigError ? err.message : String(err));
    return 1;
  }
  const remote = remoteTargetProblem(perf.baseUrl, cfg.steps);
  if (remote !== undefined) {
    console.error(`load: ${remote}`);
    return 1;
  }
  const runId = process.env.PERF_RUN_ID ?? newRunId('load');
  const modelLatency = perf.modelSimLatency ?? 'realistic';
  const cleanup = new Cleanup();
  cleanup.persistentDatabase = perf.databaseUrl !== undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    console.error(`\nload: ${signal}: stopping the load and cleaning up…`);
    cleanup.aborted = true;
    cleanup.killChildren();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const stages: LoadStage[] = [];
  let target: OpenTarget | undefined;
  let setupError: string | undefined;
  mkdirSync(perf.reportDir, { recursive: true });
  const log = createWriteStream(path.join(perf.reportDir, 'load-artillery.log'), { flags: 'w' });
  log.on('error', (err) => console.error(`load: cannot write Artillery's log: ${err.message}`));
  const phases = new PhaseClock();
  try {
    target = await startTarget(perf, modelLatency, cleanup);
    phases.mark(target.stack ? 'stack ready' : 'target checked');
    const kind = target.stack ? `bundled stack, ${modelLatency} model` : 'given deployment';
    console.log(`load: target ${target.baseUrl} (${kind}), database ${redactUrl(target.databaseUrl)}, run ${runId}`);
    // In the runs table while it seeds and loads, so that `npm run cleanup` elsewhere leaves its users alone.
    cleanup.registration = await registerRun(target.databaseUrl, runId, perf.allowSeed);
    const pool = createPool(target.databaseUrl, { max: 3 });
    cleanup.pool = pool;
    cleanup.seeder = targetAdapter.seeder(pool, { runId, tag: 'load', allowSeed: perf.allowSeed });
    const maxUsers = Math.max(...cfg.steps);
    const seeded = await seedUsers(
      cleanup.seeder,
      pool,
      maxUsers + cfg.browsers,
      cfg.memoriesPerUser,
      () => cleanup.aborted,
    );
    phases.mark('seeding');
    const tempDir = (cleanup.tempDir = mkdtempSync(path.join(os.tmpdir(), 'memorychat-load-')));
    const chromium = detectChromium(perf.chromiumPath);
    if (cfg.browsers > 0 && chromium.problem) {
      throw new Error(`${chromium.problem} (or set LOAD_BROWSERS=0 to run API users only)`);
    }
    const ctx: StepContext = {
      cfg,
      target,
      pool,
      log,
      cleanup,
      apiUsersFile: writeUsersFile(path.join(tempDir, 'api-users.csv'), seeded.slice(0, maxUsers)),
      browserUsersFile: writeUsersFile(path.join(tempDir, 'browser-users.csv'), seeded.slice(maxUsers)),
      tempDir,
      processors: { api: processorShim(tempDir, 'processor'), browser: processorShim(tempDir, 'browser-processor') },
      chromiumPath: chromium.executablePath,
      phases,
    };
    for (const users of cfg.steps) {
      // A signal between steps (or during seeding, with no child to kill yet) starts no new one.
      if (cleanup.aborted) throw new Error('stopped by a signal');
      const stage = await runStep(ctx, users);
      stages.push(stage);
      console.log(stepLine(stage));
      if (!stage.passed) break;
    }
  } catch (err) {
    setupError = cleanup.aborted
      ? 'stopped by a signal before the ramp finished'
      : redact(err instanceof Error ? err.message : String(err));
    phases.mark('until the error');
    console.error(`load: ${setupError}`);
  } finally {
    await cleanup.run();
    phases.mark('cleanup');
    await new Promise<void>((resolve) => log.end(resolve));
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const capacity = capacityOf(stages, cfg.criteria);
  const firstFailing = stages.find((s) => !s.passed);
  const external = perf.openaiApiKey || perf.baseUrl;
  const summary: LoadSummary = {
    schemaVersion: 1,
    verdict: setupError === undefined && capacity.maxUsers >= cfg.minUsers ? 'pass' : 'fail',
    engine: 'artillery',
    artilleryVersion: artilleryVersion(),
    createdAt: new Date(startedAt).toISOString(),
    runId,
    target: {
      baseUrl: target?.baseUrl ?? perf.baseUrl ?? 'bundled stack (not started)',
      bundledStack: target ? target.stack !== undefined : !perf.baseUrl,
      app: target?.health.app ?? 'unknown',
      version: target?.health.version ?? 'unknown',
      faults: target?.health.faults ?? [],
    },
    model: {
      source: external ? 'openai-compatible' : 'simulator',
      latency: external ? null : modelLatency,
      conversation: target?.health.models.conversation ?? null,
    },
    capacity: {
      maxUsers: capacity.maxUsers,
      minUsers: cfg.minUsers,
      criteria: cfg.criteria,
      firstFailure: capacity.firstFailure ?? null,
      limitedBy: firstFailing ? limitsOf(firstFailing) : [],
    },
    ramp: {
      steps: cfg.steps,
      stoppedEarly: firstFailing !== undefined && stages.length < cfg.steps.length,
      thinkS: cfg.thinkS,
      browsers: cfg.browsers,
      memoriesPerUser: cfg.memoriesPerUser,
      minTurns: cfg.minTurns,
      workers: cfg.workers,
    },
    stages,
    ...(setupError ? { setupError } : {}),
  };
  const written = await writeLoadReports(perf.reportDir, summary);
  const resultsDir = path.join(perf.reportDir, 'allure-results');
  writeAllureLoad({ resultsDir, summary, ...written, start: startedAt, stop: Date.now() });
  phases.mark('reports');
  console.log(renderLoadConsole(summary));
  console.log(phases.line());
  const dir = path.relative(process.cwd(), perf.reportDir) || '.';
  console.log(`load: reports in ${dir}/load-summary.{json,md}, charts/load-*.svg; Artillery's log: load-artillery.log`);
  if (cleanup.aborted) return 130;
  return summary.verdict === 'pass' ? 0 : 1;
}
