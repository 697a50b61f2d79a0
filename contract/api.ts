/**
 * The MemoryChat REST contract: the one place both sides agree on.
 *
 * The reference app (`app/server`) implements it, the suite's API client (`clients/api.ts`)
 * speaks it, and docs/target-adapter.md documents it for anyone who wants to point
 * the suite at their own deployment. Change it here first, then on both sides.
 *
 * Conventions
 * - JSON bodies, ids are numbers, timestamps ISO-8601 strings.
 * - Auth: `Authorization: Bearer <token>` (the token returned by `POST /api/users`).
 *   Another user's session/message/memory answers 404, exactly like an unknown id.
 * - Errors: `{ "error": { "code": ErrorCode, "message": string } }` with the HTTP status below.
 * - Every non-streamed response carries `Server-Timing: db;dur=<ms>, model;dur=<ms>, total;dur=<ms>`.
 *   Streamed replies carry the same split in the final `done` event (`timing`), because headers
 *   are sent before the model has answered.
 * - Body limits: {@link BODY_LIMIT_BYTES} in general, {@link BULK_BODY_LIMIT_BYTES} for
 *   `POST /api/memories/bulk`; larger bodies (also when only announced by `Content-Length`)
 *   answer 413 at once and the connection is closed. A request not received within 30 s
 *   answers 408 (a bare status line: there is no request to answer in JSON yet).
 * - Text: control characters (U+0000–U+001F) are refused with 400 `validation` naming the field,
 *   in query parameters and body fields; free text (message and memory content) may contain
 *   tab, newline and carriage return.
 * - A malformed request URL answers 400 `validation`.
 *
 * Endpoints
 *   GET  /api/health                          → Health                         (no auth)
 *   POST /api/users            CreateUserRequest → 201 CreateUserResponse       (no auth)
 *   GET  /api/me                              → User
 *   POST /api/profiles         { name }       → 201 Profile
 *   GET  /api/profiles                        → { profiles: Profile[] }
 *   POST /api/sessions         CreateSessionRequest → 201 Session
 *   GET  /api/sessions?limit&before           → SessionsPage, newest first
 *   GET  /api/sessions/:id                    → Session
 *   POST /api/sessions/:id/messages  PostMessageRequest
 *        stream=true (or `Accept: text/event-stream`) → 200 text/event-stream of {@link ChatStreamEvent}
 *        stream=false                                 → 201 PostMessageResponse
 *   GET  /api/sessions/:id/messages?limit&before → MessagesPage, newest first
 *   GET  /api/messages/:id/usage              → MessageUsage (for an assistant message)
 *   POST /api/memories         CreateMemoryRequest → 201 Memory
 *   POST /api/memories/bulk    { memories: CreateMemoryRequest[] } → 201 { created, ids }
 *   GET  /api/memories?profileId&limit&before → MemoriesPage, newest first
 *   GET  /api/memories/search?q&limit&profileId&mode → SearchResponse
 *
 * Paging: `limit` (1..200, default 50) and `before` (an id: return items older than it);
 * the response has `nextCursor` (the id to pass as `before`, or null at the end).
 */

/**
 * `db;dur=1.2, model;dur=0.00, total;dur=3.4` → { db: 1.2, model: 0, total: 3.4 }. Other
 * parameters of an entry (e.g. `desc="…"`) are ignored; entries without `dur` are skipped. `dur`
 * may be quoted (`dur="1.2"`) and its name in any case, as the Server-Timing syntax allows.
 */
export function parseServerTiming(header: string | null | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const entry of (header ?? '').split(',')) {
    const [name, ...params] = entry.split(';').map((p) => p.trim());
    const dur = params.map((p) => /^dur\s*=\s*("?)([\d.]+)\1$/i.exec(p)?.[2]).find((d) => d !== undefined);
    if (name && dur !== undefined) out[name] = Number(dur);
  }
  return out;
}

export const BODY_LIMIT_BYTES = 64 * 1024;
export const BULK_BODY_LIMIT_BYTES = 8 * 1024 * 1024;
export const MAX_PAGE_LIMIT = 200;
export const DEFAULT_PAGE_LIMIT = 50;

export type ErrorCode =
  | 'bad_json' // 400: body is not valid JSON
  | 'validation' // 400: a field is missing or has the wrong type/size
  | 'unauthorized' // 401: missing or unknown token
  | 'not_found' // 404: unknown id, or another user's
  | 'payload_too_large' // 413
  | 'model_error' // 502: the model answered 5xx / malformed
  | 'model_timeout' // 504: the model did not answer in time
  | 'database_unavailable' // 503: the database cannot be reached or refused the connection
  | 'database_timeout' // 504: a statement hit the app's statement/query timeout (e.g. a held lock)
  | 'internal'; // 500: a bug; the message carries a request id to find it in the server log

export interface ApiError {
  error: { code: ErrorCode; message: string };
}

/** The agents a chat message runs, each on its own configured model. */
export type AgentName = 'memory_retriever' | 'conversation' | 'memory_extractor' | 'summarizer';

export interface Health {
  status: 'ok';
  app: string;
  version: string;
  schemaVersion: number;
  /** The model each agent is configured to use (`memory_retriever` uses none: DB only). */
  models: Partial<Record<AgentName, string>>;
  tokenBudget: number;
  /** Active fault switches (reference app only; empty in production). */
  faults: string[];
}

export interface User {
  id: number;
  email: string;
  displayName: string;
  createdAt: string;
}

export interface Profile {
  id: number;
  userId: number;
  name: string;
  createdAt: string;
}

export interface CreateUserRequest {
  email: string;
  displayName?: string;
}

export interface CreateUserResponse {
  user: User;
  token: string;
  /** Every user gets a default profile. */
  profile: Profile;
}

export interface Session {
  id: number;
  userId: number;
  profileId: number | null;
  title: string;
  createdAt: string;
  updatedAt: string;
}

export interface CreateSessionRequest {
  title?: string;
  profileId?: number;
}

export type MessageRole = 'user' | 'assistant';
export type MessageStatus = 'complete' | 'streaming' | 'error';

export interface Message {
  id: number;
  sessionId: number;
  role: MessageRole;
  content: string;
  status: MessageStatus;
  /** Set when status is 'error': what went wrong, readable. */
  error: string | null;
  /** The model that wrote an assistant message. */
  model: string | null;
  createdAt: string;
}

export interface PostMessageRequest {
  content: string;
  /** Default true. */
  stream?: boolean;
}

/** Time split of one request, in milliseconds. */
export interface Timing {
  dbMs: number;
  modelMs: number;
  totalMs: number;
  /** Streamed replies: request received → first token written. */
  ttftMs?: number;
  /** SQL statements the app ran for this request (N+1 detection). */
  dbQueries?: number;
}

export interface AgentUsage {
  agent: AgentName;
  model: string | null;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  latencyMs: number;
  status: 'ok' | 'error' | 'skipped';
}

export interface MessageUsage {
  messageId: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** The per-message token budget the app enforces. */
  budget: number;
  agents: AgentUsage[];
  /** How many memories the retriever put into the prompt. */
  memoriesInPrompt: number;
  /** How many earlier messages went into the prompt verbatim (the rest are summarised). */
  historyMessagesInPrompt: number;
}

export interface PostMessageResponse {
  userMessage: Message;
  assistantMessage: Message;
  usage: MessageUsage;
  timing: Timing;
}

/** Server-sent events of a streamed reply, in order: meta, token*, then done or error. */
export type ChatStreamEvent =
  | { event: 'meta'; data: { userMessageId: number; assistantMessageId: number } }
  | { event: 'token'; data: { delta: string } }
  | { event: 'done'; data: { message: Message; usage: MessageUsage; timing: Timing } }
  | { event: 'error'; data: { error: ApiError['error']; message: Message | null } };

export interface Memory {
  id: number;
  userId: number;
  profileId: number | null;
  content: string;
  importance: number;
  createdAt: string;
}

export interface CreateMemoryRequest {
  content: string;
  profileId?: number;
  /** 0..1, default 0.5 */
  importance?: number;
}

export interface BulkCreateMemoriesResponse {
  created: number;
  ids: number[];
}

export type SearchMode = 'auto' | 'ranked' | 'fuzzy';

export interface SearchResult {
  memory: Memory;
  score: number;
}

export interface SearchResponse {
  /** The mode actually used: `auto` tries ranked full-text first and falls back to fuzzy (typos). */
  mode: Exclude<SearchMode, 'auto'>;
  results: SearchResult[];
}

export type SessionsPage = { sessions: Session[]; nextCursor: number | null };
export type MessagesPage = { messages: Message[]; nextCursor: number | null };
export type MemoriesPage = { memories: Memory[]; nextCursor: number | null };

/** Fault switches of the reference app (`MEMORYCHAT_FAULTS`, comma list). */
export const FAULTS = [
  'missing-indexes', // migrations skip the Step 7.4 indexes and the search indexes
  'n-plus-one', // retrieval loads memories one query per row
  'token-bloat', // the prompt is not trimmed to the token budget
  'slow-model', // the model answers far slower (seconds to first token; MEMORYCHAT_FAULT_MS: exactly that first token)
  'slow-render', // the chat UI re-renders every message on every token, with forced layouts
  'model-errors', // a share of model calls fail with 5xx or time out
  'slow-session-create', // session creation costs MEMORYCHAT_FAULT_MS (default 8) more (CPU below 1 ms)
  'unranked-search', // search returns the matching memories newest first instead of ranked
  'serialize-chats', // one chat turn at a time in the whole app (a global lock): capacity collapses under load
  // Graded faults, for compare mode's sensitivity (their size: MEMORYCHAT_FAULT_MS):
  'slow-chat', // each chat turn waits MEMORYCHAT_FAULT_MS (default 50) more before its model call
  'extra-query', // each chat turn runs one more SQL statement
  'slow-search', // each memory search spends MEMORYCHAT_FAULT_MS (default 2) more CPU time in the app
  'slow-memory-list', // each recent-first memory list spends MEMORYCHAT_FAULT_MS (default 2) more CPU time in the app
  'slow-retrieval', // each chat turn's memory retrieval spends MEMORYCHAT_FAULT_MS (default 2) more CPU time in the app
  'extra-token', // the conversation agent's instructions are one token longer ("Be very concise.")
] as const;
export type Fault = (typeof FAULTS)[number];
