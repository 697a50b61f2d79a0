/**
 * The bundled stack never outlives the process that started it: a parent killed with SIGKILL
 * (no exit handler of it runs) takes the stack with it: the app, PostgreSQL and the model
 * simulator are gone within 10 s, and so is the embedded database's data directory. The same
 * for `npm run stack`'s shell ended by a SIGTERM it does not pass on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { appNodeFlags } from '../../lib/run/stack-process';
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

/** Waits until every process of the stack is gone and its data dir removed; kills what is left. */
async function assertStackGone(members: number[], dataDir: string, what: string): Promise<void> {
  const since = performance.now();
  let left = members;
  while (performance.now() - since < GONE_WITHIN_MS) {
    left = members.filter(alive);
    if (left.length === 0 && !existsSync(dataDir)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const took = Math.round(performance.now() - since);
  for (const pid of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  assert.deepEqual(left, [], `stack processes still running ${took} ms after ${what}`);
  assert.equal(existsSync(dataDir), false, `data dir ${dataDir} still there ${took} ms after ${what}`);
  console.log(`stack gone ${took} ms after ${what} (${members.length} processes)`);
}

/** Resolves with the first capture of `pattern` in `stream`'s lines; rejects on `child`'s exit or after 90 s. */
function firstMatch(child: ChildProcess, stream: Readable, pattern: RegExp, log: () => string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the stack was not ready within 90 s: ${log()}`)), 90_000);
    createInterface({ input: stream }).on('line', (line) => {
      const m = pattern.exec(line);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited (${code}) before the stack was up: ${log()}`)));
  });
}

void test('SIGKILL of the parent stops the stack, PostgreSQL and the simulator, and removes the data dir', async () => {
  const logFile = path.join(tempDir('memorychat-lifetime-'), 'stack.log');
  const parent = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures-stack/launch-parent.ts', logFile], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  parent.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const stackPid = Number(await firstMatch(parent, parent.stdout, /^STACK_PID=(\d+)$/, () => stderr));
  const dataDir = /data in (\S+)/.exec(readFileSync(logFile, 'utf8'))?.[1];
  assert.ok(dataDir && existsSync(dataDir), `no existing data dir in the stack log:\n${readFileSync(logFile, 'utf8')}`);
  // node (the stack), the model simulator, the postmaster and its background processes.
  const members = processTree(stackPid);
  assert.ok(members.length >= 6, `stack, simulator and PostgreSQL processes are running: ${members.join(', ')}`);

  parent.kill('SIGKILL');
  await assertStackGone(members, dataDir, "the parent's SIGKILL");
});

void test("`npm run stack`'s shell ended by SIGTERM: the stack notices its parent is gone and stops", async () => {
  // As npm runs the script: `sh -c "node … app/stack.ts"`, with no lifeline pipe. A SIGTERM ends
  // the shell, which does not pass it on to node. (`; exit $?`: a shell that would exec a lone
  // command, as bash does, stays the parent here too.)
  const flags = appNodeFlags(ROOT).join(' ');
  const shell = spawn('sh', ['-c', `"${process.execPath}" ${flags} --import tsx app/stack.ts; exit $?`], {
    cwd: ROOT,
    env: { ...process.env, MODEL_SIM_LATENCY: 'instant', DATABASE_URL: '', OPENAI_API_KEY: '', BASE_URL: '', PORT: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  shell.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await firstMatch(shell, shell.stdout, /^STACK_READY_MS=(\d+)$/, () => stderr);
  const dataDir = /data in (\S+)/.exec(stderr)?.[1];
  assert.ok(dataDir && existsSync(dataDir), `no existing data dir in the stack's log:\n${stderr}`);
  const members = processTree(shell.pid ?? -1).slice(1);
  assert.ok(members.length >= 6, `stack, simulator and PostgreSQL processes are running: ${members.join(', ')}`);

  shell.kill('SIGTERM');
  await assertStackGone(members, dataDir, "the shell's SIGTERM");
  assert.match(stderr, /parent process gone \(process \d+ exited\): stopping/);
});
