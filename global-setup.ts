/**
 * Global setup: make sure there is a target worth measuring before any test runs.
 *
 * 1. Open the target with lib/run/target.ts (BASE_URL unset → the bundled stack) and check app,
 *    schema version, test database and model; any failure stops the run with ONE readable
 *    message. Hand its URLs to the workers through process.env.
 * 2. Compare mode (PERF_COMPARE_REF or BASELINE_URL): open the base arm the same way, at the same
 *    time, and hand it to the workers as BASELINE_*. If either arm fails, both are stopped.
 * 3. Write `${PERF_REPORT_DIR}/environment.json` (redacted) for every report.
 * 4. Register the run as in progress (clients/runs.ts: a heartbeat every 10 s) in each database
 *    it seeds that outlives it, so `npm run cleanup` elsewhere leaves its rows alone.
 *
 * Returns the teardown: remove this run's leftovers from a given database, end the registrations,
 * stop the stacks.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FullConfig } from '@playwright/test';
import {
  compareSetupProblem,
  ConfigError,
  ensureRunId,
  loadConfig,
  resolveReportDir,
  runProfile,
  selectedProjects,
  stackModelLatency,
  type CompareTarget,
  type PerfConfig,
} from './lib/run/config';
import { redactDeep, redactUrl } from './lib/redact';
import { cpuBenchmarkMs } from './lib/run/cpu-benchmark';
import { compareCacheDir, compareCacheProblem, prepareBaseCheckout } from './lib/run/base-ref';
import {
  BASE_NAMES,
  errText,
  openTarget,
  stackLogFile,
  TargetError,
  trackPlanning,
  type OpenTarget,
} from './lib/run/target';
import { createPool, MARKER_TABLE } from './clients/db';
import { registerRun, RunIdInUseError, type RunRegistration } from './clients/runs';
import { cleanupRun } from './data/seed';
import { verdictInputProblem } from './lib/verdict/inputs';
import { PERF_THRESHOLDS } from './perf.thresholds';

const ROOT = __dirname;

function gitInfo(): { sha: string; dirty: boolean | null } {
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: ROOT, timeout: 3_000, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  try {
    return {
      sha: git('rev-parse', 'HEAD').trim(),
      dirty: git('status', '--porcelain', '--untracked-files=no').trim() !== '',
    };
  } catch {
    return { sha: process.env.GITHUB_SHA ?? 'unknown', dirty: null };
  }
}

/** Removes exactly this run's leftovers from a database that outlives the run (best effort). */
async function sweep(databaseUrl: string, runId: string, allowSeed: boolean): Promise<void> {
  const pool = createPool(databaseUrl, { max: 1 });
  try {
    const n = await cleanupRun(pool, runId, allowSeed);
    if (n > 0) console.log(`memorychat-perf: removed ${n} leftover seeded user(s) of run ${runId}`);
  } catch {
    // best effort: the per-test fixtures already cleaned up; never fail the run here
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/**
 * Opens the base arm of compare mode: that ref's bundled stack (checked out into the cache) or
 * the BASELINE_* deployment. Its faults are none: a fault switch is the candidate's change.
 */
async function openBase(config: PerfConfig, compare: CompareTarget, candidateEnv: NodeJS.ProcessEnv) {
  const common = {
    arm: 'base',
    allowSeed: config.allowSeed,
    openaiApiKey: config.openaiApiKey,
    names: BASE_NAMES,
  } as const;
  if (compare.kind === 'deployment') {
    const { baseUrl, databaseUrl, openaiBaseUrl } = compare;
    return { base: await openTarget({ ...common, baseUrl, databaseUrl, openaiBaseUrl }), checkout: undefined };
  }
  // Against the repository, as git resolves paths, whichever folder the run was started from.
  const cacheDir = path.resolve(ROOT, compareCacheDir());
  const cacheProblem = compareCacheProblem(cacheDir);
  if (cacheProblem) throw new TargetError(cacheProblem);
  const checkout = await prepareBaseCheckout(ROOT, compare.ref, {
    cacheDir,
    log: (line) => console.log(`memorychat-perf: ${line}`),
  });
  const env: NodeJS.ProcessEnv = { ...candidateEnv };
  delete env.MEMORYCHAT_FAULTS;
  // Its own embedded database, like the candidate's (set-up refuses PERF_COMPARE_REF with a given
  // DATABASE_URL). The model endpoint stays shared. Its own port too: a PORT set for the candidate
  // cannot be both stacks' (the second would not start).
  delete env.DATABASE_URL;
  delete env.PORT;
  const bundled = { cwd: checkout.dir, env, logFile: stackLogFile(config.reportDir, 'base') };
  return { base: await openTarget({ ...common, bundled }), checkout };
}

export default async function globalSetup(_config: FullConfig): Promise<() => Promise<void>> {
  const started = performance.now();
  // Written again at the end of set-up: a run that stops before (a bad variable included) must
  // not report the last run's target and commit.
  rmSync(path.join(resolveReportDir(process.env.PERF_REPORT_DIR), 'environment.json'), { force: true });
  // Before any stack starts: a machine busy starting PostgreSQL and the app measures itself slower.
  const cpuMs = cpuBenchmarkMs();
  let config: PerfConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) throw new TargetError(err.message);
    throw err;
  }
  // A run that cannot end in a verdict stops here, before a stack starts or anything is measured.
  const verdictProblem = verdictInputProblem(PERF_THRESHOLDS);
  if (verdictProblem !== undefined) throw new TargetError(verdictProblem);
  const compareProblem = compareSetupProblem(config);
  if (compareProblem !== undefined) throw new TargetError(compareProblem);
  const runId = ensureRunId(); // already set by playwright.config.ts; this only reads it
  mkdirSync(config.reportDir, { recursive: true });

  const stackEnv: NodeJS.ProcessEnv = { ...process.env, MODEL_SIM_LATENCY: stackModelLatency(config) };
  const opened: OpenTarget[] = [];
  const registrations: RunRegistration[] = [];
  const sweeps: OpenTarget[] = [];
  const teardown = async (): Promise<void> => {
    // A given database outlives the run: sweep whatever a crashed test may have left behind.
    await Promise.all(sweeps.map((t) => sweep(t.databaseUrl, runId, config.allowSeed)));
    await Promise.all(registrations.map((r) => r.stop()));
    await Promise.all(opened.map((t) => t.stop()));
  };

  try {
    // Both arms start at once: the base's checkout and stack take no time from the candidate's.
    // allSettled, not all: a failing arm must not leave the other one starting unobserved.
    const [candidateResult, baseResult] = await Promise.allSettled([
      openTarget({
        arm: 'candidate',
        baseUrl: config.baseUrl,
        databaseUrl: config.databaseUrl,
        openaiBaseUrl: config.openaiBaseUrl,
        openaiApiKey: config.openaiApiKey,
        allowSeed: config.allowSeed,
        ...(config.baseUrl
          ? {}
          : { bundled: { cwd: ROOT, env: stackEnv, logFile: stackLogFile(config.reportDir, 'candidate') } }),
      }),
      config.compare ? openBase(config, config.compare, stackEnv) : Promise.resolve(undefined),
    ]);
    if (candidateResult.status === 'fulfilled') opened.push(candidateResult.value);
    if (baseResult.status === 'fulfilled' && baseResult.value) opened.push(baseResult.value.base);
    if (candidateResult.status === 'rejected') throw candidateResult.reason;
    // Never a one-armed run presented as a comparison.
    if (baseResult.status === 'rejected') throw baseResult.reason;
    const candidate = candidateResult.value;
    const baseArm = baseResult.value;
    sweeps.push(...opened.filter((t) => !t.ownDatabase));
    if (baseResult.value && opened.every((o) => o.ownDatabase)) {
      // Both arms alike or neither (lib/run/target.ts, trackPlanning): only databases this run created.
      for (const t of opened) {
        const problem = await trackPlanning(t);
        if (problem) console.warn(`memorychat-perf: ${t.arm}: planning time not tracked (${problem})`);
      }
    }

    // Workers are started after global setup and inherit this environment.
    process.env.BASE_URL = candidate.baseUrl;
    process.env.DATABASE_URL = candidate.databaseUrl;
    process.env.OPENAI_BASE_URL = candidate.openaiBaseUrl;
    if (baseArm) {
      // The workers see the base arm as a deployment, whatever started it. Emptied, not deleted:
      // dotenv fills in a deleted variable from .env again (an empty one counts as unset).
      process.env.PERF_COMPARE_REF = '';
      process.env.BASELINE_URL = baseArm.base.baseUrl;
      process.env.BASELINE_DATABASE_URL = baseArm.base.databaseUrl;
      process.env.BASELINE_OPENAI_BASE_URL = baseArm.base.openaiBaseUrl;
      if (baseArm.checkout) {
        process.env.PERF_COMPARE_BASE_REF = baseArm.checkout.ref;
        process.env.PERF_COMPARE_BASE_COMMIT = baseArm.checkout.commit;
      }
    }
    config = loadConfig();

    // In every database the run seeds that a cleanup elsewhere could sweep: the candidate's, and
    // a base deployment's in compare mode (a base stack's own database is gone with the run).
    const seeded = [candidate, ...(baseArm && !baseArm.base.ownDatabase ? [baseArm.base] : [])];
    for (const t of seeded) {
      const registered = await registerRun(t.databaseUrl, runId, config.allowSeed).catch((err: unknown) => {
        // Another live run with this id: measuring on would let each run's cleanup delete the other's rows.
        if (err instanceof RunIdInUseError) throw new TargetError(err.message);
        // E.g. no CREATE privilege: measuring still works; only a concurrent cleanup could misjudge us.
        console.warn(
          `memorychat-perf: could not register run ${runId} in the runs table of the ${t.arm}'s database ` +
            `(${errText(err)}); an \`npm run cleanup\` started elsewhere during this run would treat its rows ` +
            'as leftovers.',
        );
        return undefined;
      });
      if (registered) registrations.push(registered);
    }
    const git = gitInfo();
    const cpus = os.cpus();
    const describeTarget = (t: OpenTarget) => ({
      baseUrl: t.baseUrl,
      bundledStack: t.stack !== undefined,
      stackReadyMs: t.stack?.readyMs ?? null,
      app: t.health.app,
      appVersion: t.health.version,
      schemaVersion: t.health.schemaVersion,
      agentModels: t.health.models,
      tokenBudget: t.health.tokenBudget,
      faults: t.health.faults,
    });
    const setupMs = Math.round(performance.now() - started);
    const checkout = baseArm?.checkout;
    const environment = redactDeep({
      runId,
      setupMs,
      createdAt: new Date().toISOString(),
      profile: runProfile(config),
      projects: selectedProjects().length > 0 ? selectedProjects() : 'all',
      target: describeTarget(candidate),
      database: {
        url: redactUrl(candidate.databaseUrl),
        name: candidate.db.database,
        postgresVersion: candidate.db.serverVersion,
        schemaVersion: candidate.db.schemaVersion,
        testDatabase: candidate.db.testDatabase,
        pgStatStatements: candidate.db.pgStatStatements,
        markerTable: MARKER_TABLE,
      },
      model: {
        host: candidate.model.host,
        models: candidate.model.models,
        simulatorLatency: config.baseUrl || config.openaiApiKey ? undefined : stackModelLatency(config),
        realOpenAI: Boolean(config.openaiApiKey),
      },
      compare: baseArm
        ? {
            base: {
              ...describeTarget(baseArm.base),
              ref: checkout?.ref,
              commit: checkout?.commit,
              checkout: checkout?.how,
              database: redactUrl(baseArm.base.databaseUrl),
            },
          }
        : undefined,
      faults: config.faults,
      git,
      machine: {
        node: process.version,
        os: `${os.type()} ${os.release()} ${os.arch()}`,
        cpuCount: cpus.length,
        cpuModel: cpus[0]?.model ?? 'unknown',
        memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
        // Lower is faster; the same workload on every machine (lib/run/cpu-benchmark.ts).
        cpuBenchmarkMs: cpuMs,
      },
    });
    writeFileSync(path.join(config.reportDir, 'environment.json'), `${JSON.stringify(environment, null, 2)}\n`);
    const what = candidate.stack
      ? `bundled stack ready in ${candidate.stack.readyMs} ms`
      : `target ${candidate.baseUrl}`;
    const base = checkout
      ? `${checkout.ref} (${checkout.commit.slice(0, 12)}, ${checkout.how})`
      : baseArm?.base.baseUrl;
    const against = baseArm ? ` · compare with base ${base}` : '';
    console.log(
      `memorychat-perf: ${what} · ${candidate.health.app} ${candidate.health.version} · ` +
        `schema v${candidate.health.schemaVersion} · PostgreSQL ${candidate.db.serverVersion} · ` +
        `model ${candidate.model.host}${against} · run ${runId} · setup ${setupMs} ms`,
    );
  } catch (err) {
    await teardown();
    if (err instanceof TargetError) throw err;
    throw new TargetError(errText(err));
  }
  return teardown;
}
