/**
 * The REST API of app/contract.ts. Handlers authenticate, validate, call the repository (every
 * query user-scoped) and answer; another user's id is indistinguishable from an unknown one (404).
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  BODY_LIMIT_BYTES,
  BULK_BODY_LIMIT_BYTES,
  EVENT_LOOP_PATH,
  type ApiError,
  type ChatStreamEvent,
  type CreateUserResponse,
  type EventLoopDelay,
  type EventLoopReport,
  type Health,
  type PostMessageResponse,
  type SearchResponse,
  type Timing,
  type User,
} from '../../contract';
import { runChat, unionMs, usageFrom, type ChatDeps } from '../agents/chat';
import type { Db } from '../db/db';
import { databaseFailure, databaseFailureMessage } from '../db/errors';
import type { ImportSettler } from '../db/import-settler';
import * as repo from '../db/repo';
import type { AuthCache } from './auth-cache';
import type { EventLoopProbe } from './event-loop';
import {
  HttpError,
  idParam,
  notFound,
  readJson,
  Router,
  sendJson,
  serverTiming,
  type Handler,
  type RequestContext,
} from './http';
import {
  bulkMemoriesBody,
  createMemoryBody,
  createProfileBody,
  createSessionBody,
  createUserBody,
  pageQuery,
  parseBody,
  postMessageBody,
  profileQuery,
  searchQuery,
} from './validate';

export interface ApiDeps extends ChatDeps {
  db: Db;
  health: Omit<Health, 'schemaVersion' | 'status'>;
  /** Token → user; entries die with their user (see auth-cache.ts). */
  authCache: AuthCache;
  /** Bounded index/statistics upkeep after bulk imports (see import-settler.ts). */
  settler: ImportSettler;
  /** GET /api/diagnostics/event-loop: this process's loop, and the bundled simulator's (null otherwise). */
  eventLoop: { app: EventLoopProbe; modelSimulator: (() => Promise<EventLoopDelay | null>) | null };
}

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

/** sha256 of the request's bearer token; undefined when there is none. */
function tokenHashOf(ctx: RequestContext): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(ctx.req.headers.authorization ?? '');
  return m?.[1] ? hashToken(m[1]) : undefined;
}

async function authenticate(deps: ApiDeps, ctx: RequestContext): Promise<User> {
  const tokenHash = tokenHashOf(ctx);
  if (!tokenHash)
    throw new HttpError(
      'unauthorized',
      'missing bearer token: send "Authorization: Bearer <token>" (the token from POST /api/users)',
    );
  const cached = deps.authCache.get(tokenHash);
  if (cached) return cached;
  const user = await repo.userByTokenHash(deps.db, tokenHash);
  if (!user) throw new HttpError('unauthorized', 'unknown bearer token');
  deps.authCache.set(tokenHash, user);
  return user;
}

/** A write referencing a user row that no longer exists: foreign key violation on a `user_id` column. */
function isDeletedUserError(err: unknown): boolean {
  const e = err as { code?: unknown; constraint?: unknown } | null;
  // 23503 = foreign_key_violation; the constraints are named <table>_user_id_fkey (001_schema.sql).
  return e?.code === '23503' && typeof e.constraint === 'string' && e.constraint.endsWith('_user_id_fkey');
}

/**
 * A user deleted while its request runs (between authentication and a write, or before the
 * delete's notification reached the auth cache) makes the write fail on the user_id foreign key.
 * That is a stale credential, not a server fault: drop the cache entry and answer 401 like for
 * any unknown token (instead of 500).
 */
function failDeletedUserAs401(authCache: AuthCache, handler: Handler): Handler {
  return async (ctx) => {
    try {
      await handler(ctx);
    } catch (err) {
      if (!isDeletedUserError(err)) throw err;
      const tokenHash = tokenHashOf(ctx);
      if (tokenHash) authCache.forget(tokenHash);
      throw new HttpError(
        'unauthorized',
        'the user of this bearer token no longer exists; create a new one (POST /api/users)',
      );
    }
  };
}

/** Bulk imports of at least this many memories settle the search indexes (see import-settler.ts). */
const BULK_MERGE_SEARCH_INDEX_ROWS = 1_000;

/** Search: ranked full-text; `auto` falls back to fuzzy (typos) when ranked finds fewer than this. */
const AUTO_FUZZY_BELOW = 3;

export function buildRouter(deps: ApiDeps): Router {
  const { db } = deps;
  const router = new Router();
  // Every route goes through the deleted-user check: any write may be the first to notice.
  const r = {
    add: (method: string, path: string, handler: Handler) =>
      router.add(method, path, failDeletedUserAs401(deps.authCache, handler)),
  };

  r.add('GET', '/api/health', async (ctx) => {
    const v = await db.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
    const body: Health = { status: 'ok', ...deps.health, schemaVersion: v.rows[0]?.v ?? 0 };
    sendJson(ctx, 200, body);
  });

  // Diagnostics for the load test (contract/event-loop.ts); reading starts a new window.
  r.add('GET', EVENT_LOOP_PATH, async (ctx) => {
    const app = deps.eventLoop.app.read();
    const body: EventLoopReport = { app, modelSimulator: (await deps.eventLoop.modelSimulator?.()) ?? null };
    sendJson(ctx, 200, body);
  });

  r.add('POST', '/api/users', async (ctx) => {
    const body = parseBody(createUserBody, await readJson(ctx.req, BODY_LIMIT_BYTES));
    const token = randomBytes(24).toString('base64url');
    const created = await repo.createUserWithProfile(db, body.email, body.displayName ?? '', hashToken(token));
    if (created === 'email_taken') throw new HttpError('validation', `email: ${body.email} is already registered`);
    const out: CreateUserResponse = { user: created.user, token, profile: created.profile };
    sendJson(ctx, 201, out);
  });

  r.add('GET', '/api/me', async (ctx) => sendJson(ctx, 200, await authenticate(deps, ctx)));

  r.add('POST', '/api/profiles', async (ctx) => {
    const user = await authenticate(deps, ctx);
    const body = parseBody(createProfileBody, await readJson(ctx.req, BODY_LIMIT_BYTES));
    sendJson(ctx, 201, await repo.createProfile(db, user.id, body.name));
  });

  r.add('GET', '/api/profiles', async (ctx) => {
    const user = await authenticate(deps, ctx);
    sendJson(ctx, 200, { profiles: await repo.listProfiles(db, user.id) });
  });

  r.add('POST', '/api/sessions', async (ctx) => {
    const user = await authenticate(deps, ctx);
    const body = parseBody(createSessionBody, await readJson(ctx.req, BODY_LIMIT_BYTES));
    const slowMs = deps.settings.faults.includes('slow-session-create')
      ? (deps.settings.faultMs ?? SLOW_SESSION_CREATE_DEFAULT_MS)
      : 0;
    const session = await repo.createSession(db, user.id, body.title?.trim() || 'New chat', body.profileId ?? null, {
      slowMs,
    });
    if (!session) throw notFound(`profile ${body.profileId}`);
    sendJson(ctx, 201, session);
  });

  r.add('GET', '/api/sessions', async (ctx) => {
    const user = await authenticate(deps, ctx);
    const { limit, before } = pageQuery(ctx.url);
    const page = await repo.listSessions(db, user.id, limit, before);
    sendJson(ctx, 200, { sessions: page.items, nextCursor: page.nextCursor });
  });

  r.add('GET', '/api/sessions/:id', async (ctx) => {
    const user = await authenticate(deps, ctx);
    const id = idParam(ctx.params[0], 'session');
    const s = await repo.getSession(db, user.id, id);
    if (!s) throw notFound(`session ${id}`);
    const { summary: _s, summaryUptoId: _u, ...session } = s;
    sendJson(ctx, 200, session);
  });

  r.add('GET', '/api/sessions/:id/messages', async (ctx) => {
    const user = await authenticate(deps, ctx);
    const id = idParam(ctx.params[0], 'session');
    const { limit, before } = pageQuery(ctx.url);
    if (!(await repo.getSession(db, user.id, id))) throw notFound(`session ${id}`);
    const page = await repo.listMessages(db, id, limit, before);
    sendJson(ctx, 200, { messages: page.items, nextCursor: page.nextCursor });
  });

  r.add('POST', '/api/sessions/:id/messages', async (ctx) => {
    const user = await authenticate(deps, ctx);
    const id = idParam(ctx.params[0], 'session');
    const body = parseBody(postMessageBody, await readJson(ctx.req, BODY_LIMIT_BYTES));
    if (body.stream ?? true) await streamChat(deps, ctx, user, id, body.content);
    else await plainChat(deps, ctx, user, id, body.content);
  });

  r.add('GET', '/api/messages/:id/usage', async (ctx) => {
    const user = await authenticate(deps, ctx);
    const id = idParam(ctx.params[0], 'message');
    const message = await repo.getMessage(db, user.id, id);
    if (!message) throw notFound(`message ${id}`);
    if (message.role !== 'assistant')
      throw new HttpError('not_found', `message ${id} is a user message; usage is recorded on the assistant's reply`);
    const logs = await repo.agentLogsOf(db, id);
    sendJson(ctx, 200, usageFrom(id, deps.settings.tokenBudget, logs));
  });

  r.add('POST', '/api/memories', async (ctx) => {
    const user = await authenticate(deps, ctx);
    const body = parseBody(createMemoryBody, await readJson(ctx.req, BODY_LIMIT_BYTES));
    if (body.profileId !== undefined && !(await repo.profileBelongsTo(db, user.id, body.profileId)))
      throw notFound(`profile ${body.profileId}`);
    const [memory] = await repo.insertMemories(db, user.id, [
      { content: body.content, profileId: body.profileId ?? null, importance: body.importance ?? 0.5 },
    ]);
    sendJson(ctx, 201, memory);
  });

  r.add('POST', '/api/memories/bulk', async (ctx) => {
    const user = await authenticate(deps, ctx);
    const body = parseBody(bulkMemoriesBody, await readJson(ctx.req, BULK_BODY_LIMIT_BYTES));
    const profileIds = [...new Set(body.memories.map((m) => m.profileId).filter((p): p is number => p !== undefined))];
    for (const p of profileIds) if (!(await repo.profileBelongsTo(db, user.id, p))) throw notFound(`profile ${p}`);
    const saved = await repo.insertMemories(
      db,
      user.id,
      body.memories.map((m) => ({
        content: m.content,
        profileId: m.profileId ?? null,
        importance: m.importance ?? 0.5,
      })),
    );
    // Search right after a big import must use its indexes: settle before answering (bounded).
    if (saved.length >= BULK_MERGE_SEARCH_INDEX_ROWS) await deps.settler.imported(saved.length);
    sendJson(ctx, 201, { created: saved.length, ids: saved.map((m) => m.id) });
  });

  r.add('GET', '/api/memories', async (ctx) => {
    const user = await authenticate(deps, ctx);
    const { limit, before } = pageQuery(ctx.url);
    // `slow-memory-list` fault: CPU time in the app per list (as costlier row mapping would add).
    if (deps.settings.faults.includes('slow-memory-list')) repo.spin(deps.settings.faultMs ?? repo.SLOW_CPU_DEFAULT_MS);
    const page = await repo.listMemories(db, user.id, profileQuery(ctx.url), limit, before);
    sendJson(ctx, 200, { memories: page.items, nextCursor: page.nextCursor });
  });

  r.add('GET', '/api/memories/search', async (ctx) => {
    const user = await authenticate(deps, ctx);
    const { q, limit, mode, profileId } = searchQuery(ctx.url);
    // `unranked-search` fault: the same matches, newest first (a lost ORDER BY … rank).
    const order = deps.settings.faults.includes('unranked-search') ? 'newest' : 'relevance';
    // `slow-search` fault: CPU time in the app per search (as a costlier ranking step would add).
    if (deps.settings.faults.includes('slow-search')) repo.spin(deps.settings.faultMs ?? repo.SLOW_CPU_DEFAULT_MS);
    let out: SearchResponse;
    if (mode === 'fuzzy') {
      out = { mode: 'fuzzy', results: await repo.searchFuzzy(db, user.id, q, limit, profileId, order) };
    } else {
      const ranked = await repo.searchRanked(db, user.id, q, limit, profileId, order);
      if (mode === 'auto' && ranked.length < Math.min(AUTO_FUZZY_BELOW, limit)) {
        const fuzzy = await repo.searchFuzzy(db, user.id, q, limit, profileId, order);
        const seen = new Set(ranked.map((x) => x.memory.id));
        out = { mode: 'fuzzy', results: [...ranked, ...fuzzy.filter((x) => !seen.has(x.memory.id))].slice(0, limit) };
      } else {
        out = { mode: 'ranked', results: ranked };
      }
    }
    sendJson(ctx, 200, out);
  });

  return router;
}

/** Default extra time of the `slow-session-create` fault. */
const SLOW_SESSION_CREATE_DEFAULT_MS = 8;

function timingOf(ctx: RequestContext, modelMs: number, firstTokenAt: number | undefined): Timing {
  return {
    dbMs: round(ctx.db.ms),
    modelMs: round(modelMs),
    totalMs: round(performance.now() - ctx.start),
    ...(firstTokenAt !== undefined ? { ttftMs: round(firstTokenAt - ctx.start) } : {}),
    dbQueries: ctx.db.queries,
  };
}

const round = (n: number): number => Math.round(n * 100) / 100;

async function plainChat(
  deps: ApiDeps,
  ctx: RequestContext,
  user: User,
  sessionId: number,
  content: string,
): Promise<void> {
  const out = await runChat(deps, { userId: user.id, sessionId, content, signal: ctx.signal });
  if (out === 'session_not_found') throw notFound(`session ${sessionId}`);
  ctx.modelMs = unionMs(out.modelIntervals);
  if (out.error)
    throw new HttpError(
      out.error.code,
      `the reply failed: ${out.error.message} ` +
        `(assistant message ${out.assistantMessage.id} is stored with status "error"; your message was kept)`,
    );
  const body: PostMessageResponse = {
    userMessage: out.userMessage,
    assistantMessage: out.assistantMessage,
    usage: out.usage,
    timing: timingOf(ctx, ctx.modelMs, out.firstTokenAt),
  };
  sendJson(ctx, 201, body);
}

async function streamChat(
  deps: ApiDeps,
  ctx: RequestContext,
  user: User,
  sessionId: number,
  content: string,
): Promise<void> {
  const { res } = ctx;
  const send = (e: ChatStreamEvent): void => {
    if (!res.destroyed) res.write(`event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
  };
  let out: Awaited<ReturnType<typeof runChat>>;
  try {
    out = await runChat(deps, {
      userId: user.id,
      sessionId,
      content,
      signal: ctx.signal,
      events: {
        onStored: (u, a) => {
          res.writeHead(200, {
            'Content-Type': 'text/event-stream; charset=utf-8',
            'Cache-Control': 'no-store',
            'X-Accel-Buffering': 'no',
            // Headers leave before the model answers: the full split is in the `done` event.
            'Server-Timing': serverTiming(ctx),
          });
          res.socket?.setNoDelay(true);
          send({ event: 'meta', data: { userMessageId: u.id, assistantMessageId: a.id } });
        },
        onDelta: (delta) => send({ event: 'token', data: { delta } }),
      },
    });
  } catch (err) {
    // Before the stream started, the normal JSON error path answers; after, only an event can.
    if (!res.headersSent) throw err;
    const dbFailure = databaseFailure(err);
    const error: ApiError['error'] = dbFailure
      ? { code: dbFailure, message: databaseFailureMessage(dbFailure) }
      : {
          code: 'internal',
          message: `internal error while finishing the reply (request ${ctx.reportInternal(err)}); see the server log`,
        };
    send({ event: 'error', data: { error, message: null } });
    res.end();
    return;
  }
  if (out === 'session_not_found') throw notFound(`session ${sessionId}`);
  ctx.modelMs = unionMs(out.modelIntervals);
  if (out.error) {
    send({
      event: 'error',
      data: { error: { code: out.error.code, message: out.error.message }, message: out.assistantMessage },
    });
  } else {
    send({
      event: 'done',
      data: { message: out.assistantMessage, usage: out.usage, timing: timingOf(ctx, ctx.modelMs, out.firstTokenAt) },
    });
  }
  res.end();
}
