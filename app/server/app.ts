/**
 * The MemoryChat HTTP server: the REST API (routes.ts) and the chat UI (app/ui, static files
 * read once at start). `index.html` carries the active UI-affecting faults in a meta tag, so the
 * page needs no extra request to know them.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BODY_LIMIT_BYTES, BULK_BODY_LIMIT_BYTES } from '../../contract';
import { CallAborted } from '../agents/model';
import { withDbStats } from '../db/db';
import { databaseFailure, databaseFailureMessage } from '../db/errors';
import { ClientGone, discardThenClose, HttpError, refuseBody, sendError, tooLarge, type RequestContext } from './http';
import { buildRouter, type ApiDeps } from './routes';
import { checkQueryText } from './validate';

const UI_DIR = path.join(__dirname, '..', 'ui');
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

interface StaticFile {
  body: Buffer;
  type: string;
}

function loadUi(faults: readonly string[]): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(UI_DIR)) {
    const type = CONTENT_TYPES[path.extname(name)];
    if (!type) continue;
    let body = readFileSync(path.join(UI_DIR, name));
    if (name === 'index.html') {
      body = Buffer.from(
        body.toString('utf8').replace('__MEMORYCHAT_FAULTS__', faults.filter((f) => /^[a-z-]+$/.test(f)).join(',')),
      );
    }
    files.set('/' + name, { body, type });
  }
  const index = files.get('/index.html');
  if (index) files.set('/', index);
  return files;
}

/** Receiving one whole request (headers and body) may take this long; its headers this long. */
const REQUEST_TIMEOUT_MS = 30_000;
const HEADERS_TIMEOUT_MS = 20_000;

/** The body limit of a path (contract: 8 MiB for bulk memories, 64 KiB elsewhere, bodyless routes included). */
function bodyLimitFor(pathname: string): number {
  return pathname === '/api/memories/bulk' ? BULK_BODY_LIMIT_BYTES : BODY_LIMIT_BYTES;
}

function declaredBodyTooLarge(req: IncomingMessage, pathname: string): number | undefined {
  const limit = bodyLimitFor(pathname);
  return Number(req.headers['content-length'] ?? NaN) > limit ? limit : undefined;
}

/**
 * The request target as a URL; undefined when malformed. `new URL` throws on e.g. `//` (an
 * authority without a host) and reads `//x/…` as host x: a path must not start with `//`.
 */
function parseRequestUrl(raw: string | undefined): URL | undefined {
  if (raw === undefined || raw.startsWith('//')) return undefined;
  try {
    return new URL(raw, 'http://localhost');
  } catch {
    return undefined;
  }
}

const describe = (err: unknown): string => (err instanceof Error ? (err.stack ?? err.message) : String(err));

export function createAppServer(deps: ApiDeps, log: (line: string) => void): Server {
  const router = buildRouter(deps);
  const ui = loadUi(deps.health.faults);
  // Request ids exist only for failures: the id in the 500 answer finds its one log line.
  const idPrefix = randomBytes(3).toString('hex');
  let failures = 0;

  const newContext = (req: IncomingMessage, res: ServerResponse, url: URL): RequestContext => {
    const aborter = new AbortController();
    // The client went away before the answer was complete: cancel what is still pending for it.
    res.once('close', () => {
      if (!res.writableFinished) aborter.abort();
    });
    // Without listeners these would be thrown as uncaught exceptions (a client cutting its upload).
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    // Answered without reading the whole body (an unknown endpoint, a route that takes none):
    // don't read on forever, close the connection (see http.ts).
    res.once('finish', () => {
      if (!req.complete) discardThenClose(req);
    });
    return {
      req,
      res,
      url,
      params: [],
      start: performance.now(),
      db: { ms: 0, queries: 0 },
      modelMs: 0,
      signal: aborter.signal,
      reportInternal: (err) => {
        failures += 1;
        const requestId = `${idPrefix}-${failures}`;
        log(`request ${requestId} ${req.method} ${url.pathname} failed: ${describe(err)}`);
        return requestId;
      },
    };
  };

  const answerError = (ctx: RequestContext, err: unknown): void => {
    if (err instanceof HttpError) {
      if (err.code === 'payload_too_large') refuseBody(ctx, err);
      else sendError(ctx, err.code, err.message);
      return;
    }
    // The client is gone (upload cut, or disconnected before its chat started): nobody to answer.
    if (err instanceof ClientGone || err instanceof CallAborted) return;
    const dbFailure = databaseFailure(err);
    if (dbFailure) {
      log(`${ctx.req.method} ${ctx.url.pathname}: ${dbFailure} (${err instanceof Error ? err.message : String(err)})`);
      if (!ctx.res.headersSent) sendError(ctx, dbFailure, databaseFailureMessage(dbFailure));
      else ctx.res.end();
      return;
    }
    const requestId = ctx.reportInternal(err);
    if (!ctx.res.headersSent) sendError(ctx, 'internal', `internal error (request ${requestId}); see the server log`);
    else ctx.res.end();
  };

  const handle = async (ctx: RequestContext): Promise<void> => {
    const { req, res, url } = ctx;
    const tooLargeFor = declaredBodyTooLarge(req, url.pathname);
    if (tooLargeFor !== undefined) throw tooLarge(tooLargeFor);
    if (!url.pathname.startsWith('/api/')) {
      serveUi(ui, req, res, url);
      return;
    }
    checkQueryText(url);
    const match = router.match(req.method ?? 'GET', url.pathname);
    if (match === 'not_found') {
      req.resume();
      sendError(ctx, 'not_found', `no such endpoint: ${req.method} ${url.pathname}`);
      return;
    }
    ctx.params = match.params;
    await withDbStats(ctx.db, () => match.handler(ctx));
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const url = parseRequestUrl(req.url);
    const ctx = newContext(req, res, url ?? new URL('http://localhost/'));
    if (!url) {
      req.resume();
      sendError(
        ctx,
        'validation',
        `malformed request URL ${JSON.stringify((req.url ?? '').slice(0, 100))}; send a path such as /api/health`,
      );
      return;
    }
    // Whatever a handler throws or rejects with is answered here: one request never takes the server down.
    handle(ctx).catch((err: unknown) => {
      try {
        answerError(ctx, err);
      } catch (failed) {
        log(`answering a failed ${req.method} ${url.pathname} failed too: ${describe(failed)}`);
        res.destroy();
      }
    });
  };

  // A client that announces a body and never sends it all is answered 408 and dropped after
  // REQUEST_TIMEOUT_MS instead of holding its connection for Node's default 5 minutes.
  const server = createServer(
    {
      noDelay: true,
      keepAliveTimeout: 65_000,
      requestTimeout: REQUEST_TIMEOUT_MS,
      headersTimeout: HEADERS_TIMEOUT_MS,
      // How often Node looks for such requests (default 30 s, which made it 30–60 s).
      connectionsCheckingInterval: 5_000,
    },
    onRequest,
  );
  // `Expect: 100-continue` (curl for large bodies): refuse an oversized body before it is sent.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const url = parseRequestUrl(req.url);
    if (!url || declaredBodyTooLarge(req, url.pathname) === undefined) res.writeContinue();
    onRequest(req, res);
  });
  // A client that sends garbage or disappears must never crash the server.
  // Errors before a request exists (unparsable, headers too large, too slow) get a bare status line.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const status =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? '408 Request Timeout'
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    else socket.destroy();
  });
  return server;
}

function serveUi(ui: Map<string, StaticFile>, req: IncomingMessage, res: ServerResponse, url: URL): void {
  if (url.pathname === '/favicon.ico') {
    res.writeHead(204, { 'Cache-Control': 'max-age=86400' });
    res.end();
    return;
  }
  const file = req.method === 'GET' || req.method === 'HEAD' ? ui.get(url.pathname) : undefined;
  if (!file) {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('not found');
    return;
  }
  res.writeHead(200, { 'Content-Type': file.type, 'Content-Length': file.body.length, 'Cache-Control': 'no-cache' });
  res.end(req.method === 'HEAD' ? undefined : file.body);
}
