import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BaselineError, parseTolerance } from '../../lib/verdict/baseline';
import {
  ConfigError,
  REPO_ROOT,
  loadConfig,
  resolveReportDir,
  runProfile,
  selectedProjects,
  switchOn,
} from '../../lib/run/config';
import { detectChromium, SYSTEM_HEADLESS_SHELL } from '../../lib/run/browser';
import { redact, redactDeep, redactUrl, registerSecret } from '../../lib/redact';
import { APP_NODE_FLAGS_FILE, appNodeFlags, parseStackLine, StackStartError } from '../../lib/run/stack-process';

const load = (env: Record<string, string>) => loadConfig({ env: { ...env }, dotenvDir: false, cwd: '/work' });

function configError(env: Record<string, string>): ConfigError {
  try {
    load(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected loadConfig to throw');
}

void test('defaults: nothing set → bundled stack, default profile, reports/', () => {
  const c = load({});
  assert.equal(c.baseUrl, undefined);
  assert.equal(c.databaseUrl, undefined);
  assert.equal(c.profile, 'default');
  assert.equal(c.allowSeed, false);
  assert.deepEqual(c.faults, []);
  assert.equal(c.reportDir, '/work/reports');
  assert.equal(c.baselineTolerance, 0.1);
  assert.equal(c.modelSimLatency, undefined);
});

void test('valid values are parsed and normalised', () => {
  const c = load({
    BASE_URL: 'http://127.0.0.1:3000/',
    DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/memorychat_perf_test',
    OPENAI_BASE_URL: 'http://127.0.0.1:4000/v1/',
    PERF_PROFILE: 'smoke',
    PERF_ALLOW_SEED: '1',
    MODEL_SIM_LATENCY: 'instant',
    MEMORYCHAT_FAULTS: 'n-plus-one, slow-model',
    PERF_REPORT_DIR: 'out/r',
    PERF_BASELINE_TOLERANCE: '0.1',
    PERF_RUN_ID: 'ci-42',
    CHROMIUM_PATH: '/opt/chrome',
    PERF_THRESHOLDS: 't.ts',
    PERF_BASELINE: 'b.json',
  });
  assert.equal(c.baseUrl, 'http://127.0.0.1:3000');
  assert.equal(c.openaiBaseUrl, 'http://127.0.0.1:4000/v1');
  assert.equal(c.profile, 'smoke');
  assert.equal(c.allowSeed, true);
  assert.equal(c.modelSimLatency, 'instant');
  assert.deepEqual(c.faults, ['n-plus-one', 'slow-model']);
  assert.equal(c.reportDir, '/work/out/r');
  assert.equal(c.baselineTolerance, 0.1);
  assert.equal(c.runId, 'ci-42');
  assert.equal(c.chromiumPath, '/opt/chrome');
});

void test('empty strings count as unset', () => {
  assert.equal(load({ BASE_URL: '', PERF_PROFILE: '  ' }).profile, 'default');
});

void test('a bad value names the variable, the value and what is allowed', () => {
  const err = configError({ PERF_PROFILE: 'fast' });
  assert.match(err.message, /PERF_PROFILE="fast"/);
  assert.match(err.message, /must be one of smoke, default, full/);
  assert.equal(err.problems.length, 1);
});

void test('every bad value is reported at once', () => {
  const err = configError({
    BASE_URL: 'localhost:3000',
    MODEL_SIM_LATENCY: 'turbo',
    MEMORYCHAT_FAULTS: 'n-plus-one,explode',
    PERF_BASELINE_TOLERANCE: 'lots',
    PERF_RUN_ID: 'a@b',
    PERF_ALLOW_SEED: 'maybe',
  });
  const text = err.message;
  for (const name of [
    'BASE_URL',
    'MODEL_SIM_LATENCY',
    'MEMORYCHAT_FAULTS',
    'PERF_BASELINE_TOLERANCE',
    'PERF_RUN_ID',
    'PERF_ALLOW_SEED',
  ]) {
    assert.match(text, new RegExp(`${name}=`), `${name} is named`);
  }
  assert.match(text, /missing-indexes, n-plus-one/); // the allowed faults are listed
  assert.match(text, /instant, realistic, slow/);
  assert.equal(err.problems.length, 6);
});

void test('PERF_BASELINE_TOLERANCE takes the forms the baseline comparison reads: fraction or percentage', () => {
  assert.equal(load({ PERF_BASELINE_TOLERANCE: '0.1' }).baselineTolerance, 0.1);
  assert.equal(load({ PERF_BASELINE_TOLERANCE: '10%' }).baselineTolerance, 0.1);
  assert.equal(load({ PERF_BASELINE_TOLERANCE: ' 25 % ' }).baselineTolerance, 0.25);
  assert.equal(load({ PERF_BASELINE_TOLERANCE: '0' }).baselineTolerance, 0);
  for (const bad of ['lots', '%', '-5%', '10', '1e9']) {
    const err = configError({ PERF_BASELINE_TOLERANCE: bad });
    assert.match(err.message, /PERF_BASELINE_TOLERANCE=.*must be a fraction like 0\.1 or a percentage like 10%/, bad);
    // What config accepts, the reporter's parser accepts (and vice versa): one rule, no late failure.
    assert.throws(() => parseTolerance(bad), BaselineError, bad);
  }
});

void test('a relative PERF_REPORT_DIR is under the repo root (like playwright.config.ts), not the cwd', () => {
  const c = loadConfig({ env: { PERF_REPORT_DIR: 'out/r' }, dotenvDir: false });
  assert.equal(c.reportDir, path.join(REPO_ROOT, 'out', 'r'));
  assert.equal(resolveReportDir(undefined), path.join(REPO_ROOT, 'reports'));
  assert.equal(resolveReportDir('/abs/dir'), '/abs/dir');
  assert.ok(existsSync(path.join(REPO_ROOT, 'playwright.config.ts')), `REPO_ROOT=${REPO_ROOT}`);
});

void test('secrets are not echoed in error messages', () => {
  const err = configError({
    DATABASE_URL: 'mysql://admin:hunter2secret@db/x',
    OPENAI_API_KEY: 'sk-abc',
    PERF_PROFILE: 'nope',
  });
  assert.doesNotMatch(err.message, /hunter2secret/);
  assert.match(err.message, /DATABASE_URL="mysql:\/\/admin:\*\*\*@db\/x"/);
});

void test('an http URL with a user or password is refused, and its password is not echoed', () => {
  for (const name of ['BASE_URL', 'OPENAI_BASE_URL', 'BASELINE_URL', 'BASELINE_OPENAI_BASE_URL']) {
    const err = configError({ [name]: 'https://perf:s3cretpass@staging.example.com' });
    assert.match(err.message, new RegExp(`${name}=.*must not hold a user or password`), name);
    assert.doesNotMatch(err.message, /s3cretpass/, name);
  }
  assert.equal(load({ BASE_URL: 'https://staging.example.com/a@b' }).baseUrl, 'https://staging.example.com/a@b');
});

void test('.env is loaded without overriding the environment', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'perf-config-'));
  try {
    writeFileSync(path.join(dir, '.env'), 'PERF_PROFILE=full\nPERF_RUN_ID=from-dotenv\n');
    const env: NodeJS.ProcessEnv = { PERF_RUN_ID: 'from-env' };
    const c = loadConfig({ env, dotenvDir: dir, cwd: dir });
    assert.equal(c.profile, 'full');
    assert.equal(c.runId, 'from-env');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('compare mode from .env: the emptied ref the workers get stays unset', () => {
  // Global setup hands the workers the base arm as BASELINE_URL and empties PERF_COMPARE_REF.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'perf-config-'));
  try {
    writeFileSync(path.join(dir, '.env'), 'PERF_COMPARE_REF=main\n');
    const env: NodeJS.ProcessEnv = {
      PERF_COMPARE_REF: '',
      BASELINE_URL: 'http://127.0.0.1:4000',
      BASELINE_DATABASE_URL: 'postgres://u:p@127.0.0.1:5433/memorychat_perf_test',
    };
    const c = loadConfig({ env, dotenvDir: dir, cwd: dir });
    assert.deepEqual(c.compare?.kind, 'deployment');
    // Deleted instead, .env would bring the ref back beside BASELINE_URL: every worker would stop.
    const { PERF_COMPARE_REF: _emptied, ...deleted } = env;
    assert.throws(() => loadConfig({ env: deleted, dotenvDir: dir, cwd: dir }), /both set/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('project selection decides the run profile', () => {
  assert.deepEqual(selectedProjects(['node', 'pw', 'test', '--project=smoke', '--project', 'perf']), ['smoke', 'perf']);
  const c = load({ PERF_PROFILE: 'full' });
  assert.equal(runProfile(c, ['x', '--project=smoke']), 'smoke');
  assert.equal(runProfile(c, ['x', '--project=smoke', '--project=perf']), 'full');
  assert.equal(runProfile(c, ['x']), 'full');
});

void test('chromium detection: CHROMIUM_PATH, then the system browser (headless shell first), else a hint', () => {
  assert.deepEqual(detectChromium('/opt/c', { exists: (p) => p === '/opt/c' || p === SYSTEM_HEADLESS_SHELL }), {
    executablePath: '/opt/c',
    source: 'CHROMIUM_PATH',
  });
  const missing = detectChromium('/opt/none', { exists: () => false });
  assert.equal(missing.source, 'none');
  assert.match(missing.problem ?? '', /CHROMIUM_PATH=\/opt\/none does not exist.*apt-get install chromium/);
  const full = (p: string) => p === '/usr/bin/chromium';
  assert.equal(detectChromium(undefined, { exists: full }).executablePath, '/usr/bin/chromium');
  const both = (p: string) => p === '/usr/bin/chromium' || p === SYSTEM_HEADLESS_SHELL;
  assert.equal(detectChromium(undefined, { exists: both }).executablePath, SYSTEM_HEADLESS_SHELL);
  assert.equal(detectChromium(undefined, { exists: both, headed: true }).executablePath, '/usr/bin/chromium');
  const shellOnly = (p: string) => p === SYSTEM_HEADLESS_SHELL;
  assert.notEqual(detectChromium(undefined, { exists: shellOnly, headed: true }).executablePath, SYSTEM_HEADLESS_SHELL);
  assert.match(detectChromium(undefined, { exists: () => false }).problem ?? '', /npx playwright install chromium/);
});

void test('redaction: URL passwords, bearer tokens, API keys, registered secrets', () => {
  assert.equal(
    redactUrl('postgres://memorychat:s3cr3t@127.0.0.1:5432/db'),
    'postgres://memorychat:***@127.0.0.1:5432/db',
  );
  const text = redact(
    'connect postgres://u:pw@h/db failed; Authorization: Bearer abc.DEF-123; ' +
      'key sk-proj-ABCDEF123456; "password": "x1"',
  );
  assert.doesNotMatch(text, /pw@|abc\.DEF-123|ABCDEF123456|x1/);
  registerSecret('my-very-own-secret');
  assert.equal(redact('value my-very-own-secret here'), 'value *** here');
  assert.deepEqual(redactDeep({ a: ['Bearer tok123456'], n: 5 }), { a: ['Bearer ***'], n: 5 });
});

void test('redaction: a password with a raw @ is masked whole, in every redactor', () => {
  const url = 'postgres://u:p@ss@w0rd@db.example.com:5432/memorychat_test';
  const masked = 'postgres://u:***@db.example.com:5432/memorychat_test';
  assert.equal(redactUrl(url), masked);
  const message = `connect ${url} failed; write to ops@example.com`;
  for (const out of [redact(message)]) {
    assert.doesNotMatch(out, /ss@|w0rd/);
    assert.match(out, /u:\*\*\*@db\.example\.com:5432\/memorychat_test failed; write to ops@example\.com$/);
  }
  // No path: the password still ends at the last @ before the host.
  assert.equal(redactUrl('postgresql://a:b@c@d@h'), 'postgresql://a:***@h');
});

void test('redaction: passwords with a slash or a quote, no user, in the query, or quoted key=value', () => {
  const cases: [string, string][] = [
    ['postgres://perf:ab/cd@db/x_test', 'postgres://perf:***@db/x_test'],
    ["postgres://perf:Xy'9z@db/x_test", 'postgres://perf:***@db/x_test'],
    ['postgres://:pw@h/db', 'postgres://:***@h/db'],
    ['postgres://perf@db/x_test?password=hunter2', 'postgres://perf@db/x_test?password=***'],
    ['postgres://u:p@h/db?sslmode=require&sslpassword=abc', 'postgres://u:***@h/db?sslmode=require&sslpassword=***'],
  ];
  for (const [url, masked] of cases) {
    assert.equal(redactUrl(url), masked, url);
    assert.equal(redact(`connect ${url} failed`), `connect ${masked} failed`, url);
  }
  assert.equal(redact("host=db password='se cret' dbname=x_test"), "host=db password='***' dbname=x_test");
  assert.equal(redactUrl('http://127.0.0.1:3000'), 'http://127.0.0.1:3000');
});

void test('stack protocol lines are parsed; other lines ignored', () => {
  assert.deepEqual(parseStackLine('BASE_URL=http://127.0.0.1:1234'), {
    key: 'BASE_URL',
    value: 'http://127.0.0.1:1234',
  });
  assert.deepEqual(parseStackLine('STACK_READY_MS=812'), { key: 'STACK_READY_MS', value: '812' });
  assert.equal(parseStackLine('MemoryChat stack ready in 812 ms (Ctrl-C to stop)'), undefined);
  assert.equal(parseStackLine('HOME=/root'), undefined);
});

void test("the app's node flags: read from app/node-flags.json, the same as npm run stack's", () => {
  const root = path.join(__dirname, '..', '..');
  const flags = appNodeFlags(root);
  assert.ok(flags.length > 0, `${APP_NODE_FLAGS_FILE} lists the app's flags`);
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts.stack, `node ${flags.join(' ')} --import tsx app/stack.ts`);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'node-flags-'));
  try {
    assert.deepEqual(appNodeFlags(dir), [], 'a checkout without the file (an older ref): no flags');
    mkdirSync(path.join(dir, 'app'));
    for (const [text, why] of [
      ['{ "flags": ["--max-semi-space-size=4"', 'cannot be read'],
      ['{ "flags": "--max-semi-space-size=4" }', 'no list under "flags"'],
      ['null', 'no list under "flags"'],
      ['{ "flags": ["max-semi-space-size=4"] }', '"max-semi-space-size=4" is not a node flag'],
      ['{ "flags": ["--"] }', '"--" is not a node flag'],
      ['{ "flags": ["--max-semi-space-size=4 --inspect"] }', 'is not a node flag'],
      ['{ "flags": [4] }', '4 is not a node flag'],
    ] as const) {
      writeFileSync(path.join(dir, APP_NODE_FLAGS_FILE), text);
      assert.throws(
        () => appNodeFlags(dir),
        (e: unknown) => e instanceof StackStartError && e.message.includes(why) && e.message.includes('fix '),
        text,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('switchOn: an app switch is on for 1/true/yes in any case, off otherwise', () => {
  for (const on of ['1', 'true', 'TRUE', ' yes ']) assert.equal(switchOn(on), true, on);
  for (const off of [undefined, '', '0', 'false', 'no', 'maybe']) assert.equal(switchOn(off), false, String(off));
});
