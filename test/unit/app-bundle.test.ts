/**
 * The prebuilt app bundle (lib/run/app-bundle.ts), on a copy of this checkout's app/ and contract/:
 * built once and reused, rebuilt for edited sources, each file's `__dirname` kept, and refused
 * (with its reason) when it would hold a file its key does not cover. The stack tests that start
 * the bundled stack (test-database, stack-lifetime, api-contract, …) run it. And the launcher
 * (lib/run/stack-process.ts) leads with the stack's own reason when it does not start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { appBundleCacheDir, prepareAppBundle, type AppBundle } from '../../lib/run/app-bundle';
import { startStackProcess } from '../../lib/run/stack-process';
import { tempDir } from '../support/temp-dir';

const ROOT = path.resolve(__dirname, '..', '..');

/** A checkout with this one's app sources (tests and UI left out: a bundle holds neither). */
function checkoutCopy(): string {
  const dir = tempDir('app-bundle-');
  const skip = new Set([path.join(ROOT, 'app', 'test'), path.join(ROOT, 'app', 'ui')]);
  cpSync(path.join(ROOT, 'app'), path.join(dir, 'app'), { recursive: true, filter: (src) => !skip.has(src) });
  cpSync(path.join(ROOT, 'contract'), path.join(dir, 'contract'), { recursive: true });
  cpSync(path.join(ROOT, 'tsconfig.json'), path.join(dir, 'tsconfig.json'));
  return dir;
}

function prepare(dir: string): Promise<{ bundle: AppBundle; built: string[] }> {
  const built: string[] = [];
  return prepareAppBundle(dir, (line) => built.push(line)).then((bundle) => ({ bundle, built }));
}

void test('built once, reused while the sources stay, built anew after an edit; stale ones removed', async () => {
  const dir = checkoutCopy();
  const first = await prepare(dir);
  assert.equal(first.built.length, 1, 'the first start builds');
  assert.match(first.built[0] ?? '', /^app bundle built in \d+ ms/);
  const again = await prepare(dir);
  assert.deepEqual(again.built, [], 'an unchanged checkout reuses its bundle');
  assert.deepEqual(again.bundle, first.bundle);

  // A day-old bundle of other sources and an hour-old staging folder of a killed build go when
  // the next bundle is built; the bundle in use stays.
  const cache = appBundleCacheDir(dir);
  const dead = path.join(cache, '.staging-999999-00000000');
  mkdirSync(dead);
  const old = new Date(Date.now() - 25 * 3600 * 1000);
  utimesSync(dead, old, old);
  utimesSync(path.dirname(first.bundle.stack), old, old);
  appendFileSync(path.join(dir, 'app', 'config.ts'), '\n// an edit\n');
  const edited = await prepare(dir);
  assert.equal(edited.built.length, 1, 'an edited source builds a new bundle');
  assert.notEqual(path.dirname(edited.bundle.stack), path.dirname(first.bundle.stack));
  assert.deepEqual(readdirSync(cache), [path.basename(path.dirname(edited.bundle.stack))]);
});

void test("each file's __dirname is its own folder in the source tree", async () => {
  const dir = checkoutCopy();
  const { bundle } = await prepare(dir);
  const code = readFileSync(bundle.stack, 'utf8');
  // The UI, the migrations and the template's root are found from these folders at run time.
  for (const folder of [
    ['app', 'server'],
    ['app', 'db'],
  ])
    assert.ok(code.includes(JSON.stringify(path.join(dir, ...folder))), `${folder.join('/')} named in the bundle`);
  assert.doesNotMatch(code, /\b__dirname\b/, 'no __dirname of the bundle itself');
  assert.ok(readFileSync(bundle.modelSimulator, 'utf8').length > 0);
});

void test('a bundle that would hold a file its key does not cover is refused, with the reason', async () => {
  const dir = checkoutCopy();
  writeFileSync(path.join(dir, 'app', 'extra.json'), '{"answer": 42}\n');
  appendFileSync(path.join(dir, 'app', 'config.ts'), "\nimport extra from './extra.json';\nvoid extra;\n");
  await assert.rejects(prepare(dir), /files its key does not cover: .*extra\.json/);
  assert.deepEqual(readdirSync(appBundleCacheDir(dir)), [], 'no bundle and no staging folder left');
});

void test('two starts at once end with one bundle', async () => {
  const dir = checkoutCopy();
  const [a, b] = await Promise.all([prepare(dir), prepare(dir)]);
  assert.deepEqual(a.bundle, b.bundle);
  assert.equal(readdirSync(appBundleCacheDir(dir)).length, 1, 'one key folder, no staging left');
});

void test("a stack that says why it did not start: the launcher's error leads with that reason", async () => {
  const dir = tempDir('failing-stack-');
  mkdirSync(path.join(dir, 'app', 'model-sim'), { recursive: true });
  writeFileSync(path.join(dir, 'app', 'model-sim', 'cli.ts'), '');
  writeFileSync(
    path.join(dir, 'app', 'stack.ts'),
    "process.stderr.write('MemoryChat stack failed to start: the reason, in one line\\n');\nprocess.exit(1);\n",
  );
  await assert.rejects(
    startStackProcess({ cwd: dir, env: {}, logFile: path.join(dir, 'stack.log'), startTimeoutMs: 20_000 }),
    /^StackStartError: The bundled stack \(app\/stack\.ts\) could not start \(exit code 1\): the reason, in one line\./,
  );
});
