/**
 * The bundled stack never outlives the process that started it: a parent killed with SIGKILL
 * (no exit handler of it runs) takes the stack with it: the app, PostgreSQL and the model
 * simulator are gone within 10 s, and so is the embedded database's data directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { removeStaleDataDirs } from '../../app/db/embedded';
import { tempDir } from './temp-dir';

const ROOT = path.resolve(__dirname, '..', '..');
const GONE_WITHIN_MS = 10_000;

/** The pid and every descendant of it (PostgreSQL's backends call setsid: a process group misses them). */
function processTree(root: number): number[] {
  const out = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' });
  const pairs = out.split('\n').map((l) => l.trim().split(/\s+/).map(Number)).filter((p) => p.length === 2);
  const tree = [root];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of pairs) if (ppid === tree[i] && pid !== undefined) tree.push(pid);
  }
  return tree;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

void test('SIGKILL of the parent stops the stack, PostgreSQL and the simulator, and removes the data dir', async () => {
  const logFile = path.join(tempDir('memorychat-lifetime-'), 'stack.log');
  const parent = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures-stack/launch-parent.ts', logFile], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  parent.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const stackPid = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the stack was not ready within 90 s: ${stderr}`)), 90_000);
    createInterface({ input: parent.stdout }).on('line', (line) => {
      const m = /^STACK_PID=(\d+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    parent.once('exit', (code) => reject(new Error(`the parent exited (${code}) before the stack was up: ${stderr}`)));
  });
  const dataDir = /data in (\S+)/.exec(readFileSync(logFile, 'utf8'))?.[1];
  assert.ok(dataDir && existsSync(dataDir), `no existing data dir in the stack log:\n${readFileSync(logFile, 'utf8')}`);
  // node (the stack), the model simulator, the postmaster and its background processes.
  const members = processTree(stackPid);
  assert.ok(members.length >= 6, `stack, simulator and PostgreSQL processes are running: ${members.join(', ')}`);

  const killedAt = performance.now();
  parent.kill('SIGKILL');
  let left = members;
  while (performance.now() - killedAt < GONE_WITHIN_MS) {
    left = members.filter(alive);
    if (left.length === 0 && !existsSync(dataDir)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const took = Math.round(performance.now() - killedAt);
  if (left.length > 0) for (const pid of left) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  assert.deepEqual(left, [], `stack processes still running ${took} ms after the parent's SIGKILL`);
  assert.equal(existsSync(dataDir), false, `data dir ${dataDir} still there ${took} ms after the parent's SIGKILL`);
  console.log(`stack gone ${took} ms after SIGKILL of its parent (${members.length} processes)`);
});

void test('SIGKILL of whatever started an embedded PostgreSQL: a watchdog stops it, removes the data dir', async () => {
  const owner = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures-stack/embedded-parent.ts'], {
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
  const removed = removeStaleDataDirs(() => undefined, tmp).map((d) => path.basename(d)).sort();
  assert.deepEqual(removed, ['memorychat-pg-abandoned', 'memorychat-pg-dead']);
  for (const name of ['memorychat-pg-live', 'memorychat-pg-starting', 'someone-else']) {
    assert.ok(existsSync(path.join(tmp, name)), name);
  }
});
