/**
 * The load test's SSE timing (load/sse-timing.ts): first token, inter-token gaps and round trip
 * from chunks with known arrival times, also when events are split across chunks, and the cause
 * of every way a streamed reply can fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatStreamTimer, failureOfError } from '../../load/sse-timing';

const meta = 'event: meta\ndata: {"userMessageId":1,"assistantMessageId":2}\n\n';
const token = (t: string): string => `event: token\ndata: ${JSON.stringify({ delta: t })}\n\n`;
const usage = { agents: [{ agent: 'conversation', completionTokens: 3 }] };
const timing = { ttftMs: 380.5, totalMs: 470 };
const done = `event: done\ndata: ${JSON.stringify({ message: {}, usage, timing })}\n\n`;

void test('times first token, gaps between tokens and the round trip from the send time', () => {
  const timer = new ChatStreamTimer(1000);
  timer.push(meta, 1100);
  timer.push(token('Hel'), 1400);
  timer.push(token('lo'), 1420);
  timer.push(token('!'), 1470);
  assert.equal(timer.finished, false);
  timer.push(done, 1500);
  assert.equal(timer.finished, true);
  const t = timer.end(1510);
  assert.equal(t.ttftMs, 400);
  assert.deepEqual(t.gapsMs, [20, 50]);
  assert.equal(t.totalMs, 500); // `done` parsed at 1500, not the end of the body at 1510
  assert.equal(t.tokens, 3);
  assert.deepEqual(t.server, { ttftMs: 380.5, totalMs: 470 }, 'the app’s own timing from done');
  assert.equal(t.failure, undefined);
});

void test('events split across chunks count when they complete; CRLF line ends work', () => {
  const bytes = new TextEncoder().encode(token('a').replace(/\n/g, '\r\n'));
  const t2 = new ChatStreamTimer(0);
  t2.push(bytes.slice(0, 7), 10);
  t2.push(bytes.slice(7, 20), 20); // "token\r\ndata:": not an event yet
  t2.push(bytes.slice(20), 30); // completes the event at 30
  t2.push(token('b'), 45);
  t2.push(done, 50);
  const t = t2.end(60);
  assert.equal(t.ttftMs, 30);
  assert.deepEqual(t.gapsMs, [15]);
  assert.equal(t.totalMs, 50);
});

void test('a multi-byte character split between chunks is decoded, not dropped', () => {
  const timer = new ChatStreamTimer(0);
  const bytes = new TextEncoder().encode(token('é') + done);
  const cut = bytes.indexOf(0xc3) + 1; // inside the two-byte é
  timer.push(bytes.slice(0, cut), 5);
  timer.push(bytes.slice(cut), 8);
  const t = timer.end(9);
  assert.equal(t.tokens, 1);
  assert.equal(t.failure, undefined);
});

void test('error events name their cause; other codes are stream_error', () => {
  const cases = [
    ['model_timeout', 'model_timeout'],
    ['model_error', 'model_error'],
    ['internal', 'stream_error'],
  ] as const;
  for (const [code, cause] of cases) {
    const timer = new ChatStreamTimer(0);
    timer.push(meta + token('x'), 10);
    timer.push(`event: error\ndata: ${JSON.stringify({ error: { code, message: 'm' }, message: null })}\n\n`, 40);
    const t = timer.end(50);
    assert.equal(t.failure, cause);
    assert.equal(t.totalMs, 40);
    assert.equal(t.ttftMs, 10);
  }
});

void test('a stream that ends without done or error is stream_incomplete; malformed done is stream_malformed', () => {
  const open = new ChatStreamTimer(0);
  open.push(meta + token('x'), 10);
  assert.equal(open.end(70).failure, 'stream_incomplete');
  assert.equal(new ChatStreamTimer(0).end(70).totalMs, 70);
  const bad = new ChatStreamTimer(0);
  bad.push('event: done\ndata: {not json\n\n', 20);
  assert.equal(bad.end(30).failure, 'stream_malformed');
});

void test('the caller’s failure (HTTP status, timeout) wins when no end event arrived', () => {
  const timer = new ChatStreamTimer(0);
  const t = timer.end(12, 'http_503');
  assert.equal(t.failure, 'http_503');
  assert.equal(t.ttftMs, undefined);
  assert.equal(failureOfError(Object.assign(new Error('t'), { name: 'TimeoutError' })), 'client_timeout');
  const refused = new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) });
  assert.equal(failureOfError(refused), 'connection');
});

void test('events after done are ignored (a server that keeps writing does not move the clock)', () => {
  const timer = new ChatStreamTimer(0);
  timer.push(token('a') + done, 100);
  timer.push(token('late'), 900);
  const t = timer.end(1000);
  assert.equal(t.totalMs, 100);
  assert.equal(t.tokens, 1);
});
