/**
 * Playwright configuration of the MemoryChat performance suite.
 *
 * Projects: `perf` (profile from PERF_PROFILE, default 'default') and `smoke` (profile 'smoke':
 * tiny sample counts). Both run the same specs; the profile reaches them as the typed option
 * fixture `profileName`.
 *
 * Target: global-setup.ts starts the bundled stack as a child process when BASE_URL is unset
 * (no `webServer`: see docs/architecture.md) and checks the target before any test runs.
 */
import os from 'node:os';
import path from 'node:path';
import { defineConfig } from '@playwright/test';
import { ALLURE_CATEGORIES } from './lib/report/allure';
import { browserEnv, CHROMIUM_FLAGS, detectChromium } from './lib/run/browser';
import { ensureRunId, formatConfigError, loadConfig, runProfile, type PerfConfig } from './lib/run/config';
import { redactUrl } from './lib/redact';
import type { ProfileOptions } from './fixtures/config';

/** The runner process (not a worker): print things and pick defaults once. */
const isRunner = process.env.TEST_WORKER_INDEX === undefined;

function loadConfigOrExit(): PerfConfig {
  try {
    return loadConfig({ cwd: __dirname, dotenvDir: __dirname });
  } catch (err) {
    // One readable block naming the variable, not a stack trace.
    console.error(formatConfigError(err));
    process.exit(2);
  }
}

const config = loadConfigOrExit();

// Seeded rows are tagged with the run id; generate it here so every reporter sees the same one.
if (isRunner) ensureRunId();

// A headless run's browser: the system's headless shell when there is one (lib/run/browser.ts).
// A headed run gets a full Chromium from the `launchOptions` fixture (fixtures/chat.ts).
const chromiumChoice = detectChromium(config.chromiumPath);
if (isRunner && chromiumChoice.problem) console.warn(`memorychat-perf: ${chromiumChoice.problem}`);

const reportDir = config.reportDir;
/**
 * The measuring specs, then the verdict test ("Checkpoint 7.4", e2e/verdict.ts). With one worker
 * Playwright runs a project's files in alphabetical order, and `verdict.ts` sorts after every
 * spec: it runs last, in the worker that measured (test/unit/verdict-order.test.ts checks it).
 */
const MEASURING_AND_VERDICT = [/\.spec\.ts$/, /[\\/]e2e[\\/]verdict\.ts$/];

export default defineConfig<ProfileOptions>({
  testDir: './e2e',
  outputDir: path.join(reportDir, 'test-results'),
  globalSetup: './global-setup.ts',
  // One worker: the target (app + PostgreSQL + model simulator) runs on the same 2 cores, and a
  // second worker would measure the suite's own contention, not MemoryChat.
  workers: 1,
  fullyParallel: false,
  // A perf run must not hide flakiness behind a green retry.
  retries: 0,
  forbidOnly: Boolean(process.env.CI),
  // Generous for the `perf` profile (100k-row seeding, realistic model latency), finite always.
  timeout: 5 * 60_000,
  globalTimeout: 60 * 60_000,
  expect: { timeout: 15_000 },
  reporter: [
    ['list'],
    ['html', { outputFolder: path.join(reportDir, 'html'), open: 'never' }],
    // Before allure-playwright: moves the last run's Allure results into the Allure history.
    ['./reporters/allure-history-reporter.ts'],
    [
      'allure-playwright',
      {
        resultsDir: path.join(reportDir, 'allure-results'),
        categories: ALLURE_CATEGORIES,
        // Static, redacted facts; global setup writes the full environment.json.
        environmentInfo: {
          profile: runProfile(config),
          target: config.baseUrl ? redactUrl(config.baseUrl) : 'bundled stack',
          database: config.databaseUrl ? redactUrl(config.databaseUrl) : 'bundled embedded PostgreSQL',
          model: config.openaiBaseUrl
            ? redactUrl(config.openaiBaseUrl)
            : config.openaiApiKey
              ? 'api.openai.com'
              : 'bundled model simulator',
          faults: config.faults.join(',') || 'none',
          browser:
            chromiumChoice.executablePath ?? (chromiumChoice.source === 'playwright' ? "Playwright's own" : 'none'),
          node: process.version,
          os: `${os.type()} ${os.release()}`,
          cpus: String(os.cpus().length),
          run: process.env.PERF_RUN_ID ?? '',
        },
      },
    ],
    ['./reporters/checkpoint-reporter.ts'],
  ],
  use: {
    // Fixtures use config.baseUrl; this is for ad-hoc page.goto('/') in specs (set in workers).
    baseURL: process.env.BASE_URL,
    headless: true,
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
    // No traces: they record request headers and init scripts, i.e. the seeded users' bearer
    // tokens, and secrets must never reach report attachments. Failures keep a screenshot.
    trace: 'off',
    screenshot: 'only-on-failure',
    video: 'off',
    launchOptions: {
      executablePath: chromiumChoice.executablePath,
      args: CHROMIUM_FLAGS,
      // Workers launch the browser; the runner only reads this config (and must not create folders).
      ...(isRunner ? {} : { env: browserEnv() }),
    },
  },
  projects: [
    {
      name: 'perf',
      testMatch: MEASURING_AND_VERDICT,
      use: { profileName: config.profile },
    },
    {
      name: 'smoke',
      testMatch: MEASURING_AND_VERDICT,
      // Smoke = tiny sample counts; a smoke test should fail fast, not wait 5 minutes.
      timeout: 2 * 60_000,
      use: { profileName: 'smoke' },
    },
  ],
});
