/**
 * Compare mode's base arm from a git ref: a checkout of that commit's reference app, kept in a
 * cache keyed by the commit, whose bundled stack runs beside the candidate's.
 *
 * - The checkout is `git archive <commit>` unpacked into `<cache>/<commit>`: the files only, no
 *   worktree registration that a deleted clone would leave dangling. A `.ready` marker is
 *   written last, so a half-unpacked copy is never used.
 * - `node_modules`: when the commit's package-lock.json equals the checkout's, a symlink to the
 *   checkout's own (seconds, no network); otherwise `npm ci` in the cached copy, once. A cached
 *   copy whose link no longer resolves (the clone that made it was deleted) gets it again.
 * Cache: PERF_COMPARE_CACHE, default `~/.cache/memorychat-perf/base` (outside the repository, so
 * the linters and the type checker never see a second copy of the sources). Each use marks its
 * copy as used; then the cache is pruned (`pruneBaseCache`): a copy with its own `npm ci` holds
 * hundreds of MB, and a pull-request loop makes a new base every few commits.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
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
/** Pruning keeps this many most recently used copies, */
const KEEP_RECENT = 5;
/** and every copy used this recently: another run on this machine may be using it right now. */
const KEEP_USED_WITHIN_MS = 24 * 60 * 60_000;
/** A copy without its ready marker this old is a preparation that died (Ctrl-C, full disk). */
const ABANDONED_AFTER_MS = 60 * 60_000;

export interface BaseCheckout {
  ref: string;
  commit: string;
  dir: string;
  /** 'cached': used as it was; 'linked': fresh copy sharing node_modules; 'installed': own npm ci. */
  how: 'cached' | 'linked' | 'installed';
}

export function compareCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.PERF_COMPARE_CACHE?.trim() || path.join(os.homedir(), '.cache', 'memorychat-perf', 'base');
}

const sha256 = (file: string): string | undefined =>
  existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : undefined;

async function git(repo: string, args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd: repo, timeout: 60_000, maxBuffer: 1 << 20 });
  return stdout.trim();
}

/** The commit a ref names, or a TargetError saying how to make it resolvable. */
export async function resolveCommit(repo: string, ref: string): Promise<string> {
  try {
    return await git(repo, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  } catch {
    throw new TargetError(
      `PERF_COMPARE_REF=${ref} is not a commit of this repository (git rev-parse found nothing). ` +
        `Fix: fetch it first (e.g. \`git fetch origin ${ref}\`; a shallow CI clone needs \`fetch-depth: 0\`), ` +
        'or name an existing branch, tag or commit.',
    );
  }
}

/** The base copy's node_modules: a link to the checkout's (same lockfile), else its own `npm ci`. */
async function provideDependencies(
  repo: string,
  dir: string,
  ref: string,
  commit: string,
  log: (line: string) => void,
): Promise<'linked' | 'installed'> {
  const sameLock = sha256(path.join(dir, 'package-lock.json')) === sha256(path.join(repo, 'package-lock.json'));
  if (sameLock && existsSync(path.join(repo, 'node_modules'))) {
    symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    return 'linked';
  }
  log(`installing the base's dependencies (its package-lock.json differs): npm ci in ${dir}`);
  try {
    await run('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts=false'], {
      cwd: dir,
      timeout: INSTALL_TIMEOUT_MS,
      maxBuffer: 16 << 20,
    });
  } catch (err) {
    const e = err as { stderr?: string; message?: string };
    const tail = (e.stderr ?? e.message ?? '').trim().split('\n').slice(-5).join('\n    ');
    throw new TargetError(
      `The base ref ${ref} (${commit.slice(0, 12)}) does not install (npm ci failed in ${dir}):\n    ${tail}\n` +
        'Fix: compare against a base whose dependencies install, or remove that folder and retry.',
    );
  }
  return 'installed';
}

/** Prepares (or reuses) the checkout of `ref` for the base arm. */
export async function prepareBaseCheckout(
  repo: string,
  ref: string,
  opts: { cacheDir?: string; log?: (line: string) => void } = {},
): Promise<BaseCheckout> {
  const log = opts.log ?? (() => undefined);
  const commit = await resolveCommit(repo, ref);
  const cacheDir = opts.cacheDir ?? compareCacheDir();
  const checkout = await checkOut(repo, ref, commit, path.join(cacheDir, commit), log);
  try {
    markUsed(checkout.dir);
    const removed = pruneBaseCache(cacheDir, { keep: commit });
    if (removed.length > 0) log(`removed ${removed.length} older base checkout(s) from ${cacheDir}`);
  } catch (err) {
    // A cache that cannot be marked or pruned (read-only, another user's) costs disk, not the run.
    log(`could not prune the base checkouts in ${cacheDir}: ${String(err)}`);
  }
  return checkout;
}

/** The checkout of `commit` in `dir`: reused when ready, else unpacked and given its dependencies. */
async function checkOut(
  repo: string,
  ref: string,
  commit: string,
  dir: string,
  log: (line: string) => void,
): Promise<BaseCheckout> {
  if (existsSync(path.join(dir, READY))) {
    // existsSync follows the link: false when the checkout it pointed to is gone.
    if (existsSync(path.join(dir, 'node_modules'))) return { ref, commit, dir, how: 'cached' };
    log(`the cached base ${commit.slice(0, 12)} lost its node_modules (a deleted clone?): providing them again`);
    rmSync(path.join(dir, 'node_modules'), { recursive: true, force: true });
    return { ref, commit, dir, how: await provideDependencies(repo, dir, ref, commit, log) };
  }

  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    // git archive | tar -x, without a shell: archive to a file, then unpack it.
    const tarball = `${dir}.tar`;
    await git(repo, ['archive', '--format=tar', `--output=${tarball}`, commit]);
    await run('tar', ['-xf', tarball, '-C', dir], { timeout: 120_000 });
    rmSync(tarball, { force: true });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new TargetError(`Could not check out ${ref} (${commit.slice(0, 12)}) for the base arm: ${String(err)}`);
  }
  if (!existsSync(path.join(dir, 'app', 'stack.ts'))) {
    rmSync(dir, { recursive: true, force: true });
    throw new TargetError(
      `PERF_COMPARE_REF=${ref} (${commit.slice(0, 12)}) has no app/stack.ts: it predates the bundled reference ` +
        'app, so the suite cannot start it. Fix: pick a newer base, or start the base yourself and compare with ' +
        'BASELINE_URL and BASELINE_DATABASE_URL.',
    );
  }

  const how = await provideDependencies(repo, dir, ref, commit, log);
  writeFileSync(path.join(dir, READY), `${commit}\n`);
  return { ref, commit, dir, how };
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
    // The archive a died preparation left beside its folder.
    if (entry.isFile() && /^[0-9a-f]{40,64}\.tar$/.test(entry.name)) {
      if (stale(path.join(cacheDir, entry.name))) rmSync(path.join(cacheDir, entry.name), { force: true });
      continue;
    }
    if (!entry.isDirectory() || !/^[0-9a-f]{40,64}$/.test(entry.name) || entry.name === opts.keep) continue;
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
