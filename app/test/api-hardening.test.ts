/**
 * The app never dies on a request: malformed URLs, control characters, oversized or lying
 * bodies, unexpected handler errors, a stuck database, clients that disconnect mid-chat.
 */
import assert from 'node:assert/strict';
import { request as httpRequest, createServer, type IncomingMessage, type Server } from 'node:http';
import { describe, test } from 'node:test';
import type { ApiError, Health, Memory, MemoriesPage, PostMessageResponse, Session } from '../../contract';
import type { Db } from '../db/db';
import { databaseFailure } from '../db/errors';
import { createAppServer } from '../server/app';
import { AuthCache } from '../server/auth-cache';
import type { ApiDeps } from '../server/routes';
import { Client, startTestStack, useTestStack, until, withSql, listenLocally } from './api-support';

const shared = useTestStack();

function assertError(r: { status: number; body: unknown }, status: number, code: string, mentions?: RegExp): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  const err = (r.body as ApiError).error;
  assert.equal(err.code, code, err.message);
  if (mentions) assert.match(err.message, mentions);
}

interface RawReply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
  ms: number;
}

/**
 * One request over node:http, exactly as given (no URL normalisation, any Content-Length).
 * `body` is written as is with its Content-Length (or chunked when the headers say so);
 * `declaredLength` overrides the Content-Length (a lie when it differs: the upload then stays
 * open, as a client that never sends the rest). Resolves at the response's end; an upload error
 * after the response is ignored.
 */
function raw(
  baseUrl: string,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer; declaredLength?: number },
): Promise<RawReply> {
  const start = performance.now();
  const headers: Record<string, string | number> = { ...opts.headers };
  const chunked = opts.headers?.['Transfer-Encoding'] === 'chunked';
  if (!chunked && (opts.body || opts.declaredLength !== undefined))
    headers['Content-Length'] = opts.declaredLength ?? opts.body?.length ?? 0;
  return new Promise((resolve, reject) => {
    const url = new URL(baseUrl);
    const req = httpRequest({
      host: url.hostname,
      port: url.port,
      method: opts.method ?? 'GET',
      path: opts.path,
      headers,
      agent: false,
    });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          ms: performance.now() - start,
        }),
      );
      res.on('error', reject);
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    req.setTimeout(20_000, () => req.destroy(new Error('no answer within 20 s')));
    if (opts.body) req.write(opts.body);
    if (opts.declaredLength === undefined || opts.declaredLength === (opts.body?.length ?? 0)) req.end();
    else req.flushHeaders();
  });
}

const json = (r: RawReply): { status: number; body: unknown } => ({
  status: r.status,
  body: JSON.parse(r.body) as unknown,
});

async function health(baseUrl: string): Promise<number> {
  return (await new Client(baseUrl).get<Health>('/api/health')).status;
}

void describe('malformed requests', () => {
  void test('GET // → 400 validation (contract shape), and the app keeps answering', async () => {
    const { baseUrl } = shared.stack;
    for (const path of ['//', '//x', '///api/health']) {
      assertError(json(await raw(baseUrl, { path })), 400, 'validation', /malformed request URL/);
    }
    assert.equal(await health(baseUrl), 200);
  });

  void test('control characters → 400 naming the field; tab and newline allowed in free text', async () => {
    const u = await shared.anon.newUser('ctl');
    assertError(await u.api.get('/api/memories/search?q=a%00b'), 400, 'validation', /"q"/);
    assertError(await u.api.get('/api/sessions?limit=1&x=%01'), 400, 'validation', /"x"/);
    assertError(
      await u.api.post('/api/memories', { content: 'a\u0000b' }),
      400,
      'validation',
      /^content: .*control characters/,
    );
    assertError(await u.api.post('/api/memories', { content: 'bell \u0007' }), 400, 'validation', /^content:/);
    assertError(
      await u.api.post('/api/memories/bulk', { memories: [{ content: 'ok' }, { content: 'a\u001fb' }] }),
      400,
      'validation',
      /^memories\.1\.content:/,
    );
    assertError(await u.api.post('/api/sessions', { title: 'two\nlines' }), 400, 'validation', /^title:/);
    assertError(await u.api.post('/api/profiles', { name: 'x\u0000' }), 400, 'validation', /^name:/);
    assertError(
      await shared.anon.post('/api/users', { email: 'a\u0000@memorychat.test' }),
      400,
      'validation',
      /^email:/,
    );
    const s = (await u.api.post<Session>('/api/sessions')).body;
    assertError(
      await u.api.post(`/api/sessions/${s.id}/messages`, { content: 'hi\u0000', stream: false }),
      400,
      'validation',
      /^content:/,
    );
    // Text that spells a tokenizer's special token is text (as OpenAI reads message content), not
    // a reason to fail the turn: the app budgets it and the model bills it as ordinary characters.
    const special = await u.api.post<PostMessageResponse>(`/api/sessions/${s.id}/messages`, {
      content: 'what does <|endoftext|> mean?',
      stream: false,
    });
    assert.equal(special.status, 201, JSON.stringify(special.body));
    assert.equal(special.body.userMessage.content, 'what does <|endoftext|> mean?');
    const kept = await u.api.post<Memory>('/api/memories', { content: 'line one\n\tline two\r\n' });
    assert.equal(kept.status, 201);
    assert.equal(kept.body.content, 'line one\n\tline two\r\n');
    assert.equal((await u.api.get('/api/memories/search?q=line%09two')).status, 200);
  });
});

void describe('body limits', () => {
  void test('a 40 MB body → 413 payload_too_large, connection closed, app alive', async () => {
    const u = await shared.anon.newUser('huge');
    const body = Buffer.alloc(40 * 1024 * 1024, 'x');
    const headers = { Authorization: `Bearer ${u.token}`, 'Content-Type': 'application/json' };
    // Announced by Content-Length (also on an endpoint that takes no body) and found while reading (chunked).
    for (const [path, chunked] of [
      ['/api/memories', false],
      ['/api/memories/bulk', false],
      ['/api/me', false],
      ['/api/memories', true],
    ] as const) {
      const r = await raw(shared.stack.baseUrl, {
        method: 'POST',
        path,
        headers: chunked ? { ...headers, 'Transfer-Encoding': 'chunked' } : headers,
        body,
      });
      assertError(json(r), 413, 'payload_too_large', /limit of \d+ bytes/);
      assert.equal(r.headers.connection, 'close');
    }
    assert.equal(await health(shared.stack.baseUrl), 200);
  });

  void test('Content-Length lie (40 MB announced, bytes sent) → 413 at once, not waiting for the body', async () => {
    const u = await shared.anon.newUser('liar');
    const r = await raw(shared.stack.baseUrl, {
      method: 'POST',
      path: '/api/memories',
      headers: { Authorization: `Bearer ${u.token}`, 'Content-Type': 'application/json' },
      body: Buffer.from('{"content":'),
      declaredLength: 40 * 1024 * 1024,
    });
    assertError(json(r), 413, 'payload_too_large');
    assert.ok(r.ms < 5_000, `answered after ${Math.round(r.ms)} ms`);
    // Expect: 100-continue: refused before the body is sent (no 100 Continue first).
    const expect = await raw(shared.stack.baseUrl, {
      method: 'POST',
      path: '/api/memories',
      headers: { Expect: '100-continue', 'Content-Type': 'application/json' },
      declaredLength: 9_000_000,
    });
    assertError(json(expect), 413, 'payload_too_large');
  });

  void test('a chunked body over the limit → 413', async () => {
    const u = await shared.anon.newUser('chunked');
    const r = await raw(shared.stack.baseUrl, {
      method: 'POST',
      path: '/api/memories',
      headers: {
        Authorization: `Bearer ${u.token}`,
        'Content-Type': 'application/json',
        'Transfer-Encoding': 'chunked',
      },
      body: Buffer.alloc(1024 * 1024, 'x'),
    });
    assertError(json(r), 413, 'payload_too_large');
  });
});

/** An app on fake dependencies whose database throws what a bug would. */
async function appWithBrokenDb(
  query: () => Promise<never>,
): Promise<{ url: string; logs: string[]; close(): Promise<void> }> {
  const logs: string[] = [];
  const deps = {
    db: { query } as unknown as Db,
    health: { app: 'memorychat', version: 'test', models: {}, tokenBudget: 5000, faults: [] },
    authCache: new AuthCache(),
  } as unknown as ApiDeps;
  const server = createAppServer(deps, (line) => logs.push(line));
  const { origin, close } = await listenLocally(server);
  return {
    url: `${origin}`,
    logs,
    close,
  };
}

void describe('unexpected errors', () => {
  void test('a throwing handler (sync or async) → 500 with a request id, logged once, server stays up', async () => {
    let calls = 0;
    const app = await appWithBrokenDb(() => {
      calls += 1;
      if (calls === 1) throw new TypeError('sync bug in a handler');
      return Promise.reject(new RangeError('async bug in a handler'));
    });
    try {
      const api = new Client(app.url);
      for (const bug of ['sync bug', 'async bug']) {
        const r = await api.get('/api/health');
        assertError(r, 500, 'internal', /request [0-9a-f]+-\d+/);
        const id = /request ([0-9a-f]+-\d+)/.exec((r.body as ApiError).error.message)?.[1] ?? '';
        const lines = app.logs.filter((l) => l.includes(id));
        assert.equal(lines.length, 1, app.logs.join('\n'));
        assert.match(lines[0] ?? '', new RegExp(bug));
      }
      assertError(await api.get('/api/nope'), 404, 'not_found');
    } finally {
      await app.close();
    }
  });

  void test('database failures are 503/504, not 500', () => {
    const pgError = (code: string, message: string): Error => Object.assign(new Error(message), { code });
    assert.equal(databaseFailure(pgError('57014', 'canceling statement due to statement timeout')), 'database_timeout');
    assert.equal(databaseFailure(pgError('55P03', 'could not obtain lock')), 'database_timeout');
    assert.equal(databaseFailure(new Error('Query read timeout')), 'database_timeout');
    assert.equal(databaseFailure(new Error('timeout exceeded when trying to connect')), 'database_unavailable');
    assert.equal(databaseFailure(new Error('Connection terminated unexpectedly')), 'database_unavailable');
    assert.equal(
      databaseFailure(pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')),
      'database_unavailable',
    );
    assert.equal(
      databaseFailure(pgError('57P01', 'terminating connection due to administrator command')),
      'database_unavailable',
    );
    assert.equal(databaseFailure(pgError('53300', 'too many connections')), 'database_unavailable');
    assert.equal(databaseFailure(pgError('23505', 'duplicate key')), undefined);
    assert.equal(databaseFailure(new TypeError('x is undefined')), undefined);
  });

  void test('held lock: statement timeout → 504 database_timeout, query timeout → 504, then 200', async () => {
    for (const timeouts of [
      { dbStatementTimeoutMs: 300, dbQueryTimeoutMs: 0 },
      { dbStatementTimeoutMs: 0, dbQueryTimeoutMs: 300 },
    ]) {
      const app = await startTestStack({ databaseUrl: shared.stack.databaseUrl, ...timeouts });
      try {
        const u = await new Client(app.baseUrl).newUser('locked');
        await withSql(shared.stack.databaseUrl, async (sql) => {
          await sql.query('BEGIN');
          await sql.query('LOCK TABLE profiles IN ACCESS EXCLUSIVE MODE');
          const start = performance.now();
          const r = await u.api.get('/api/profiles');
          assertError(r, 504, 'database_timeout', /MEMORYCHAT_DB_STATEMENT_TIMEOUT_MS/);
          assert.ok(performance.now() - start < 5_000, JSON.stringify(timeouts));
          await sql.query('ROLLBACK');
        });
        assert.equal((await u.api.get('/api/profiles')).status, 200);
      } finally {
        await app.stop();
      }
    }
  });
});

/** An OpenAI-compatible stand-in that starts every answer and never finishes it; records cancellations. */
async function hangingModel(): Promise<{ url: string; calls: number; cancelled: number; close(): Promise<void> }> {
  const state = { calls: 0, cancelled: 0 };
  const server: Server = createServer((req, res) => {
    state.calls += 1;
    req.resume();
    res.on('close', () => {
      state.cancelled += 1;
    });
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    const chunk = {
      id: 'x',
      object: 'chat.completion.chunk',
      created: 0,
      model: 'gpt-4o-mini',
      choices: [{ index: 0, delta: { content: 'Hel' }, finish_reason: null }],
    };
    res.write(`data: ${JSON.stringify(chunk)}\n\n`);
  });
  const { origin, close } = await listenLocally(server);
  return {
    url: `${origin}/v1`,
    get calls() {
      return state.calls;
    },
    get cancelled() {
      return state.cancelled;
    },
    close,
  };
}

void describe('client disconnects', () => {
  void test('a disconnect mid-reply cancels the pending model calls (not after the model timeout)', async () => {
    const model = await hangingModel();
    const app = await startTestStack({
      databaseUrl: shared.stack.databaseUrl,
      openaiApiKey: 'sk-test-standin',
      openaiBaseUrl: model.url,
      modelTimeoutMs: 20_000,
    });
    try {
      const u = await new Client(app.baseUrl).newUser('leaver');
      const s = (await u.api.post<Session>('/api/sessions')).body;
      const aborter = new AbortController();
      const res = await fetch(`${app.baseUrl}/api/sessions/${s.id}/messages`, {
        method: 'POST',
        signal: aborter.signal,
        headers: { Authorization: `Bearer ${u.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ content: 'Tell me a long story', stream: true }),
      });
      const reader = res.body?.getReader();
      let seen = '';
      while (!seen.includes('event: token')) {
        const chunk = await reader?.read();
        if (!chunk || chunk.done) break;
        seen += Buffer.from(chunk.value).toString('utf8');
      }
      assert.match(seen, /event: token/);
      await until('both model calls (conversation, extractor) started', () => model.calls >= 2);
      aborter.abort();
      await until('every model call is cancelled', () => model.cancelled === model.calls, 3_000);
      await until('the reply is stored as an error', async () => {
        const rows = await withSql(app.databaseUrl, (sql) =>
          sql.query<{ status: string }>("SELECT status FROM messages WHERE session_id = $1 AND role = 'assistant'", [
            s.id,
          ]),
        );
        return rows.rows[0]?.status === 'error';
      });
    } finally {
      await app.stop();
      await model.close();
    }
  });

  void test('a disconnect before the model call starts costs no model call at all', async () => {
    const model = await hangingModel();
    const app = await startTestStack({
      databaseUrl: shared.stack.databaseUrl,
      openaiApiKey: 'sk-test-standin',
      openaiBaseUrl: model.url,
      modelTimeoutMs: 20_000,
    });
    try {
      const u = await new Client(app.baseUrl).newUser('early-leaver');
      const s = (await u.api.post<Session>('/api/sessions')).body;
      await withSql(shared.stack.databaseUrl, async (sql) => {
        // Hold the session row: the chat waits in its first statement, before any model call.
        await sql.query('BEGIN');
        await sql.query('SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE', [s.id]);
        const aborter = new AbortController();
        const sent = fetch(`${app.baseUrl}/api/sessions/${s.id}/messages`, {
          method: 'POST',
          signal: aborter.signal,
          headers: { Authorization: `Bearer ${u.token}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ content: 'Are you there?', stream: true }),
        }).catch(() => undefined);
        // Another connection: inside a transaction pg_stat_activity is a snapshot that would never change.
        await until('the chat waits on the held row', async () => {
          const r = await withSql(shared.stack.databaseUrl, (probe) =>
            probe.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM pg_stat_activity
               WHERE wait_event_type = 'Lock' AND query LIKE '%UPDATE sessions%'`,
            ),
          );
          return (r.rows[0]?.n ?? 0) > 0;
        });
        aborter.abort();
        await sent;
        await new Promise((resolve) => setTimeout(resolve, 100));
        await sql.query('COMMIT');
      });
      await until('the exchange ends as an error', async () => {
        const rows = await withSql(app.databaseUrl, (sql) =>
          sql.query<{ status: string }>("SELECT status FROM messages WHERE session_id = $1 AND role = 'assistant'", [
            s.id,
          ]),
        );
        return rows.rows[0]?.status === 'error';
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(model.calls, 0, 'no model call for a client that was gone');
    } finally {
      await app.stop();
      await model.close();
    }
  });
});

void describe('bulk import', () => {
  void test('a bulk import (which settles the search indexes) answers 201 and is listed', async () => {
    const u = await shared.anon.newUser('bulk');
    const r = await u.api.post('/api/memories/bulk', {
      memories: Array.from({ length: 1_000 }, (_, i) => ({ content: `imported note number ${i} about kayaks` })),
    });
    assert.equal(r.status, 201);
    const list = await u.api.get<MemoriesPage>('/api/memories?limit=1');
    assert.equal(list.body.memories.length, 1);
  });
});
