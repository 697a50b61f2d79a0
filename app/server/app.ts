/**
 * The MemoryChat HTTP server: the REST API (routes.ts) and the chat UI (app/ui, static files
 * read once at start). `index.html` carries the active UI-affecting faults in a meta tag, so the
 * page needs no extra request to know them.
 */
import { createServer, type Server } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { withDbStats } from '../db/db';
import { databaseFailure, databaseFailureMessage } from '../db/errors';
import { HttpError, sendError, type RequestContext } from './http';
import { buildRouter, type ApiDeps } from './routes';

const UI_DIR = path.join(__dirname, '..', 'ui');
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

interface StaticFile { body: Buffer; type: string }

function loadUi(faults: readonly string[]): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(UI_DIR)) {
    const type = CONTENT_TYPES[path.extname(name)];
    if (!type) continue;
    let body = readFileSync(path.join(UI_DIR, name));
    if (name === 'index.html') {
      body = Buffer.from(body.toString('utf8').replace('__MEMORYCHAT_FAULTS__', faults.filter((f) => /^[a-z-]+$/.test(f)).join(',')));
    }
    files.set('/' + name, { body, type });
  }
  const index = files.get('/index.html');
  if (index) files.set('/', index);
  return files;
}

export function createAppServer(deps: ApiDeps, log: (line: string) => void): Server {
  const router = buildRouter(deps);
  const ui = loadUi(deps.health.faults);
  const server = createServer({ noDelay: true, keepAliveTimeout: 65_000 }, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const ctx: RequestContext = { req, res, url, params: [], start: performance.now(), db: { ms: 0, queries: 0 }, modelMs: 0 };
    if (!url.pathname.startsWith('/api/')) {
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
      return;
    }
    const match = router.match(req.method ?? 'GET', url.pathname);
    if (match === 'not_found') {
      req.resume();
      sendError(ctx, 'not_found', `no such endpoint: ${req.method} ${url.pathname}`);
      return;
    }
    ctx.params = match.params;
    withDbStats(ctx.db, () => match.handler(ctx)).catch((err: unknown) => {
      if (err instanceof HttpError) {
        sendError(ctx, err.code, err.message);
        if (err.code === 'payload_too_large' && !req.complete) res.once('finish', () => req.destroy());
        return;
      }
      // A stuck or unreachable database is not a bug: a clear 503/504 instead of a 500.
      const dbFailure = databaseFailure(err);
      if (dbFailure) {
        log(`${req.method} ${url.pathname}: ${dbFailure} (${err instanceof Error ? err.message : String(err)})`);
        if (!res.headersSent) sendError(ctx, dbFailure, databaseFailureMessage(dbFailure));
        else res.end();
        return;
      }
      log(`internal error on ${req.method} ${url.pathname}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      if (!res.headersSent) sendError(ctx, 'internal', 'internal error; see the server log');
      else res.end();
    });
  });
  // A client that sends garbage or disappears must never crash the server.
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  return server;
}
