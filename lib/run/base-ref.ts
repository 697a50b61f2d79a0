/**
 * Compare mode's base arm from a git ref: a checkout of that commit's reference app, kept in a
 * cache keyed by the commit (and, for a linked node_modules, by its dependencies), whose bundled
 * stack runs beside the candidate's.
 *
 * - The checkout is `git archive <commit>` unpacked into a folder of its own run, given its
 *   dependencies, marked `.ready` and only then renamed into place: a copy in the cache is always
 *   whole, and of two runs preparing the same commit at once the first rename wins and the other
 *   uses it.
 * - `node_modules`: when the commit's package-lock.json equals the checkout's, a symlink to the
 *   checkout's own (seconds, no network), in a copy named `<commit>-<key>` where the key hashes the
 *   link's target and the lockfile: a branch that changes its dependencies, or another clone, gets
 *   a copy of its own, so a base never runs on dependencies it did not lock. Otherwise `npm ci` in
 *   a copy named `<commit>`, once. A cached copy whose node_modules no longer resolves (the clone
 *   that made it was deleted, an install that died) is made again.
 * Cache: PERF_COMPARE_CACHE (relative to the repository), default
 * `~/.cache/memorychat-perf/base`, as root `/var/cache/memorychat-perf/base` (outside the
 * repository, so the linters and the type checker never see a second copy of the sources).
 * Each use marks its copy as used; then the cache is pruned (`pruneBaseCache`): a copy with its
 * own `npm ci` holds hundreds of MB, and a pull-request loop makes a new base every few commits.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { TargetError } from './target';

const run = promisify(execFile);
const READY = '.ready';
const INSTALL_TIMEOUT_MS = 10 * 60_000;
/** Any one git command (rev-parse, archive). */
const GIT_TIMEOUT_MS = 60_000;
/** Pruning keeps this many most recently used copies, */
const KEEP_RECENT = 5;
/** and every copy used this recently: another run on this machine may be using it right now. */
const KEEP_USED_WITHIN_MS = 24 * 60 * 60_000;
/** A copy without its ready marker this old is a preparation that died (Ctrl-C, full disk). */
const ABANDONED_AFTER_MS = 60 * 60_000;
/** A copy: `<commit>` (its own npm ci) or `<commit>-<key>` (linked node_modules). */
const COPY = '[0-9a-f]{40,64}(-[0-9a-f]{12})?';
const COPY_NAME = new RegExp(`^${COPY}$`);
/** A preparation's folder or archive (`<copy>.tmp-<pid>-<random>[.tar]`), or an older version's archive. */
const COPY_NAME_IN_THE_MAKING = new RegExp(`^${COPY}(\\.tmp-\\d+-[0-9a-f]{8}(\\.tar)?|\\.tar)$`);

export interface BaseCheckout {
  ref: string;
  commit: string;
  dir: string;
  /** 'cached': used as it was; 'linked': fresh copy sharing node_modules; 'installed': own npm ci. */
  how: 'cached' | 'linked' | 'installed';
}

/**
 * The cache's default as root. The base's embedded PostgreSQL then runs as the `postgres` user
 * (app/db/embedded.ts), which must reach the copy's binaries and data folders: root's home (mode
 * 700) is closed to it, so a base with its own `npm ci` could not even run initdb there.
 */
export const ROOT_COMPARE_CACHE = '/var/cache/memorychat-perf/base';

export function compareCacheDir(env: NodeJS.ProcessEnv = process.env, asRoot = runsAsRoot()): string {
  const given = env.PERF_COMPARE_CACHE?.trim();
  if (given) return given;
  return asRoot ? ROOT_COMPARE_CACHE : path.join(os.homedir(), '.cache', 'memorychat-perf', 'base');
}

function runsAsRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * Why the base's stack could not start from copies in `cacheDir`, if it could not: as root, a
 * folder on the way there that other users cannot enter keeps the postgres user out.
 */
export function compareCacheProblem(cacheDir: string, asRoot = runsAsRoot()): string | undefined {
  if (!asRoot) return undefined;
  for (let dir = path.resolve(cacheDir); ; dir = path.dirname(dir)) {
    if (existsSync(dir) && (statSync(dir).mode & 0o001) === 0) {
      return (
        `The base checkouts' folder ${cacheDir} is inside ${dir}, which other users cannot enter. As root, ` +
        "the base's embedded PostgreSQL runs as the postgres user and must reach its copy: set " +
        `PERF_COMPARE_CACHE to a folder every user can enter, such as ${ROOT_COMPARE_CACHE}.`
      );
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

async function git(repo: string, args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd: repo, timeout: GIT_TIMEOUT_MS, maxBuffer: 1 << 20 });
  return stdout.trim();
}

/** What a failed child process (execFile) says: its own words, or that it was stopped. */
function failureText(err: unknown, timeoutMs: number): string {
  const e = err as { code?: unknown; killed?: boolean; signal?: string | null; stderr?: string; message?: string };
  // execFile kills at its timeout (`killed`); a signal from elsewhere (Ctrl-C, the OOM killer) is only `signal`.
  if (e.killed) return `stopped at its ${Math.round(timeoutMs / 1000)} s time limit`;
  if (e.signal) return `stopped by ${e.signal}`;
  return (e.stderr?.trim() || e.message || String(err)).trim();
}

/** The commit a ref names, or a TargetError saying what went wrong and how to fix it. */
export async function resolveCommit(repo: string, ref: string): Promise<string> {
  try {
    return await git(repo, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  } catch (err) {
    const e = err as { code?: unknown; stderr?: string };
    if (e.code === 'ENOENT') {
      throw new TargetError(
        'PERF_COMPARE_REF needs git, and git is not installed (or not on PATH). Fix: install git, or start ' +
          'the base yourself and compare with BASELINE_URL and BASELINE_DATABASE_URL.',
      );
    }
    // `--quiet` makes an unknown ref exit 1 without a word; anything git says is another problem.
    if (e.stderr?.trim() || typeof e.code !== 'number') {
      throw new TargetError(
        `PERF_COMPARE_REF=${ref}: git could not read this repository's history in ${repo} ` +
          `(${failureText(err, GIT_TIMEOUT_MS)}). Fix: run from a git clone of the suite (not a copy without ` +
          '.git), or start the base yourself and compare with BASELINE_URL and BASELINE_DATABASE_URL.',
      );
    }
    throw new TargetError(
      `PERF_COMPARE_REF=${ref} is not a commit of this repository (git rev-parse found nothing). ` +
        `Fix: fetch it first (e.g. \`git fetch origin ${ref}\`; a shallow CI clone needs \`fetch-depth: 0\`), ` +
        'or name an existing branch, tag or commit.',
    );
  }
}

/**
 * How the base copy gets its dependencies: a link to the checkout's node_modules when the lockfiles
 * match (git blob ids: the commit's and the working tree's), and the copy's folder then carries a
 * key of the link's target and the lockfile; else undefined (its own npm ci).
 */
async function dependencyPlan(repo: string, commit: string): Promise<{ link: string; key: string } | undefined> {
  const modules = path.join(repo, 'node_modules');
  const blob = (args: string[]) => git(repo, args).catch(() => undefined);
  const [baseLock, lock] = await Promise.all([
    blob(['rev-parse', '--verify', '--quiet', `${commit}:package-lock.json`]),
    blob(['hash-object', '--', 'package-lock.json']),
  ]);
  if (!baseLock || baseLock !== lock || !existsSync(modules)) return undefined;
  const target = realpathSync(modules);
  return { link: target, key: createHash('sha256').update(`${target}\n${lock}`).digest('hex').slice(0, 12) };
}

/** `npm ci` in the base copy `dir` (its lockfile differs from the checkout's). */
async function installDependencies(dir: string, ref: string, commit: string, log: (line: string) => void) {
  log(`installing the base's dependencies (its package-lock.json differs): npm ci in ${dir}`);
  try {
    await run('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts=false'], {
      cwd: dir,
      timeout: INSTALL_TIMEOUT_MS,
      maxBuffer: 16 << 20,
    });
  } catch (err) {
    const tail = failureText(err, INSTALL_TIMEOUT_MS).split('\n').slice(-5).join('\n    ');
    throw new TargetError(
      `The base ref ${ref} (${commit.slice(0, 12)}) does not install (npm ci failed):\n    ${tail}\n` +
        'Fix: compare against a base whose dependencies install (or check the network and retry).',
    );
  }
}

/** Prepares (or reuses) the checkout of `ref` for the base arm. */
export async function prepareBaseCheckout(
  repo: string,
  ref: string,
  opts: { cacheDir?: string; log?: (line: string) => void } = {},
): Promise<BaseCheckout> {
  const log = opts.log ?? (() => undefined);
  const commit = await resolveCommit(repo, ref);
  // Against the repository, as git resolves paths, whichever folder the run was started from.
  const cacheDir = path.resolve(repo, opts.cacheDir ?? compareCacheDir());
  const checkout = await checkOut(repo, ref, commit, cacheDir, log);
  try {
    markUsed(checkout.dir);
    const removed = pruneBaseCache(cacheDir, { keep: path.basename(checkout.dir) });
    if (removed.length > 0) log(`removed ${removed.length} older base checkout(s) from ${cacheDir}`);
  } catch (err) {
    // A cache that cannot be marked or pruned (read-only, another user's) costs disk, not the run.
    log(`could not prune the base checkouts in ${cacheDir}: ${String(err)}`);
  }
  return checkout;
}

/**
 * A copy in the cache is usable when it is marked ready and its node_modules resolves, and is a
 * link exactly when it should be (an older version of this file linked copies named `<commit>`).
 */
function usable(dir: string, linked: boolean): boolean {
  const modules = path.join(dir, 'node_modules');
  // existsSync follows the link: false when the checkout it pointed to is gone.
  if (!existsSync(path.join(dir, READY)) || !existsSync(modules)) return false;
  return lstatSync(modules).isSymbolicLink() === linked;
}

/** The checkout of `commit` in the cache: reused when usable, else made in a folder of its own, then renamed. */
async function checkOut(
  repo: string,
  ref: string,
  commit: string,
  cacheDir: string,
  log: (line: string) => void,
): Promise<BaseCheckout> {
  const plan = await dependencyPlan(repo, commit);
  const dir = path.join(cacheDir, plan ? `${commit}-${plan.key}` : commit);
  const linked = plan !== undefined;
  if (usable(dir, linked)) return { ref, commit, dir, how: 'cached' };
  if (existsSync(dir)) {
    log(
      `the cached base ${path.basename(dir)} cannot be used as it is (unfinished, its node_modules gone, ` +
        'or linked to dependencies it did not lock): making it again',
    );
  }

  mkdirSync(cacheDir, { recursive: true });
  const work = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    mkdirSync(work);
    // git archive | tar -x, without a shell: archive to a file, then unpack it.
    const tarball = `${work}.tar`;
    try {
      await git(repo, ['archive', '--format=tar', `--output=${tarball}`, commit]);
      await run('tar', ['-xf', tarball, '-C', work], { timeout: 120_000 });
    } catch (err) {
      throw new TargetError(`Could not check out ${ref} (${commit.slice(0, 12)}) for the base arm: ${String(err)}`);
    } finally {
      rmSync(tarball, { force: true });
    }
    if (!existsSync(path.join(work, 'app', 'stack.ts'))) {
      throw new TargetError(
        `PERF_COMPARE_REF=${ref} (${commit.slice(0, 12)}) has no app/stack.ts: it predates the bundled reference ` +
          'app, so the suite cannot start it. Fix: pick a newer base, or start the base yourself and compare with ' +
          'BASELINE_URL and BASELINE_DATABASE_URL.',
      );
    }
    if (plan) symlinkSync(plan.link, path.join(work, 'node_modules'), 'dir');
    else await installDependencies(work, ref, commit, log);
    writeFileSync(path.join(work, READY), `${commit}\n`);
    // An incomplete copy goes first (a rename cannot replace a folder that holds files).
    if (existsSync(dir) && !usable(dir, linked)) rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(work, dir);
    } catch (err) {
      // Another run prepared the same copy meanwhile: use theirs.
      if (!usable(dir, linked)) throw err;
      return { ref, commit, dir, how: 'cached' };
    }
    return { ref, commit, dir, how: linked ? 'linked' : 'installed' };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The ready marker's mtime is the copy's last use. */
function markUsed(dir: string): void {
  const now = new Date();
  utimesSync(path.join(dir, READY), now, now);
}

/**
 * Removes base checkouts nobody is likely to need: beyond the KEEP_RECENT most recently used, those
 * not used for KEEP_USED_WITHIN_MS; and half-made ones (no ready marker) older than
 * ABANDONED_AFTER_MS. `keep` (the copy this run uses) always stays. Only folders named like a
 * commit are touched, and a node_modules link is removed as a link, never followed. Returns the
 * removed folders.
 */
export function pruneBaseCache(cacheDir: string, opts: { keep?: string; now?: number } = {}): string[] {
  const now = opts.now ?? Date.now();
  if (!existsSync(cacheDir)) return [];
  const ready: { dir: string; usedAt: number }[] = [];
  const removed: string[] = [];
  const remove = (dir: string) => {
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  };
  const stale = (p: string) => now - statSync(p).mtimeMs > ABANDONED_AFTER_MS;
  for (const entry of readdirSync(cacheDir, { withFileTypes: true })) {
    // What a died preparation left: its folder in the making, or its archive.
    if (COPY_NAME_IN_THE_MAKING.test(entry.name)) {
      if (stale(path.join(cacheDir, entry.name))) remove(path.join(cacheDir, entry.name));
      continue;
    }
    if (!entry.isDirectory() || !COPY_NAME.test(entry.name) || entry.name === opts.keep) continue;
    const dir = path.join(cacheDir, entry.name);
    const marker = path.join(dir, READY);
    if (existsSync(marker)) ready.push({ dir, usedAt: statSync(marker).mtimeMs });
    else if (stale(dir)) remove(dir);
  }
  ready.sort((a, b) => b.usedAt - a.usedAt);
  // `keep` counts as one of the recent ones.
  const recent = opts.keep ? KEEP_RECENT - 1 : KEEP_RECENT;
  for (const [i, copy] of ready.entries()) {
    if (i >= recent && now - copy.usedAt > KEEP_USED_WITHIN_MS) remove(copy.dir);
  }
  return removed;
}
