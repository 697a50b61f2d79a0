/**
 * Property: no request makes the reference app answer 5xx or die. fast-check sends random
 * methods, paths (contract routes with good and bad ids, `//`, `%00`, `..`, very long, unicode),
 * query strings, headers and bodies (JSON of the right and wrong shapes, invalid JSON, over the
 * limit), with and without a valid token, over every route of app/contract.ts; afterwards
 * `/api/health` must still answer. A failure prints fast-check's seed and the shrunk request.
 */
import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { after, test } from 'node:test';
import fc from 'fast-check';
import type { ApiError, Memory, PostMessageResponse, Session } from '../../contract';
import { useTestStack } from './api-support';

const shared = useTestStack();
const RUNS = 1_000;

/** Ids that exist for the fuzzing user, filled in at the start of the test. */
const known = { token: '', sessionId: 0, messageId: 0, memoryId: 0, profileId: 0 };
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

async function createKnownRows(): Promise<void> {
  const u = await shared.anon.newUser('fuzz');
  known.token = u.token;
  known.profileId = u.profile.id;
  known.sessionId = (await u.api.post<Session>('/api/sessions', { title: 'fuzz' })).body.id;
  known.memoryId = (await u.api.post<Memory>('/api/memories', { content: 'I keep bees on the roof' })).body.id;
  const chat = await u.api.call<PostMessageResponse>('POST', `/api/sessions/${known.sessionId}/messages`, {
    content: 'hello',
    stream: false,
  });
  known.messageId = chat.body.assistantMessage.id;
}

after(() => agent.destroy());

// ---------------------------------------------------------------- arbitraries

/** Every route of the contract, `:id` where an id goes. */
const ROUTES: readonly [string, string][] = [
  ['GET', '/api/health'],
  ['POST', '/api/users'],
  ['GET', '/api/me'],
  ['POST', '/api/profiles'],
  ['GET', '/api/profiles'],
  ['POST', '/api/sessions'],
  ['GET', '/api/sessions'],
  ['GET', '/api/sessions/:id'],
  ['POST', '/api/sessions/:id/messages'],
  ['GET', '/api/sessions/:id/messages'],
  ['GET', '/api/messages/:id/usage'],
  ['POST', '/api/memories'],
  ['POST', '/api/memories/bulk'],
  ['GET', '/api/memories'],
  ['GET', '/api/memories/search'],
];

/** Text that hurts: unicode, control characters, SQL, quotes, very long. */
const nastyText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom(
    '\u0000',
    'a\u0000b',
    '\u0007\u001b[31m',
    '\r\n',
    '\t',
    "'; DROP TABLE users; --",
    '%00',
    '..',
    '../..',
    '\ud800',
    '😀',
    '\u202e',
  ),
  fc.integer({ min: 200, max: 40_000 }).map((n) => 'x'.repeat(n)),
);

const idSegment = fc.oneof(
  fc.constant('known'),
  fc.integer({ min: -5, max: 2 ** 53 + 10 }).map(String),
  fc.constantFrom(
    '0',
    '-1',
    '1e3',
    '0x10',
    '9'.repeat(30),
    'abc',
    '%00',
    '..',
    '%2e%2e',
    '',
    ' ',
    'ü',
    '%F0%9F%98%80',
    '%',
  ),
);

const enc = (s: string): string => {
  try {
    return encodeURIComponent(s);
  } catch {
    return '%ED%A0%80'; // a lone surrogate, as bytes
  }
};

/** A path: a contract route (ids good or bad), mutated, or random. */
const pathArb = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...ROUTES), idSegment).map(([[, p], id]) => ({ route: p, id })) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom(...ROUTES),
        fc.constantFrom('//', '/%00', '/..', '/../..', '/./', '%2F', '/', '?', '#', ';x'),
        fc.boolean(),
      )
      .map(([[, p], bit, front]) => ({ route: front ? bit + p : p + bit, id: 'known' })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        '//',
        '///',
        '//api/health',
        '/%00',
        '/..',
        '/../../etc/passwd',
        '/api/%00',
        '/api//sessions',
        '*',
        '/api/sessions/%ZZ',
      )
      .map((p) => ({ route: p, id: 'known' })),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }).map((s) => ({ route: '/api/' + enc(s), id: 'known' })) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 2_000, max: 20_000 })
      .map((n) => ({ route: '/api/sessions/' + '9'.repeat(n), id: 'known' })),
  },
);

const queryValue = fc.oneof(
  fc.integer({ min: -10, max: 1_000 }).map(String),
  fc.constantFrom('', '1', '50', '200', '201', '9'.repeat(20), 'auto', 'ranked', 'fuzzy', 'semantic', 'known'),
  nastyText,
);
const queryArb = fc
  .array(fc.tuple(fc.constantFrom('q', 'limit', 'before', 'mode', 'profileId', 'stream', 'x', ''), queryValue), {
    maxLength: 4,
  })
  .map((pairs) => pairs.map(([k, v]) => `${enc(k)}=${enc(v === 'known' ? String(known.memoryId) : v)}`).join('&'));

/** Values of the right type, the wrong type, and nonsense, for the contract's field names. */
const fieldValue = fc.oneof(
  nastyText,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 3 }),
  fc.constant('known'),
);
const contractObject = fc.dictionary(
  fc.constantFrom(
    'content',
    'stream',
    'email',
    'displayName',
    'name',
    'title',
    'profileId',
    'importance',
    'memories',
    '__proto__',
    'constructor',
  ),
  fieldValue,
  { maxKeys: 4 },
);
const validish = fc.oneof(
  fc.record({ content: nastyText, stream: fc.option(fc.boolean(), { nil: undefined }) }, { requiredKeys: ['content'] }),
  fc.record({
    email: fc.oneof(
      nastyText,
      fc.uuid().map((u) => `${u}@fuzz.memorychat.test`),
    ),
    displayName: fc.option(nastyText, { nil: undefined }),
  }),
  fc.record({
    memories: fc.array(fc.record({ content: nastyText, importance: fc.option(fc.double(), { nil: undefined }) }), {
      maxLength: 30,
    }),
  }),
);
const bodyArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: validish.map((v) => JSON.stringify(v)) },
  { weight: 3, arbitrary: contractObject.map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '{',
      '{"content": ',
      '[1,2',
      'null',
      '"str"',
      '1e400',
      '{"a":1}{"b":2}',
      '\u0000',
      '{"content":"\\ud800"}',
      '[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 60_000, max: 200_000 }).map((n) => JSON.stringify({ content: 'y'.repeat(n) })),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }).map((n) => '['.repeat(n * 30_000)) },
);

const authArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant('valid') },
  { weight: 1, arbitrary: fc.constant(undefined) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'Bearer',
      'Bearer ',
      'Bearer x',
      'Basic abc',
      'bearer  tok  tok',
      'Bearer ' + 'a'.repeat(5_000),
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .string({ maxLength: 40 })
      .filter((s) => /^[\x20-\x7e]*$/.test(s))
      .map((s) => `Bearer ${s}`),
  },
);

const requestArb = fc.record({
  method: fc.oneof(
    { weight: 3, arbitrary: fc.constant('route') },
    { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'FUZZ') },
  ),
  path: pathArb,
  query: fc.option(queryArb, { nil: undefined }),
  auth: authArb,
  contentType: fc.option(
    fc.constantFrom('application/json', 'text/plain', 'application/json; charset=latin1', 'multipart/form-data', '*/*'),
    { nil: undefined },
  ),
  accept: fc.option(fc.constantFrom('text/event-stream', 'application/json', '*/*'), { nil: undefined }),
  declaredLength: fc.option(fc.constantFrom(0, 1, 70_000, 40 * 1024 * 1024, 2 ** 40), { freq: 10, nil: undefined }),
  body: bodyArb,
});
type FuzzRequest = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

// ---------------------------------------------------------------- sending

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

function knownId(route: string): string {
  if (route.includes('/messages/') && route.includes('usage')) return String(known.messageId);
  return String(known.sessionId);
}

function toWire(r: FuzzRequest): {
  method: string;
  path: string;
  headers: Record<string, string | number>;
  body: Buffer | undefined;
} {
  const routeMethod = ROUTES.find(([, p]) => p === r.path.route)?.[0] ?? 'GET';
  const method = r.method === 'route' ? routeMethod : r.method;
  const id = r.path.id === 'known' ? knownId(r.path.route) : r.path.id;
  let path = r.path.route.replace(':id', id);
  if (!path.startsWith('/') && path !== '*') path = '/' + path;
  if (r.query !== undefined) path += (path.includes('?') ? '&' : '?') + r.query;
  const body = r.body === undefined ? undefined : Buffer.from(r.body.replaceAll('"known"', String(known.profileId)));
  const headers: Record<string, string | number> = {};
  if (r.auth === 'valid') headers.Authorization = `Bearer ${known.token}`;
  else if (r.auth !== undefined) headers.Authorization = r.auth;
  if (r.contentType) headers['Content-Type'] = r.contentType;
  if (r.accept) headers.Accept = r.accept;
  // A declared length that differs from the body is a lie the server must survive (the client
  // then sends only the body it has and closes); one that matches is the honest header.
  if (r.declaredLength !== undefined && r.declaredLength > (body?.length ?? 0))
    headers['Content-Length'] = r.declaredLength;
  else if (body) headers['Content-Length'] = body.length;
  return { method, path, headers, body };
}

function send(r: FuzzRequest): Promise<Answer> {
  const wire = toWire(r);
  const url = new URL(shared.stack.baseUrl);
  return new Promise((resolve, reject) => {
    const lying =
      wire.headers['Content-Length'] !== undefined && wire.headers['Content-Length'] !== (wire.body?.length ?? 0);
    const req = httpRequest({
      host: url.hostname,
      port: url.port,
      method: wire.method,
      path: wire.path,
      headers: wire.headers,
      agent: lying ? false : agent,
    });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (lying) req.destroy();
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
      res.on('error', reject);
    });
    req.on('error', (err) => {
      if (!answered) reject(new Error(`${wire.method} ${wire.path.slice(0, 200)}: no answer (${err.message})`));
    });
    req.setTimeout(15_000, () => req.destroy(new Error('no answer within 15 s')));
    if (wire.body) req.write(wire.body);
    req.end();
    // A lying client sends what it has and stops sending (the server sees the upload end short).
    if (lying) req.once('socket', (socket) => socket.once('connect', () => setTimeout(() => socket.end(), 20)));
  });
}

function describeRequest(r: FuzzRequest): string {
  const w = toWire(r);
  const headers = JSON.stringify({ ...w.headers, Authorization: w.headers.Authorization ? '…' : undefined });
  const body = JSON.stringify(w.body?.toString('utf8').slice(0, 300));
  return `${w.method} ${w.path.slice(0, 300)} headers=${headers} body=${body}`;
}

// ---------------------------------------------------------------- the property

void test(
  `fuzz: ${RUNS} random requests over every route, no 5xx, the app still answers afterwards`,
  { timeout: 120_000 },
  async () => {
    await createKnownRows();
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requestArb, async (r) => {
        // Some values are nonsense for a Node client itself (invalid header chars): not a server case.
        let answer: Answer;
        try {
          answer = await send(r);
        } catch (err) {
          if (
            err instanceof TypeError &&
            /Invalid character|ERR_INVALID|ERR_UNESCAPED/i.test(
              `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`,
            )
          )
            return;
          throw err;
        }
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        assert.ok(
          answer.status >= 200 && answer.status < 500,
          `${answer.status} for ${describeRequest(r)}: ${answer.body.slice(0, 500)}`,
        );
        if (answer.status >= 400 && answer.contentType.includes('application/json') && answer.body !== '') {
          const err = (JSON.parse(answer.body) as ApiError).error;
          assert.ok(
            typeof err.code === 'string' && typeof err.message === 'string',
            `error shape for ${describeRequest(r)}: ${answer.body.slice(0, 300)}`,
          );
        }
        // A streamed reply can only report a failure in an event: none may be an internal error.
        assert.ok(
          !/"code":"internal"/.test(answer.body),
          `internal error event for ${describeRequest(r)}: ${answer.body.slice(0, 500)}`,
        );
      }),
      { numRuns: RUNS, interruptAfterTimeLimit: 100_000, markInterruptAsFailure: true, includeErrorInReport: true },
    );
    const health = await fetch(`${shared.stack.baseUrl}/api/health`);
    assert.equal(health.status, 200);
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    assert.ok(total >= RUNS * 0.95, `only ${total} of ${RUNS} cases reached the server`);
    // Every family of answers was exercised, so the fuzzer is not stuck on one error path.
    for (const status of [200, 201, 400, 401, 404, 413])
      assert.ok(statuses.has(status), `no ${status} among ${JSON.stringify([...statuses])}`);
  },
);
