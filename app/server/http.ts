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
  internal: 500,
};

export class HttpError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
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

/** Largest body we read (and discard) just to answer 413 cleanly instead of cutting the upload. */
const DRAIN_LIMIT = 32 * 1024 * 1024;

/** Reads the body up to `limit` bytes; over the limit → 413 (after draining, so the client sees the answer). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  const tooLarge = (): HttpError => new HttpError('payload_too_large', `request body is larger than the limit of ${limit} bytes for this endpoint`);
  if (Number.isFinite(declared) && declared > DRAIN_LIMIT) {
    req.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > DRAIN_LIMIT) {
      req.destroy();
      throw tooLarge();
    }
    if (size > limit) over = true;
    if (!over) chunks.push(chunk);
  }
  if (over) throw tooLarge();
  return Buffer.concat(chunks);
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
