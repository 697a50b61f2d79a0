/**
 * Compare mode's bad input: each case ends in one message naming the cause and the fix, never a
 * one-armed run. Unknown ref, a ref without the bundled app, an unreachable base deployment, a
 * base on another schema version, and the configuration rules of the two ways to name a base.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { compareSetupProblem, ConfigError, loadConfig } from '../../lib/run/config';
import {
  compareCacheDir,
  compareCacheProblem,
  prepareBaseCheckout,
  pruneBaseCache,
  ROOT_COMPARE_CACHE,
} from '../../lib/run/base-ref';
import { BASE_NAMES, openTarget, TargetError } from '../../lib/run/target';
import { SCHEMA_VERSION } from '../../contract';
import { tempDir } from '../support/temp-dir';

const load = (env: Record<string, string>) => loadConfig({ env: { ...env }, dotenvDir: false, cwd: '/work' });

function gitRepo(files: Record<string, string>): string {
  const dir = tempDir('compare-repo-');
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
      .toString()
      .trim();
  git('init', '-q');
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), body);
  }
  git('add', '-A');
  git('-c', 'user.email=t@example.test', '-c', 'user.name=t', 'commit', '-q', '-m', 'one');
  return dir;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  assert.fail('expected a rejection');
}

function healthServer(schemaVersion: number): Promise<Server> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'ok', app: 'memorychat', version: 'x', schemaVersion, models: {}, faults: [] }));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

void describe('compare mode: bad input', () => {
  void test('an unknown ref: TargetError naming the ref and how to fetch it', async () => {
    const repo = gitRepo({ 'app/stack.ts': '' });
    const err = await rejection(prepareBaseCheckout(repo, 'no-such-branch', { cacheDir: tempDir('cache-') }));
    assert.ok(err instanceof TargetError);
    assert.match(err.message, /PERF_COMPARE_REF=no-such-branch is not a commit .*`git fetch origin no-such-branch`/);
  });

  void test('a ref without the bundled app: an error pointing at BASELINE_URL, nothing half-made left', async () => {
    const repo = gitRepo({ 'README.md': 'old' });
    const cacheDir = tempDir('cache-');
    const err = await rejection(prepareBaseCheckout(repo, 'HEAD', { cacheDir }));
    assert.ok(err instanceof TargetError);
    assert.match(err.message, /has no app\/stack\.ts.*BASELINE_URL/s);
    assert.deepEqual(readdirSync(cacheDir), [], 'no copy, folder in the making or archive is left');
  });

  void test('a ref is checked out once per commit and then reused', async () => {
    const repo = gitRepo({ 'app/stack.ts': '// stack', 'package-lock.json': '{}' });
    mkdirSync(path.join(repo, 'node_modules'));
    const cacheDir = tempDir('cache-');
    const first = await prepareBaseCheckout(repo, 'HEAD', { cacheDir });
    assert.equal(first.how, 'linked', 'same lockfile: node_modules is shared');
    assert.equal(readFileSync(path.join(first.dir, 'app', 'stack.ts'), 'utf8'), '// stack');
    const again = await prepareBaseCheckout(repo, 'HEAD', { cacheDir });
    assert.deepEqual([again.how, again.dir], ['cached', first.dir]);
  });

  void test('another clone gets a copy of its own, linked to its own node_modules', async () => {
    const files = { 'app/stack.ts': '// stack', 'package-lock.json': '{}' };
    const first = gitRepo(files);
    mkdirSync(path.join(first, 'node_modules'));
    const cacheDir = tempDir('cache-');
    const one = await prepareBaseCheckout(first, 'HEAD', { cacheDir });
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: first }).toString().trim();
    const clone = tempDir('compare-clone-');
    execFileSync('git', ['clone', '-q', first, clone], { stdio: 'ignore' });
    mkdirSync(path.join(clone, 'node_modules'));
    const two = await prepareBaseCheckout(clone, commit, { cacheDir });
    assert.equal(two.how, 'linked');
    assert.notEqual(two.dir, one.dir);
    assert.equal(realpathSync(path.join(two.dir, 'node_modules')), realpathSync(path.join(clone, 'node_modules')));
  });

  void test('a linked copy is not reused once the checkout changes its lockfile', async () => {
    // The base commit locks '{}'; the branch now locks something else: the base needs its own
    // npm ci (which fails for this fake package), never the branch's node_modules.
    const repo = gitRepo({ 'app/stack.ts': '// stack', 'package-lock.json': '{}' });
    mkdirSync(path.join(repo, 'node_modules'));
    const cacheDir = tempDir('cache-');
    assert.equal((await prepareBaseCheckout(repo, 'HEAD', { cacheDir })).how, 'linked');
    writeFileSync(path.join(repo, 'package-lock.json'), '{"lockfileVersion": 3}');
    // Also not a linked copy named by the commit alone, as an earlier version of the suite made them.
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repo }).toString().trim();
    mkdirSync(path.join(cacheDir, commit, 'app'), { recursive: true });
    writeFileSync(path.join(cacheDir, commit, '.ready'), commit);
    symlinkSync(path.join(repo, 'node_modules'), path.join(cacheDir, commit, 'node_modules'), 'dir');
    const err = await rejection(prepareBaseCheckout(repo, 'HEAD', { cacheDir }));
    assert.ok(err instanceof TargetError);
    assert.match(err.message, /does not install \(npm ci failed\)/);
  });

  void test('an incomplete copy is made again; two runs preparing one commit at once share it', async () => {
    const repo = gitRepo({ 'app/stack.ts': '// stack', 'package-lock.json': '{}' });
    mkdirSync(path.join(repo, 'node_modules'));
    const cacheDir = tempDir('cache-');
    const made = await prepareBaseCheckout(repo, 'HEAD', { cacheDir });
    // What an install that died leaves: marked ready, no node_modules.
    rmSync(path.join(made.dir, 'node_modules'));
    const again = await prepareBaseCheckout(repo, 'HEAD', { cacheDir });
    assert.deepEqual([again.how, again.dir], ['linked', made.dir]);
    assert.ok(existsSync(path.join(again.dir, 'node_modules', '.')));

    rmSync(cacheDir, { recursive: true });
    const both = await Promise.all([1, 2, 3].map(() => prepareBaseCheckout(repo, 'HEAD', { cacheDir })));
    assert.equal(new Set(both.map((b) => b.dir)).size, 1);
    assert.ok(both.some((b) => b.how === 'linked'));
    assert.deepEqual(readdirSync(cacheDir), [path.basename(made.dir)], 'no folder in the making is left');
    assert.equal(readFileSync(path.join(made.dir, 'app', 'stack.ts'), 'utf8'), '// stack');
  });

  void test('as root, the base checkouts go where the postgres user can reach them, or the run says where', () => {
    assert.equal(compareCacheDir({}, true), ROOT_COMPARE_CACHE);
    assert.equal(compareCacheDir({}, false), path.join(os.homedir(), '.cache', 'memorychat-perf', 'base'));
    assert.equal(compareCacheDir({ PERF_COMPARE_CACHE: 'mine' }, true), 'mine');
    const closed = tempDir('closed-'); // mkdtemp: mode 700
    const inside = path.join(closed, 'base');
    assert.match(
      compareCacheProblem(inside, true) ?? '',
      new RegExp(`is inside ${closed}, which other users cannot enter.*set PERF_COMPARE_CACHE`, 's'),
    );
    assert.equal(compareCacheProblem(inside, false), undefined, 'as another user PostgreSQL runs as that user');
    chmodSync(closed, 0o755);
    assert.equal(compareCacheProblem(inside, true), undefined);
  });

  void test('a relative PERF_COMPARE_CACHE is under the repository; a copy without git history is named', async () => {
    const repo = gitRepo({ 'app/stack.ts': '// stack', 'package-lock.json': '{}' });
    mkdirSync(path.join(repo, 'node_modules'));
    const copy = await prepareBaseCheckout(repo, 'HEAD', { cacheDir: 'base-cache' });
    assert.equal(path.dirname(copy.dir), path.join(repo, 'base-cache'));
    const noGit = tempDir('no-git-');
    const err = await rejection(prepareBaseCheckout(noGit, 'main', { cacheDir: tempDir('cache-') }));
    assert.ok(err instanceof TargetError);
    assert.match(err.message, /git could not read this repository's history .*git clone of the suite/s);
  });

  void test('the cache keeps recent and recently used base copies, and never follows a node_modules link', () => {
    const cacheDir = tempDir('cache-');
    const shared = tempDir('shared-modules-');
    writeFileSync(path.join(shared, 'keep-me'), 'x');
    const hour = 60 * 60_000;
    const now = Date.now();
    const copy = (n: number, opts: { usedHoursAgo: number; ready?: boolean }): string => {
      const dir = path.join(cacheDir, String(n).repeat(40));
      mkdirSync(dir);
      symlinkSync(shared, path.join(dir, 'node_modules'), 'dir');
      const at = new Date(now - opts.usedHoursAgo * hour);
      if (opts.ready !== false) {
        writeFileSync(path.join(dir, '.ready'), 'x');
        utimesSync(path.join(dir, '.ready'), at, at);
      }
      utimesSync(dir, at, at);
      return dir;
    };
    // Eight ready copies used 1…8 days ago, one used an hour ago, a half-made one of yesterday and one in the making.
    const old = [1, 2, 3, 4, 5, 6, 7, 8].map((day) => copy(day, { usedHoursAgo: 24 * day + 1 }));
    const recent = copy(9, { usedHoursAgo: 1 });
    const halfMade = copy(0, { usedHoursAgo: 20, ready: false });
    const inTheMaking = path.join(cacheDir, 'a'.repeat(40));
    mkdirSync(inTheMaking);
    const other = path.join(cacheDir, 'notes');
    mkdirSync(other);
    // A preparation that died yesterday (its folder), and one under way now.
    const died = path.join(cacheDir, `${'b'.repeat(40)}.tmp-123-0a1b2c3d`);
    mkdirSync(died);
    utimesSync(died, new Date(now - 20 * hour), new Date(now - 20 * hour));
    const underWay = path.join(cacheDir, `${'b'.repeat(40)}-0123456789ab.tmp-456-0a1b2c3d`);
    mkdirSync(underWay);

    const removed = pruneBaseCache(cacheDir, { keep: path.basename(old[7] ?? ''), now });
    // Kept: the copy in use (8 days old), the one of an hour ago, and the three most recent others.
    assert.deepEqual(removed.sort(), [halfMade, died, ...old.slice(3, 7)].sort());
    for (const dir of [recent, inTheMaking, underWay, other, ...old.slice(0, 3), old[7] ?? '']) {
      assert.ok(existsSync(dir), dir);
    }
    assert.ok(existsSync(path.join(shared, 'keep-me')), 'the linked node_modules is not followed');
  });

  void test('an unreachable base deployment: TargetError naming BASELINE_URL', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => resolve(port));
      });
    });
    const err = await rejection(
      openTarget({ arm: 'base', baseUrl: `http://127.0.0.1:${closed}`, allowSeed: false, names: BASE_NAMES }),
    );
    assert.ok(err instanceof TargetError);
    assert.match(err.message, /The base arm is not reachable at BASELINE_URL=http:\/\/127\.0\.0\.1:\d+/);
  });

  void test('a base on another schema version: TargetError saying both arms need the same schema', async () => {
    const server = await healthServer(SCHEMA_VERSION - 1);
    try {
      const { port } = server.address() as AddressInfo;
      const err = await rejection(
        openTarget({ arm: 'base', baseUrl: `http://127.0.0.1:${port}`, allowSeed: false, names: BASE_NAMES }),
      );
      assert.ok(err instanceof TargetError);
      assert.match(
        err.message,
        new RegExp(`schema version ${SCHEMA_VERSION - 1}, the suite expects ${SCHEMA_VERSION}`),
      );
      assert.match(err.message, /Compare mode needs both arms on the schema/);
    } finally {
      server.close();
    }
  });

  void test('configuration: one way to name the base, and what each way needs', () => {
    const problems = (env: Record<string, string>) => {
      try {
        load(env);
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.message;
      }
      return '';
    };
    assert.deepEqual(load({ PERF_COMPARE_REF: 'main' }).compare, { kind: 'ref', ref: 'main' });
    assert.match(problems({ PERF_COMPARE_REF: 'main', BASELINE_URL: 'http://x:1' }), /both set/);
    assert.match(problems({ PERF_COMPARE_REF: 'main', BASE_URL: 'http://x:1' }), /needs the bundled stack/);
    assert.match(problems({ BASELINE_URL: 'http://x:1' }), /without BASELINE_DATABASE_URL/);
    // Two arms on different databases would compare the databases: refused where compare mode
    // starts, while `npm run cleanup` and the load test may still read such a configuration.
    const both = load({ PERF_COMPARE_REF: 'main', DATABASE_URL: 'postgres://u:p@127.0.0.1/memorychat_perf_test' });
    assert.match(compareSetupProblem(both) ?? '', /PERF_COMPARE_REF with DATABASE_URL: .*unset DATABASE_URL/);
    assert.equal(compareSetupProblem(load({ PERF_COMPARE_REF: 'main' })), undefined);
    assert.match(problems({ BASELINE_DATABASE_URL: 'postgres://u:p@h/db_test' }), /without BASELINE_URL/);
    assert.match(problems({ PERF_COMPARE_REF: 'main; rm -rf /' }), /must be a git ref/);
    assert.match(problems({ PERF_COMPARE_REF: '--output=/tmp/x' }), /must be a git ref/, 'never a git option');
    const secret = problems({ BASELINE_URL: 'http://x:1', BASELINE_DATABASE_URL: 'mysql://u:hunter2@h/db' });
    assert.doesNotMatch(secret, /hunter2/, 'a database password never reaches a message');
    assert.equal(load({}).compare, undefined, 'a plain run has no base');
  });
});
