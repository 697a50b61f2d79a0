/**
 * HTTP plumbing on node:http: per-request context (timing and DB accounting), JSON responses
 * with Server-Timing, bounded body reading (413), typed API errors, and a tiny router.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiError, ErrorCode } from '../../contract';
import type { DbStats } from '../db/db';

export const STATUS: Record<ErrorCode, number> = {
  bad_json: 400,
  validation: 400,
  unauthorized: 401,
  not_found: 404,
  payload_too_large: 413,
  model_error: 502,
  model_timeout: 504,
  database_unavailable: 503,
  database_timeout: 504,
  internal: 500,
};

export class HttpError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
  get status(): number {
    return STATUS[this.code];
  }
}

export const notFound = (what: string): HttpError => new HttpError('not_found', `${what} not found`);

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: string[];
  /** performance.now() when the request arrived. */
  start: number;
  db: DbStats;
  /** Model time inside this request (ms), set by handlers that call the model. */
  modelMs: number;
  /** Aborted when the client disconnects before the answer is complete: cancels pending model calls. */
  signal: AbortSignal;
  /** Logs an unexpected error once, with a new request id, and returns that id for the answer. */
  reportInternal(err: unknown): string;
}

export function serverTiming(ctx: RequestContext): string {
  const total = performance.now() - ctx.start;
  return `db;dur=${ctx.db.ms.toFixed(2)}, model;dur=${ctx.modelMs.toFixed(2)}, total;dur=${total.toFixed(2)}`;
}

export function sendJson(ctx: RequestContext, status: number, body: unknown): void {
  if (ctx.res.headersSent || ctx.res.destroyed) return;
  const payload = JSON.stringify(body);
  ctx.res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(payload),
    'Cache-Control': 'no-store',
    'Server-Timing': serverTiming(ctx),
  });
  ctx.res.end(payload);
}

export function sendError(ctx: RequestContext, code: ErrorCode, message: string): void {
  const body: ApiError = { error: { code, message } };
  sendJson(ctx, STATUS[code], body);
}

/** The client went away while we were reading its request: nobody to answer, nothing to log. */
export class ClientGone extends Error {
  override name = 'ClientGone';
}

export const tooLarge = (limit: number): HttpError =>
  new HttpError(
    'payload_too_large',
    `request body is larger than the limit of ${limit} bytes for this endpoint; send a smaller body`,
  );

/**
 * Reads the body up to `limit` bytes. Over the limit (announced by Content-Length or found while
 * reading) → 413 at once, without reading the rest: the caller answers and closes the connection
 * (see refuseBody). Listeners rather than `for await`: leaving an async iterator early destroys
 * the request, and with it the socket the 413 has to go out on.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) return Promise.reject(tooLarge(limit));
  if (req.destroyed) return Promise.reject(new ClientGone('the client closed the connection before its body was read'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onGone);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      done();
      req.pause();
      reject(tooLarge(limit));
    };
    const onEnd = (): void => {
      done();
      resolve(Buffer.concat(chunks));
    };
    const onGone = (): void => {
      done();
      reject(new ClientGone('the client closed the connection before sending the whole body'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    req.on('close', onGone);
  });
}

/** How long a refused upload is still read (and thrown away) so the client sees the 413, not a reset. */
const REFUSED_BODY_LINGER_MS = 1_000;

/**
 * Answers 413 and closes the connection without reading the body to its end. Closing a socket
 * with unread data makes the kernel send a reset, which can destroy the answer before the client
 * reads it; so what still arrives is discarded for a moment, then the socket is closed.
 */
export function refuseBody(ctx: RequestContext, err: HttpError): void {
  const { res } = ctx;
  if (!res.headersSent) res.setHeader('Connection', 'close');
  sendError(ctx, err.code, err.message);
  // The rest of the body is discarded and the socket closed once the answer is out (app.ts).
}

/** Throws away what still arrives of a body nobody reads, for a moment, then closes the socket. */
export function discardThenClose(req: IncomingMessage): void {
  if (req.destroyed) return;
  const timer = setTimeout(() => req.socket.destroy(), REFUSED_BODY_LINGER_MS);
  timer.unref();
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}

export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const raw = await readBody(req, limit);
  if (raw.length === 0) return {};
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch (err) {
    throw new HttpError('bad_json', `request body is not valid JSON (${(err as Error).message})`);
  }
}

export type Handler = (ctx: RequestContext) => Promise<void>;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

/** Routes with `:id` segments (positive integers); anything else in an id slot is a 404. */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, path: string, handler: Handler): this {
    const pattern = new RegExp('^' + path.replace(/:id/g, '([^/]+)') + '$');
    this.routes.push({ method, pattern, handler });
    return this;
  }

  match(method: string, pathname: string): { handler: Handler; params: string[] } | 'not_found' {
    for (const r of this.routes) {
      if (r.method !== method) continue;
      const m = r.pattern.exec(pathname);
      if (m) return { handler: r.handler, params: m.slice(1) };
    }
    return 'not_found';
  }
}

/** Parses a path id; anything that isn't a positive safe integer is simply an unknown id (404). */
export function idParam(raw: string | undefined, what: string): number {
  if (!raw || !/^\d{1,15}$/.test(raw) || Number(raw) < 1) throw notFound(what);
  return Number(raw);
}
