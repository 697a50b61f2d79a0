/**
 * Capacity evaluation of the load test (load/capacity.ts) and the reading of Artillery's report
 * (load/artillery-report.ts): the definition "largest step whose round-trip p95 < 5 s and error
 * rate < 1 %", its edges, and that errors of every kind are counted. Also the users file the
 * load users log in with (their bearer tokens): readable by its owner only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { capacityOf, DEFAULT_CRITERIA, judgeStep, turnsPerUser, type StepFigures } from '../../load/capacity';
import { artilleryReportSchema, figuresOf } from '../../load/artillery-report';
import { isLoopbackHost, LoadConfigError, loadLoadConfig, parseSteps, remoteTargetProblem } from '../../load/config';
import { writeUsersFile } from '../../load/orchestrate';
import { tempDir } from '../support/temp-dir';

const step = (users: number, p95: number | null, errors = 0, requests = 300, chatRequests = 120): StepFigures => ({
  users,
  requests,
  chatRequests,
  errors,
  totalMs: { p50: p95 === null ? null : p95 / 2, p95, p99: p95 },
});

void test('a step passes only below both limits, with enough chats', () => {
  assert.equal(judgeStep(step(10, 4999)).passed, true);
  const slow = judgeStep(step(10, 5000));
  assert.equal(slow.passed, false, 'p95 must be strictly below 5 s');
  assert.match(slow.reasons.join(), /round-trip p95 5000 ms ≥ 5000 ms/);
  assert.equal(judgeStep(step(10, 1000, 2, 300)).passed, true); // 0.67 %
  const errors = judgeStep(step(10, 1000, 3, 300)); // exactly 1 %
  assert.equal(errors.passed, false);
  assert.match(errors.reasons.join(), /error rate 1\.00 % ≥ 1\.00 % \(3 of 300 calls\)/);
  const few = judgeStep(step(10, 1000, 0, 150, 99));
  assert.equal(few.passed, false);
  assert.match(few.reasons.join(), /only 99 chat requests/);
  const none = judgeStep(step(10, null, 120, 120, 120));
  assert.deepEqual(none.passed, false);
  assert.match(none.reasons.join(), /no chat completed/);
  const silent = judgeStep({ ...step(1, 100), requests: 0, chatRequests: 0 });
  assert.equal(silent.errorRate, 1, 'no calls at all is not 0 % errors');
});

void test('capacity is the largest passing step before the first failure', () => {
  assert.deepEqual(capacityOf([step(5, 900), step(10, 1200), step(25, 2600), step(50, 7000)]).maxUsers, 25);
  const c = capacityOf([step(5, 900), step(10, 1200), step(25, 6000), step(50, 1000)]);
  assert.equal(c.maxUsers, 10, 'a later passing step after a failure does not raise capacity');
  assert.equal(c.firstFailure?.users, 25);
  assert.equal(capacityOf([step(5, 9000)]).maxUsers, 0);
  assert.equal(capacityOf([]).maxUsers, 0);
  assert.equal(capacityOf([step(10, 100), step(5, 100)]).maxUsers, 10, 'order of the input does not matter');
  assert.equal(capacityOf([step(5, 100), step(10, 100)]).firstFailure, undefined);
  // A step the run failed for another reason (its time limit) does not count, whatever its figures.
  const late = capacityOf([step(5, 100), { ...step(10, 100), reasons: ['the step hit its time limit'] }]);
  assert.deepEqual(late, { maxUsers: 5, firstFailure: { users: 10, reasons: ['the step hit its time limit'] } });
});

void test('turns per user reach the minimum chats per step', () => {
  assert.equal(turnsPerUser(5, 100), 20);
  assert.equal(turnsPerUser(50, 100), 3); // never fewer than a few
  assert.equal(turnsPerUser(200, 100), 3);
  assert.equal(turnsPerUser(7, 100, 1), 15);
  assert.equal(DEFAULT_CRITERIA.p95TotalMsBelow, 5000);
  assert.equal(DEFAULT_CRITERIA.errorRateBelow, 0.01);
});

void test('Artillery report → step figures: errors from every source, percentiles, goodput', () => {
  const summary = (p50: number, p95: number, p99: number, count = 10) => ({
    count,
    p50,
    p95,
    p99,
    min: 1,
    max: p99,
    mean: p50,
    median: p50,
  });
  const api = artilleryReportSchema.parse({
    aggregate: {
      counters: {
        'chat.requests': 100,
        'chat.ok': 97,
        'chat.good': 90,
        'chat.tokens': 9700,
        'chat.failed.model_timeout': 2,
        'chat.failed.http_503': 1,
        'http.requests': 150,
        'errors.ETIMEDOUT': 1,
        'plugins.metrics-by-endpoint./api/memories/search.codes.500': 2,
        'plugins.metrics-by-endpoint./api/memories/search.codes.200': 97,
        'vusers.created': 50,
        'vusers.completed': 49,
        'vusers.failed': 1,
      },
      summaries: {
        'chat.total_ms': summary(1500, 4200, 6100),
        'chat.ttft_ms': summary(400, 900, 1200),
        'chat.itl_ms': summary(11, 30, 60),
      },
      firstMetricAt: 1_000_000,
      lastMetricAt: 1_040_000,
    },
    intermediate: [],
  });
  const f = figuresOf(api);
  assert.equal(f.chatRequests, 100);
  assert.equal(f.requests, 250);
  assert.equal(f.errors, 6);
  assert.deepEqual(f.errorCauses, {
    'chat:model_timeout': 2,
    'chat:http_503': 1,
    ETIMEDOUT: 1,
    'http:500 /api/memories/search': 2,
  });
  assert.deepEqual(f.totalMs, { p50: 1500, p95: 4200, p99: 6100 });
  assert.equal(f.goodput, 0.9);
  assert.equal(f.tokensPerReply, 100);
  assert.equal(f.durationS, 40);
  assert.equal(f.browser, null);
  const browser = artilleryReportSchema.parse({
    aggregate: {
      counters: { 'chat.browser_requests': 3, 'chat.browser_failed': 1 },
      summaries: { 'chat.browser_total_ms': summary(1800, 2500, 2500, 2) },
    },
  });
  const g = figuresOf(api, browser);
  assert.equal(g.requests, 253);
  assert.equal(g.errors, 7);
  assert.equal(g.errorCauses['browser:chat_failed'], 1);
  assert.deepEqual(g.browser?.totalMs, { p50: 1800, p95: 2500, p99: 2500 });
  const empty = figuresOf(artilleryReportSchema.parse({ aggregate: {} }));
  assert.deepEqual(empty.totalMs, { p50: null, p95: null, p99: null });
  assert.equal(empty.goodput, null);
});

void test('LOAD_* configuration: defaults and readable errors', () => {
  const c = loadLoadConfig({});
  assert.deepEqual(c.steps, [5, 10, 25, 50, 100, 200, 300, 400]);
  assert.equal(c.criteria.p95TotalMsBelow, 5000);
  assert.equal(c.browsers, 1);
  assert.deepEqual(parseSteps('3, 6'), [3, 6]);
  assert.throws(() => parseSteps(Array.from({ length: 21 }, (_, i) => i + 1).join(',')), /21 steps; at most 20/);
  assert.throws(() => parseSteps('10,5'), /ascending/);
  assert.throws(() => parseSteps('5,x'), /comma list/);
  assert.throws(
    () => loadLoadConfig({ LOAD_BROWSERS: '5' }),
    (e: unknown) => e instanceof LoadConfigError && /LOAD_BROWSERS="5".*0 to 2/.test(e.message),
  );
  assert.throws(() => loadLoadConfig({ LOAD_MIN_USERS: '-1' }), /LOAD_MIN_USERS/);
});

void test('load targets: this machine without asking, anywhere else only with LOAD_ALLOW_REMOTE=1', () => {
  for (const host of ['localhost', 'LOCALHOST', '127.0.0.1', '127.1.2.3', '[::1]', '::1'])
    assert.equal(isLoopbackHost(host), true, host);
  for (const host of ['localhost.evil.example', '127.0.0.1.nip.io', '10.0.0.5', 'staging.example.com', '0.0.0.0'])
    assert.equal(isLoopbackHost(host), false, host);
  assert.equal(remoteTargetProblem(undefined, [5]), undefined, 'the bundled stack');
  assert.equal(remoteTargetProblem('http://127.0.0.1:3000', [400], {}), undefined);
  const problem = remoteTargetProblem('https://staging.example.com', [5, 400], {});
  assert.match(problem ?? '', /up to 400 concurrent chat users to staging\.example\.com.*LOAD_ALLOW_REMOTE=1/);
  assert.equal(remoteTargetProblem('https://staging.example.com', [5], { LOAD_ALLOW_REMOTE: '1' }), undefined);
});

void test('the users file is readable by its owner only, also over an older file that others could read', () => {
  const file = path.join(tempDir('memorychat-users-'), 'users.csv');
  writeFileSync(file, 'token\nold\n', { mode: 0o644 });
  chmodSync(file, 0o644);
  writeUsersFile(file, [{ token: 'tok-1' }, { token: 'tok-2' }]);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(readFileSync(file, 'utf8'), 'token\ntok-1\ntok-2\n');
});
