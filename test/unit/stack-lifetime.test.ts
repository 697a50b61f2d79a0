/**
 * The bundled stack never outlives the process that started it: a parent killed with SIGKILL
 * (no exit handler of it runs) takes the stack with it: the app, PostgreSQL and the model
 * simulator are gone within 10 s, and so is the embedded database's data directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { tempDir } from '../support/temp-dir';

const ROOT = path.resolve(__dirname, '..', '..');
const GONE_WITHIN_MS = 10_000;

/** The pid and every descendant of it (PostgreSQL's backends call setsid: a process group misses them). */
function processTree(root: number): number[] {
  const out = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' });
  const pairs = out
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter((p) => p.length === 2);
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
  if (left.length > 0)
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  assert.deepEqual(left, [], `stack processes still running ${took} ms after the parent's SIGKILL`);
  assert.equal(existsSync(dataDir), false, `data dir ${dataDir} still there ${took} ms after the parent's SIGKILL`);
  console.log(`stack gone ${took} ms after SIGKILL of its parent (${members.length} processes)`);
});
