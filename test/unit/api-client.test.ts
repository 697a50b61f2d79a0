/**
 * The suite's API client against a scripted local server: what a broken target does to it must end
 * in an ApiError with a code and a readable message (never a hang, never a bare stack).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError, MemoryChatApiClient } from '../../clients/api';
import { parseServerTiming, type ChatStreamEvent } from '../../contract';

/** path → how the scripted server answers it. */
const ROUTES: Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => void> = {
  '/api/health': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'server-timing': 'db;dur=0.40, total;dur=1.00' });
    res.end(JSON.stringify({ ok: true }));
  },
  // Behind a proxy that adds its own Server-Timing header first.
  '/api/proxied': (_req, res) => {
    res.writeHead(200, [
      ['content-type', 'application/json'],
      ['server-timing', 'cdn;desc=HIT'],
      ['server-timing', 'total;dur=1.00'],
    ]);
    res.end(JSON.stringify({ ok: true }));
  },
  '/api/me': (_req, res) => {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'unauthorized', message: 'token is not valid' } }));
  },
  '/api/sessions': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('<html>not json</html>');
  },
  '/api/sessions/1/messages': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('event: meta\ndata: {"userMessageId":1}\n\n');
    res.write('event: token\r\ndata: {"delta":"hel');
    setTimeout(() => res.end('lo"}\r\n\r\nevent: done\ndata: {"message":{},"usage":{},"timing":{}}\n\n'), 5);
  },
  '/api/sessions/2/messages': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end('event: meta\ndata: {"userMessageId":1}\n\n'); // cut before done
  },
  '/api/sessions/3/messages': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end('event: token\ndata: not json\n\n');
  },
  // A done event without the usage and timing the suite reads.
  '/api/sessions/7/messages': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end('event: meta\ndata: {"userMessageId":1}\n\nevent: token\ndata: {"delta":"hel'); // cut mid-event
  },
  '/api/sessions/8/messages': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end('event: meta\ndata: {}\n\nevent: done\ndata: {"message":{},"usage":{},"timing":{}}'); // no final blank line
  },
  '/api/sessions/9/messages': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end('event: meta\ndata: {}\n\nevent: done\ndata: {"message":{},"timing":{}}'); // whole, no usage
  },
  '/api/sessions/6/messages': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end('event: done\ndata: {"message":{"content":"hi"}}\n\n');
  },
  '/api/sessions/4/messages': (_req, res) => {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end('bad gateway');
  },
  '/api/sessions/5/messages': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  },
};

let server: http.Server;
let api: MemoryChatApiClient;

before(async () => {
  server = http.createServer((req, res) => {
    const route = ROUTES[(req.url ?? '').split('?')[0] ?? ''];
    req.resume();
    if (route) route(req, res);
    else if (req.url?.startsWith('/slow')) setTimeout(() => res.end('{}'), 2_000);
    else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api = new MemoryChatApiClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
});

after(async () => {
  await api.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function collect(stream: AsyncIterable<ChatStreamEvent>): Promise<ChatStreamEvent[]> {
  const out: ChatStreamEvent[] = [];
  for await (const e of stream) out.push(e);
  return out;
}

async function rejectsWith(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ApiError, `expected ApiError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

void test('JSON answers parse, with the Server-Timing header kept', async () => {
  assert.deepEqual(await api.health(), { ok: true });
  const res = await api.as({ token: 't' }).getWithServerTiming<{ ok: boolean }>('/api/health');
  assert.equal(res.serverTiming, 'db;dur=0.40, total;dur=1.00');
  // A repeated header is one list: the app's entry behind a proxy's is kept.
  const proxied = await api.as({ token: 't' }).getWithServerTiming<{ ok: boolean }>('/api/proxied');
  assert.equal(parseServerTiming(proxied.serverTiming).total, 1);
});

void test('an error answer becomes ApiError with the server code and message', async () => {
  await rejectsWith(
    api.as({ token: 't' }).getWithServerTiming('/api/me'),
    'unauthorized',
    /GET \/api\/me → 401 unauthorized: token is not valid/,
  );
});

void test('a 200 that is not JSON is bad_response, not a crash', async () => {
  await rejectsWith(api.as({ token: 't' }).listSessions(), 'bad_response', /response is not JSON/);
});

void test('SSE: events split across chunks and CRLF line ends arrive whole', async () => {
  const events = await collect(api.as({ token: 't' }).streamMessage(1, 'hi'));
  assert.deepEqual(
    events.map((e) => e.event),
    ['meta', 'token', 'done'],
  );
  assert.deepEqual(events[1]?.data, { delta: 'hello' });
});

void test('SSE: a stream cut before done, malformed data, 5xx and a non-SSE answer each get a code', async () => {
  const user = api.as({ token: 't' });
  await rejectsWith(collect(user.streamMessage(2, 'hi')), 'stream_cut', /ended before a "done" or "error" event/);
  await rejectsWith(collect(user.streamMessage(7, 'hi')), 'stream_cut', /ended in the middle of its last event/);
  await rejectsWith(collect(user.streamMessage(9, 'hi')), 'sse_malformed', /"done" event has no object "usage"/);
  await rejectsWith(collect(user.streamMessage(3, 'hi')), 'sse_malformed', /event data is not JSON/);
  await rejectsWith(collect(user.streamMessage(6, 'hi')), 'sse_malformed', /"done" event has no object "usage"/);
  await rejectsWith(collect(user.streamMessage(4, 'hi')), 'http_502', /502/);
  await rejectsWith(collect(user.streamMessage(5, 'hi')), 'sse_malformed', /expected text\/event-stream/);
});

void test('SSE: a last event without its blank line still counts when it is whole', async () => {
  const events = await collect(api.as({ token: 't' }).streamMessage(8, 'hi'));
  assert.deepEqual(
    events.map((e) => e.event),
    ['meta', 'done'],
  );
});

void test('a deadline ends a request with code timeout, naming the limit', async () => {
  await rejectsWith(api.as({ token: 't' }).getWithServerTiming('/slow', {}, 200), 'timeout', /no answer within 0.2 s/);
});

void test('an unreachable target is a network error naming the cause', async () => {
  const dead = new MemoryChatApiClient('http://127.0.0.1:1');
  try {
    await rejectsWith(dead.health(), 'network', /GET \/api\/health \(http:\/\/127\.0\.0\.1:1\)/);
  } finally {
    await dead.close();
  }
});

void test(
  'closing the client cuts a request still in flight after a short grace ' +
    '(teardown never waits for a stream deadline)',
  async () => {
    const client = new MemoryChatApiClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const pending = client
      .as({ token: 't' })
      .getWithServerTiming('/slow')
      .then(
        () => 'answered',
        () => 'cut',
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const t0 = performance.now();
    await client.close();
    assert.ok(performance.now() - t0 < 1_900, 'close() returned before the slow answer (2 s)');
    assert.equal(await pending, 'cut');
  },
);

void test('Server-Timing parses by entry name, ignoring other parameters and entries without dur', () => {
  assert.deepEqual(parseServerTiming('db;dur=0.40, model;dur=0.00, total;dur=1.00'), { db: 0.4, model: 0, total: 1 });
  assert.deepEqual(parseServerTiming('cache;desc="hit", db;desc="Postgres";dur=2.5'), { db: 2.5 });
  assert.deepEqual(parseServerTiming(undefined), {});
  assert.deepEqual(parseServerTiming('total;DUR="1.5", cdn;desc=HIT'), { total: 1.5 });
});
