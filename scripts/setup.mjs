// `npm run setup`: everything the suite needs on a bare machine, in one command.
//
//   1. Node version check (package.json engines).
//   2. `npm ci --no-audit --no-fund`, unless node_modules already matches package-lock.json
//      (then setup takes seconds): `--ci` forces it.
//   3. A Chromium for the UI specs, the first that works of:
//        CHROMIUM_PATH → a system Chromium (/usr/bin/chromium, …) → Playwright's own, if installed
//        → `npx playwright install chromium`, only when its download host answers within 5 s
//        → Debian/Ubuntu's `chromium` via apt-get (as root, or with password-less sudo)
//      else it stops with the exact commands to run. Beside a system Chromium, Debian's
//      `chromium-headless-shell` too, when apt-get can install it: headless runs use it
//      (lib/run/browser.ts). Optional: without it they run the full browser, a little slower.
//   4. Warm caches the first run would otherwise fill on the clock: the bundled stack's cached
//      initdb and Playwright's TypeScript transform cache (optional, a failure only says so).
//
// Plain Node without dependencies: it runs before node_modules exists. Idempotent.
// Testing the fall-backs: SETUP_SYSTEM_CHROMIUM= (empty) makes the system Chromium check find
// nothing (a colon list replaces the candidates); SETUP_SKIP_PLAYWRIGHT_DOWNLOAD=1 skips step 3's
// download. Neither changes what the suite itself uses afterwards.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(ROOT, 'package.json'));
const DEFAULT_SYSTEM_CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/snap/bin/chromium'];
// The same path as SYSTEM_HEADLESS_SHELL in lib/run/browser.ts (this script runs before node_modules).
const SYSTEM_HEADLESS_SHELL = '/usr/bin/chromium-headless-shell';
const DOWNLOAD_PROBE_TIMEOUT_MS = 5_000;
const PLAYWRIGHT_INSTALL_TIMEOUT_MS = 10 * 60_000;
const APT_TIMEOUT_MS = 15 * 60_000;
const MANUAL_FIX = [
  'Install a Chromium, then run `npm run setup` again:',
  '  Debian/Ubuntu:        sudo apt-get install -y chromium',
  '  with internet access: npx playwright install chromium',
  '  any other Chromium:   export CHROMIUM_PATH=/path/to/chromium (also in .env)',
].join('\n');

const say = (line) => console.log(`setup: ${line}`);

function fail(message) {
  console.error(`\nsetup FAILED: ${message}`);
  process.exit(1);
}

function run(cmd, args, { timeoutMs, quiet = false, env } = {}) {
  const result = spawnSync(cmd, args, {
    cwd: ROOT,
    stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, ...env },
  });
  const timedOut = result.error?.code === 'ETIMEDOUT';
  return {
    ok: result.status === 0,
    timedOut,
    output: `${result.stdout ?? ''}${result.stderr ?? ''}`,
    error: result.error,
  };
}

function checkNode() {
  const wanted = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).engines?.node ?? '';
  const min = /(\d+)\.(\d+)/.exec(wanted);
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (min && (major < Number(min[1]) || (major === Number(min[1]) && minor < Number(min[2])))) {
    fail(
      `Node ${process.versions.node} is too old; ` +
        `this project needs Node ${wanted} (https://nodejs.org, or nvm install 20).`,
    );
  }
}

/** True when every package of package-lock.json is installed in the locked version. */
function nodeModulesMatchLock() {
  const installedFile = path.join(ROOT, 'node_modules', '.package-lock.json');
  if (!existsSync(installedFile)) return false;
  try {
    const locked = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')).packages ?? {};
    const installed = JSON.parse(readFileSync(installedFile, 'utf8')).packages ?? {};
    return Object.entries(locked).every(([key, pkg]) => {
      if (key === '') return true;
      const have = installed[key];
      // Optional packages for other platforms (e.g. another OS's PostgreSQL binaries) are never installed.
      if (!have) return pkg.optional === true;
      return have.version === pkg.version;
    });
  } catch {
    return false;
  }
}

function installDependencies() {
  if (!process.argv.includes('--ci') && nodeModulesMatchLock()) {
    say('node_modules matches package-lock.json (npm ci skipped; `npm run setup -- --ci` forces it)');
    return;
  }
  say('npm ci --no-audit --no-fund');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  if (!run(npm, ['ci', '--no-audit', '--no-fund'], { timeoutMs: 20 * 60_000 }).ok) {
    fail(
      'npm ci failed (its output is above). ' +
        'Check the network access to the npm registry and run `npm run setup` again.',
    );
  }
}

/** `<path> --version` answers: the file is a browser this machine can run. */
function browserRuns(executable) {
  const r = run(executable, ['--version'], { timeoutMs: 20_000, quiet: true });
  return r.ok ? r.output.trim().split('\n')[0] : undefined;
}

function systemCandidates() {
  const override = process.env.SETUP_SYSTEM_CHROMIUM;
  if (override === undefined) return DEFAULT_SYSTEM_CHROMIUM;
  return override.split(':').filter(Boolean);
}

function playwrightOwnChromium() {
  try {
    const { chromium } = require('@playwright/test');
    const file = chromium.executablePath();
    return file && existsSync(file) ? file : undefined;
  } catch {
    return undefined;
  }
}

/** Where Playwright would download from answers quickly (no DNS, no route → skip, in seconds). */
async function playwrightDownloadReachable() {
  const host = process.env.PLAYWRIGHT_DOWNLOAD_HOST || 'https://cdn.playwright.dev';
  try {
    await globalThis.fetch(host, { method: 'HEAD', signal: globalThis.AbortSignal.timeout(DOWNLOAD_PROBE_TIMEOUT_MS) });
    return { ok: true, host };
  } catch (err) {
    return { ok: false, host, why: err?.cause?.code ?? err?.name ?? String(err) };
  }
}

function canRunAsRoot() {
  if (process.getuid?.() === 0) return { ok: true, sudo: [] };
  if (run('sudo', ['-n', 'true'], { quiet: true, timeoutMs: 10_000 }).ok) return { ok: true, sudo: ['sudo', '-n'] };
  return { ok: false, sudo: [] };
}

/**
 * `apt-get install -y <pkg>` (with `update`: an `apt-get update` and a second try if it fails;
 * `extra`: more apt-get options); a problem, or undefined.
 */
function aptInstall(pkg, { update = true, extra = [] } = {}) {
  if (!existsSync('/usr/bin/apt-get')) return 'apt-get is not available here';
  const root = canRunAsRoot();
  if (!root.ok) return 'installing with apt-get needs root or password-less sudo';
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (...args) => {
    const [cmd, ...rest] = [...root.sudo, 'apt-get', ...args];
    return run(cmd, rest, { env, timeoutMs: APT_TIMEOUT_MS });
  };
  say(`apt-get install -y ${[...extra, pkg].join(' ')}`);
  if (apt('install', '-y', '-q', ...extra, pkg).ok) return undefined;
  if (!update) return `apt-get install ${pkg} failed (output above)`;
  // The package lists may be missing (fresh container) or stale: update once, then retry.
  say('apt-get update, then install again');
  apt('update', '-q');
  return apt('install', '-y', '-q', ...extra, pkg).ok ? undefined : `apt-get install ${pkg} failed (output above)`;
}

/** Whether apt knows a version of `pkg` to install (Debian has chromium-headless-shell, Ubuntu not). */
function aptHasCandidate(pkg) {
  if (!existsSync('/usr/bin/apt-cache')) return false;
  const r = run('apt-cache', ['policy', pkg], { quiet: true, timeoutMs: 30_000 });
  const candidate = /Candidate:\s*(\S+)/.exec(r.output)?.[1];
  return r.ok && candidate !== undefined && candidate !== '(none)';
}

/**
 * Beside a system Chromium, its headless shell for headless runs (lib/run/browser.ts prefers it):
 * the UI specs ran ≈ 1.5–2 s faster a smoke run with it. Optional: only where apt has the package,
 * without refreshing the package lists or upgrading anything installed; a failure only says so.
 */
function addHeadlessShell() {
  const have = existsSync(SYSTEM_HEADLESS_SHELL) ? browserRuns(SYSTEM_HEADLESS_SHELL) : undefined;
  if (have) return say(`headless runs: ${SYSTEM_HEADLESS_SHELL} (${have})`);
  const optional = '(optional; the headless shell only makes the UI specs faster)';
  if (!aptHasCandidate('chromium-headless-shell'))
    return say(`headless runs use the full Chromium: apt has no chromium-headless-shell here ${optional}`);
  const problem = aptInstall('chromium-headless-shell', { update: false, extra: ['--no-upgrade'] });
  const installed = !problem && existsSync(SYSTEM_HEADLESS_SHELL) ? browserRuns(SYSTEM_HEADLESS_SHELL) : undefined;
  if (installed) return say(`headless runs: ${SYSTEM_HEADLESS_SHELL} (${installed}), installed with apt-get`);
  say(`headless runs use the full Chromium: ${problem ?? `no runnable ${SYSTEM_HEADLESS_SHELL} appeared`} ${optional}`);
}

async function setUpBrowser() {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    const version = existsSync(fromEnv) ? browserRuns(fromEnv) : undefined;
    if (version) return say(`browser: CHROMIUM_PATH=${fromEnv} (${version})`);
    const problem = existsSync(fromEnv) ? 'does not run (`--version` failed)' : 'does not exist';
    fail(`CHROMIUM_PATH=${fromEnv} ${problem}.\n${MANUAL_FIX}`);
  }
  for (const candidate of systemCandidates()) {
    const version = existsSync(candidate) ? browserRuns(candidate) : undefined;
    if (version) {
      say(`browser: ${candidate} (${version})`);
      return addHeadlessShell();
    }
  }
  const own = playwrightOwnChromium();
  if (own) return say(`browser: Playwright's own Chromium (${own})`);

  const reasons = [];
  if (process.env.SETUP_SKIP_PLAYWRIGHT_DOWNLOAD === '1') {
    reasons.push('Playwright download skipped (SETUP_SKIP_PLAYWRIGHT_DOWNLOAD=1)');
  } else {
    const probe = await playwrightDownloadReachable();
    if (!probe.ok) {
      reasons.push(`Playwright's download host ${probe.host} is not reachable (${probe.why})`);
    } else {
      say('npx playwright install chromium');
      const r = run(path.join(ROOT, 'node_modules', '.bin', 'playwright'), ['install', 'chromium'], {
        timeoutMs: PLAYWRIGHT_INSTALL_TIMEOUT_MS,
      });
      if (r.ok && playwrightOwnChromium()) return say("browser: Playwright's own Chromium, just downloaded");
      reasons.push(r.timedOut ? 'npx playwright install chromium timed out' : 'npx playwright install chromium failed');
    }
  }
  say(`${reasons.at(-1)}; trying the system package`);

  const aptProblem = aptInstall('chromium');
  if (!aptProblem) {
    // Debian's package puts it here; lib/run/browser.ts finds it there without CHROMIUM_PATH.
    const installed = DEFAULT_SYSTEM_CHROMIUM.find((p) => existsSync(p) && browserRuns(p));
    if (installed) {
      say(`browser: ${installed} (${browserRuns(installed)}), installed with apt-get`);
      return addHeadlessShell();
    }
    reasons.push('apt-get installed chromium, but no runnable /usr/bin/chromium appeared');
  } else {
    reasons.push(aptProblem);
  }
  fail(`no Chromium for the UI specs: ${reasons.join('; ')}.\n${MANUAL_FIX}`);
}

/** The first few non-empty lines of a command's output, on one line: the cause, without a stack. */
function firstLines(output, count = 3) {
  return output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(0, count)
    .join(' | ');
}

/**
 * Work the first timed run would otherwise do: the stack's cached initdb (1–3 s) and Playwright's
 * TypeScript transform cache (≈ 3 s for the suite's files; `--list` loads every spec and writes
 * no report). Optional: a failure only says so, and the first run then does it itself.
 */
function warmCaches() {
  const t0 = Date.now();
  // Through the suite's own launcher (scripts/warm-stack.ts), the bundled stack only.
  const stack = run(process.execPath, ['--import', 'tsx', path.join('scripts', 'warm-stack.ts')], {
    quiet: true,
    timeoutMs: 180_000,
  });
  const list = run(path.join(ROOT, 'node_modules', '.bin', 'playwright'), ['test', '--list', '--reporter=null'], {
    quiet: true,
    timeoutMs: 120_000,
  });
  const problems = [
    stack.ok ? undefined : `the bundled stack did not start: ${firstLines(stack.output)}`,
    list.ok ? undefined : `playwright test --list failed: ${firstLines(list.output)}`,
  ];
  const failed = problems.filter((p) => p !== undefined);
  if (failed.length === 0)
    return say(`caches warmed in ${((Date.now() - t0) / 1000).toFixed(1)} s (database template, TypeScript)`);
  say(`caches not warmed, the first run will do it: ${failed.join('; ')}`);
}

const started = Date.now();
checkNode();
installDependencies();
await setUpBrowser();
warmCaches();
say(`done in ${((Date.now() - started) / 1000).toFixed(1)} s. Next: npm test`);
