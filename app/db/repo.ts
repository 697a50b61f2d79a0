/**
 * All SQL of the app, user-scoped: every read and write carries `user_id = $user`, so isolation
 * is a property of the query, not of the caller. List queries are "owner, newest first by id",
 * which is exactly the shape of the Step 7.4 indexes `(owner_id, id DESC)`.
 */
import type { Memory, Message, Profile, Session, User } from '../../contract';
import type { Queryable } from './db';

const iso = (d: Date | string): string => (d instanceof Date ? d.toISOString() : new Date(d).toISOString());

interface UserRow {
  id: number;
  email: string;
  display_name: string;
  created_at: Date;
}
interface ProfileRow {
  id: number;
  user_id: number;
  name: string;
  created_at: Date;
}
interface SessionRow {
  id: number;
  user_id: number;
  profile_id: number | null;
  title: string;
  created_at: Date;
  updated_at: Date;
}
export interface SessionState extends Session {
  summary: string | null;
  summaryUptoId: number | null;
}
interface SessionStateRow extends SessionRow {
  summary: string | null;
  summary_upto_id: number | null;
}
interface MessageRow {
  id: number;
  session_id: number;
  role: 'user' | 'assistant';
  content: string;
  status: Message['status'];
  error: string | null;
  model: string | null;
  created_at: Date;
}
interface MemoryRow {
  id: number;
  user_id: number;
  profile_id: number | null;
  content: string;
  importance: number;
  created_at: Date;
}

export const toUser = (r: UserRow): User => ({
  id: r.id,
  email: r.email,
  displayName: r.display_name,
  createdAt: iso(r.created_at),
});
export const toProfile = (r: ProfileRow): Profile => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  createdAt: iso(r.created_at),
});
export const toSession = (r: SessionRow): Session => ({
  id: r.id,
  userId: r.user_id,
  profileId: r.profile_id,
  title: r.title,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
});
export const toMessage = (r: MessageRow): Message => ({
  id: r.id,
  sessionId: r.session_id,
  role: r.role,
  content: r.content,
  status: r.status,
  error: r.error,
  model: r.model,
  createdAt: iso(r.created_at),
});
export const toMemory = (r: MemoryRow): Memory => ({
  id: r.id,
  userId: r.user_id,
  profileId: r.profile_id,
  content: r.content,
  importance: r.importance,
  createdAt: iso(r.created_at),
});

const USER_COLS = 'id, email, display_name, created_at';
const SESSION_COLS = 'id, user_id, profile_id, title, created_at, updated_at';
const MESSAGE_COLS = 'id, session_id, role, content, status, error, model, created_at';
const MEMORY_COLS = 'id, user_id, profile_id, content, importance, created_at';

/** Page of `limit` newest-first rows; fetches one extra to know whether there is a next page. */
function page<T extends { id: number }>(rows: T[], limit: number): { items: T[]; nextCursor: number | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? last.id : null };
}

// ---------------------------------------------------------------- users & profiles

export async function userByTokenHash(q: Queryable, tokenHash: string): Promise<User | undefined> {
  const r = await q.query<UserRow>(`SELECT ${USER_COLS} FROM users WHERE token_hash = $1`, [tokenHash]);
  return r.rows[0] ? toUser(r.rows[0]) : undefined;
}

export async function createUserWithProfile(
  q: Queryable,
  email: string,
  displayName: string,
  tokenHash: string,
): Promise<{ user: User; profile: Profile } | 'email_taken'> {
  // One statement: user + default profile, so a failure never leaves a user without a profile.
  const r = await q.query<UserRow & { p_id: number; p_name: string; p_created_at: Date }>(
    `WITH u AS (
       INSERT INTO users (email, display_name, token_hash) VALUES ($1, $2, $3)
       ON CONFLICT (email) DO NOTHING
       RETURNING ${USER_COLS}
     ), p AS (
       INSERT INTO profiles (user_id, name) SELECT id, 'Default' FROM u RETURNING id, user_id, name, created_at
     )
     SELECT u.*, p.id AS p_id, p.name AS p_name, p.created_at AS p_created_at FROM u JOIN p ON p.user_id = u.id`,
    [email, displayName, tokenHash],
  );
  const row = r.rows[0];
  if (!row) return 'email_taken';
  return {
    user: toUser(row),
    profile: toProfile({ id: row.p_id, user_id: row.id, name: row.p_name, created_at: row.p_created_at }),
  };
}

export async function createProfile(q: Queryable, userId: number, name: string): Promise<Profile> {
  const r = await q.query<ProfileRow>(
    'INSERT INTO profiles (user_id, name) VALUES ($1, $2) RETURNING id, user_id, name, created_at',
    [userId, name],
  );
  return toProfile(r.rows[0] as ProfileRow);
}

export async function listProfiles(q: Queryable, userId: number): Promise<Profile[]> {
  const r = await q.query<ProfileRow>(
    'SELECT id, user_id, name, created_at FROM profiles WHERE user_id = $1 ORDER BY id LIMIT 1000',
    [userId],
  );
  return r.rows.map(toProfile);
}

// ---------------------------------------------------------------- sessions

/** Creates a session; `undefined` when `profileId` is not one of the user's profiles. */
export async function createSession(
  q: Queryable,
  userId: number,
  title: string,
  profileId: number | null,
  opts: { slowMs?: number } = {},
): Promise<Session | undefined> {
  // Fault `slow-session-create`: more time per session, as a slow trigger or an unindexed
  // foreign-key check would cost. pg_sleep rounds up to whole milliseconds, so a graded fault
  // below 1 ms is CPU time in the app instead.
  const slowMs = opts.slowMs ?? 0;
  if (slowMs >= 1) await q.query('SELECT pg_sleep($1)', [slowMs / 1000]);
  else if (slowMs > 0) spin(slowMs);
  const r = await q.query<SessionRow>(
    `INSERT INTO sessions (user_id, profile_id, title)
     SELECT $1, $2::bigint, $3
     WHERE $2::bigint IS NULL OR EXISTS (SELECT 1 FROM profiles WHERE id = $2::bigint AND user_id = $1)
     RETURNING ${SESSION_COLS}`,
    [userId, profileId, title],
  );
  return r.rows[0] ? toSession(r.rows[0]) : undefined;
}

export async function listSessions(
  q: Queryable,
  userId: number,
  limit: number,
  before: number | undefined,
): Promise<{ items: Session[]; nextCursor: number | null }> {
  const r =
    before === undefined
      ? await q.query<SessionRow>(`SELECT ${SESSION_COLS} FROM sessions WHERE user_id = $1 ORDER BY id DESC LIMIT $2`, [
          userId,
          limit + 1,
        ])
      : await q.query<SessionRow>(
          `SELECT ${SESSION_COLS} FROM sessions WHERE user_id = $1 AND id < $3 ORDER BY id DESC LIMIT $2`,
          [userId, limit + 1, before],
        );
  const p = page(r.rows, limit);
  return { items: p.items.map(toSession), nextCursor: p.nextCursor };
}

export async function getSession(q: Queryable, userId: number, id: number): Promise<SessionState | undefined> {
  const r = await q.query<SessionStateRow>(
    `SELECT ${SESSION_COLS}, summary, summary_upto_id FROM sessions WHERE id = $1 AND user_id = $2`,
    [id, userId],
  );
  const row = r.rows[0];
  return row ? { ...toSession(row), summary: row.summary, summaryUptoId: row.summary_upto_id } : undefined;
}

export async function saveSummary(q: Queryable, sessionId: number, summary: string, uptoId: number): Promise<void> {
  // Concurrent messages may both summarise; keep the one covering more.
  await q.query(
    'UPDATE sessions SET summary = $2, summary_upto_id = $3 WHERE id = $1 AND coalesce(summary_upto_id, 0) < $3',
    [sessionId, summary, uptoId],
  );
}

// ---------------------------------------------------------------- messages

export async function listMessages(
  q: Queryable,
  sessionId: number,
  limit: number,
  before: number | undefined,
): Promise<{ items: Message[]; nextCursor: number | null }> {
  const r =
    before === undefined
      ? await q.query<MessageRow>(
          `SELECT ${MESSAGE_COLS} FROM messages WHERE session_id = $1 ORDER BY id DESC LIMIT $2`,
          [sessionId, limit + 1],
        )
      : await q.query<MessageRow>(
          `SELECT ${MESSAGE_COLS} FROM messages WHERE session_id = $1 AND id < $3 ORDER BY id DESC LIMIT $2`,
          [sessionId, limit + 1, before],
        );
  const p = page(r.rows, limit);
  return { items: p.items.map(toMessage), nextCursor: p.nextCursor };
}

/**
 * Starts a chat exchange in one statement (one round trip on the reply's critical path): checks
 * the session belongs to the user, touches it, and inserts the user's message and the
 * assistant's placeholder (status 'streaming'), in that id order. `undefined` = no such session.
 */
export async function startExchange(
  q: Queryable,
  userId: number,
  sessionId: number,
  content: string,
  model: string,
): Promise<{ session: SessionState; user: Message; assistant: Message } | undefined> {
  const r = await q.query<
    MessageRow & {
      s_profile_id: number | null;
      s_title: string;
      s_created_at: Date;
      s_updated_at: Date;
      s_summary: string | null;
      s_summary_upto_id: number | null;
    }
  >(
    `WITH s AS (
       UPDATE sessions SET updated_at = now() WHERE id = $1 AND user_id = $2
       RETURNING id, profile_id, title, created_at, updated_at, summary, summary_upto_id
     ), ins AS (
       INSERT INTO messages (session_id, user_id, role, content, status, model)
       SELECT s.id, $2, v.role, v.content, v.status, v.model
       FROM s, (VALUES (1, 'user', $3::text, 'complete', NULL::text), (2, 'assistant', '', 'streaming', $4::text))
         AS v(ord, role, content, status, model)
       ORDER BY v.ord
       RETURNING ${MESSAGE_COLS}
     )
     SELECT ins.*, s.profile_id AS s_profile_id, s.title AS s_title,
            s.created_at AS s_created_at, s.updated_at AS s_updated_at,
            s.summary AS s_summary, s.summary_upto_id AS s_summary_upto_id
     FROM ins, s ORDER BY ins.id`,
    [sessionId, userId, content, model],
  );
  const [u, a] = r.rows;
  if (!u || !a) return undefined;
  return {
    session: {
      ...toSession({
        id: sessionId,
        user_id: userId,
        profile_id: u.s_profile_id,
        title: u.s_title,
        created_at: u.s_created_at,
        updated_at: u.s_updated_at,
      }),
      summary: u.s_summary,
      summaryUptoId: u.s_summary_upto_id,
    },
    user: toMessage(u),
    assistant: toMessage(a),
  };
}

/** Stores the reply's outcome and all its agent calls in one statement. */
/** Ends an exchange that failed before its reply was stored (the placeholder is still 'streaming'). */
export async function failExchange(q: Queryable, assistantId: number, error: string): Promise<void> {
  await q.query(`UPDATE messages SET status = 'error', error = $2 WHERE id = $1 AND status = 'streaming'`, [
    assistantId,
    error,
  ]);
}

export async function finishExchange(
  q: Queryable,
  ids: { sessionId: number; assistantId: number; userId: number },
  content: string,
  status: 'complete' | 'error',
  error: string | null,
  logs: readonly AgentLogRow[],
): Promise<Message> {
  const r = await q.query<MessageRow>(
    `WITH logs AS (
       INSERT INTO agent_logs (session_id, message_id, user_id, agent, model,
                               prompt_tokens, completion_tokens, latency_ms, status, error, detail)
       SELECT $1, $2, $3, a, m, pt, ct, l, s, e, d::jsonb
       FROM unnest($7::text[], $8::text[], $9::int[], $10::int[], $11::real[], $12::text[], $13::text[], $14::text[])
         AS t(a, m, pt, ct, l, s, e, d)
     )
     UPDATE messages SET content = $4, status = $5, error = $6 WHERE id = $2 RETURNING ${MESSAGE_COLS}`,
    [
      ids.sessionId,
      ids.assistantId,
      ids.userId,
      content,
      status,
      error,
      logs.map((l) => l.agent),
      logs.map((l) => l.model),
      logs.map((l) => l.promptTokens),
      logs.map((l) => l.completionTokens),
      logs.map((l) => l.latencyMs),
      logs.map((l) => l.status),
      logs.map((l) => l.error),
      logs.map((l) => (l.detail ? JSON.stringify(l.detail) : null)),
    ],
  );
  return toMessage(r.rows[0] as MessageRow);
}

export interface HistoryMessage {
  id: number;
  role: 'user' | 'assistant';
  content: string;
}

/** The newest `limit` finished messages before `beforeId`, newest first. */
export async function recentHistory(
  q: Queryable,
  sessionId: number,
  beforeId: number,
  limit: number,
): Promise<HistoryMessage[]> {
  const r = await q.query<HistoryMessage>(
    `SELECT id, role, content FROM messages
     WHERE session_id = $1 AND id < $2 AND status = 'complete' ORDER BY id DESC LIMIT $3`,
    [sessionId, beforeId, limit],
  );
  return r.rows;
}

/** Messages in (afterId, beforeId), newest first, bounded: what the summarizer folds in. */
export async function historyBetween(
  q: Queryable,
  sessionId: number,
  afterId: number,
  beforeId: number,
  limit: number,
): Promise<HistoryMessage[]> {
  const r = await q.query<HistoryMessage>(
    `SELECT id, role, content FROM messages
     WHERE session_id = $1 AND id > $2 AND id < $3 AND status = 'complete' ORDER BY id DESC LIMIT $4`,
    [sessionId, afterId, beforeId, limit],
  );
  return r.rows;
}

/** The whole history (token-bloat fault: nothing trimmed). */
export async function fullHistory(q: Queryable, sessionId: number, beforeId: number): Promise<HistoryMessage[]> {
  const r = await q.query<HistoryMessage>(
    `SELECT id, role, content FROM messages WHERE session_id = $1 AND id < $2 AND status = 'complete' ORDER BY id DESC`,
    [sessionId, beforeId],
  );
  return r.rows;
}

export async function getMessage(q: Queryable, userId: number, id: number): Promise<Message | undefined> {
  const r = await q.query<MessageRow>(`SELECT ${MESSAGE_COLS} FROM messages WHERE id = $1 AND user_id = $2`, [
    id,
    userId,
  ]);
  return r.rows[0] ? toMessage(r.rows[0]) : undefined;
}

// ---------------------------------------------------------------- memories

export async function profileBelongsTo(q: Queryable, userId: number, profileId: number): Promise<boolean> {
  const r = await q.query('SELECT 1 FROM profiles WHERE id = $1 AND user_id = $2', [profileId, userId]);
  return r.rowCount === 1;
}

export interface NewMemory {
  content: string;
  profileId: number | null;
  importance: number;
  sourceMessageId?: number | null;
}

/** Bulk insert in one statement (unnest), returning ids in input order. */
export async function insertMemories(q: Queryable, userId: number, rows: readonly NewMemory[]): Promise<Memory[]> {
  if (rows.length === 0) return [];
  const r = await q.query<MemoryRow & { ord: number }>(
    `INSERT INTO memories (user_id, profile_id, content, importance, source_message_id)
     SELECT $1, p, c, i, s FROM unnest($2::bigint[], $3::text[], $4::real[], $5::bigint[])
       WITH ORDINALITY AS t(p, c, i, s, ord)
     ORDER BY ord
     RETURNING ${MEMORY_COLS}`,
    [
      userId,
      rows.map((m) => m.profileId),
      rows.map((m) => m.content),
      rows.map((m) => m.importance),
      rows.map((m) => m.sourceMessageId ?? null),
    ],
  );
  return r.rows.sort((a, b) => a.id - b.id).map(toMemory);
}

export async function listMemories(
  q: Queryable,
  userId: number,
  profileId: number | undefined,
  limit: number,
  before: number | undefined,
): Promise<{ items: Memory[]; nextCursor: number | null }> {
  const params: (number | undefined)[] = [userId, limit + 1];
  let where = 'user_id = $1';
  if (profileId !== undefined) {
    params.push(profileId);
    where += ` AND profile_id = $${params.length}`;
  }
  if (before !== undefined) {
    params.push(before);
    where += ` AND id < $${params.length}`;
  }
  const r = await q.query<MemoryRow>(
    `SELECT ${MEMORY_COLS} FROM memories WHERE ${where} ORDER BY id DESC LIMIT $2`,
    params as number[],
  );
  const p = page(r.rows, limit);
  return { items: p.items.map(toMemory), nextCursor: p.nextCursor };
}

export interface ScoredMemory {
  memory: Memory;
  score: number;
}

/** How the text ($2) becomes the all-terms and any-term queries of {@link rankedMemoriesSql}. */
export interface QueryTerms {
  /** Common table expressions the two queries read (without WITH), if any. */
  ctes?: string;
  all: string;
  any: string;
}

/**
 * The terms as written: `plainto_tsquery` parses free text safely; turning its AND into OR gives
 * the any-term query, so "what is my sister's name" still finds "My sister is called Ana".
 * Inline (not in a CTE) so the planner sees the actual query terms and can estimate how many
 * rows match, e.g. to skip the user_id index when one user owns most rows.
 */
const TEXT_TERMS: QueryTerms = {
  all: "plainto_tsquery('english', $2)",
  any: "nullif(replace(plainto_tsquery('english', $2)::text, ' & ', ' | '), '')::tsquery",
};

/** Dictionary terms tried per query word (the closest first). */
const FUZZY_TERMS_PER_WORD = 3;
/** A tsquery's text form is valid tsquery input, so the terms need no hand-written quoting. */
const TERM_AS_QUERY = "NULLIF(plainto_tsquery('simple', term)::text, '')";

/**
 * The terms with typos corrected, the way the pg_trgm documentation pairs trigrams with
 * full-text search: each word of the text (stemmed, stop words dropped) is matched against the
 * user's term dictionary (`memory_terms`, trigram `%` at pg_trgm.similarity_threshold, default
 * 0.3, through idx_memory_terms_trgm), and its closest terms stand in for it: "Ingrid is severly
 * alergic" → all: ingrid & (sever | …) & (allerg | …). Words with no close term are left out; no
 * close term at all gives NULL queries, which match nothing.
 */
const FUZZY_TERMS: QueryTerms = {
  ctes: `words AS (
      SELECT DISTINCT w FROM unnest(tsvector_to_array(to_tsvector('english', $2))) AS w
    ), candidates AS (
      SELECT words.w, c.term FROM words, LATERAL (
        SELECT t.term FROM memory_terms t
        WHERE t.user_id = $1 AND t.term % words.w
        ORDER BY similarity(t.term, words.w) DESC, t.term
        LIMIT ${FUZZY_TERMS_PER_WORD}) c
    ), corrected AS (
      SELECT
        (SELECT string_agg('(' || alternatives || ')', ' & ') FROM
          (SELECT string_agg(${TERM_AS_QUERY}, ' | ') AS alternatives FROM candidates GROUP BY w) per_word
         WHERE alternatives IS NOT NULL)::tsquery AS q_all,
        (SELECT string_agg(${TERM_AS_QUERY}, ' | ') FROM (SELECT DISTINCT term FROM candidates) d)::tsquery AS q_any
    )`,
  all: '(SELECT q_all FROM corrected)',
  any: '(SELECT q_any FROM corrected)',
};

/** How search orders its matches: by relevance, or (the `unranked-search` fault) newest first. */
export type SearchOrder = 'relevance' | 'newest';

/**
 * The ranked full-text query shared by search (ranked and fuzzy) and the chat's memory retriever:
 * memories matching *all* terms come first, by ts_rank against the any-term query; only when they
 * are fewer than the limit, memories matching *any* term fill up (a one-time filter: that branch
 * doesn't run otherwise), ranked by how *rare* the terms they match are (below); newest first on
 * ties. `terms` says how the text becomes those two queries (as written, or typos corrected).
 *
 * Why rarity: a question rarely has all its words in one memory ("What did Farah call the corgi
 * she took home?"), so the any-term branch decides most answers. ts_rank weighs every term alike
 * (it has no inverse document frequency), so a memory matching "Farah" and "call" beat the one
 * matching "Farah" and "corgi", and a user's name, in a tenth of their memories, counted as much
 * as the one word that mattered. Each term now weighs ln(1 + matches / matches containing it), the
 * IDF of BM25 computed over the memories the query matches (every memory containing a term is
 * among them, so this is the term's document frequency for the user, or among the
 * `anyCandidates` newest when bounded); a memory scores the sum over the terms it contains. On
 * the suite's labelled retrieval set (e2e/relevance.spec.ts) this raised recall@5 of ranked search
 * from 0.83 to 0.96 and MRR from 0.78 to 0.92 (fuzzy 0.72 → 0.95, 0.64 → 0.86). The price, in the
 * same statement: two containment tests per matched memory and query term (counting, weighing).
 * At 10,000 memories a specific query went from ≈ 0.7 to ≈ 1.0 ms; a long question matching a
 * third of them from ≈ 5 to ≈ 20 ms; the retriever (400 candidates) gained ≈ 0.3 ms.
 *
 * Scores: all-term matches 0.5 + ts_rank / 2, any-term matches 0.5 · (their terms' weight / all
 * terms' weight), so a higher score always means earlier (the retriever merges by score).
 * Params: $1 user, $2 text, $3 limit; `profileParam` (e.g. '$4') filters by profile.
 * `anyCandidates` bounds the any-term branch to that many newest matches before ranking (the
 * chat's retriever trades a little recall for a bounded cost; search ranks all matches).
 * `order: 'newest'` (the `unranked-search` fault) keeps every filter and sorts both branches
 * newest first instead.
 */
export function rankedMemoriesSql(
  cols: string,
  profileParam?: string,
  anyCandidates?: number,
  terms: QueryTerms = TEXT_TERMS,
  order: SearchOrder = 'relevance',
): string {
  const profile = profileParam ? ` AND m.profile_id = ${profileParam}` : '';
  const { all: qAll, any: qAny } = terms;
  const bound = anyCandidates ? ` ORDER BY m.id DESC LIMIT ${Math.floor(anyCandidates)}` : '';
  const byRank = order === 'relevance';
  // The queries once more, evaluated once: where a query is an argument or a filter per row
  // (ts_rank, the any-term branch's NOT), the inline form would be parsed again for every row
  // (plainto_tsquery is only STABLE): 156 candidates cost ≈ 7 ms of a 9 ms retrieval.
  return `WITH ${terms.ctes ? `${terms.ctes}, ` : ''}query_terms AS MATERIALIZED (
      SELECT ${qAll} AS q_all, ${qAny} AS q_any
    ), strict AS (
      SELECT ${cols}, 0.5 + ts_rank(m.content_tsv, (SELECT q_any FROM query_terms)) / 2 AS score
      FROM memories m
      WHERE m.user_id = $1 AND m.content_tsv @@ ${qAll}${profile}
      ORDER BY ${byRank ? 'score DESC, ' : ''}m.id DESC LIMIT $3
    ), matches AS MATERIALIZED (
      SELECT m.id, m.content_tsv FROM memories m
      WHERE (SELECT count(*) FROM strict) < $3 AND m.user_id = $1 AND m.content_tsv @@ ${qAny}${profile}${bound}
    ), idf AS MATERIALIZED (
      SELECT t.q, ln(1 + (SELECT count(*) FROM matches)::float8
                        / greatest(1, (SELECT count(*) FROM matches x WHERE x.content_tsv @@ t.q))) AS w
      FROM (SELECT DISTINCT t::tsquery AS q FROM unnest(string_to_array((${qAny})::text, ' | ')) AS t WHERE t <> '') t
    ), top AS (
      SELECT x.id, (SELECT sum(w) FROM idf WHERE x.content_tsv @@ idf.q) / (SELECT sum(w) FROM idf) AS w
      FROM matches x
      WHERE NOT (x.content_tsv @@ (SELECT q_all FROM query_terms))
      ORDER BY ${byRank ? 'w DESC, ' : ''}x.id DESC LIMIT $3
    )
    SELECT * FROM strict
    UNION ALL
    (SELECT ${cols}, 0.5 * top.w AS score
     FROM top JOIN memories m ON m.id = top.id
     ORDER BY ${byRank ? 'score DESC, ' : ''}m.id DESC)`;
}

const MEMORY_COLS_M = MEMORY_COLS.split(', ')
  .map((c) => 'm.' + c)
  .join(', ');

export function searchRanked(
  q: Queryable,
  userId: number,
  text: string,
  limit: number,
  profileId: number | undefined,
  order: SearchOrder = 'relevance',
): Promise<ScoredMemory[]> {
  return searchMemories(q, TEXT_TERMS, userId, text, limit, profileId, order);
}

/** Fuzzy search for typos: the ranked query over the typo-corrected terms ({@link FUZZY_TERMS}). */
export function searchFuzzy(
  q: Queryable,
  userId: number,
  text: string,
  limit: number,
  profileId: number | undefined,
  order: SearchOrder = 'relevance',
): Promise<ScoredMemory[]> {
  return searchMemories(q, FUZZY_TERMS, userId, text, limit, profileId, order);
}

async function searchMemories(
  q: Queryable,
  terms: QueryTerms,
  userId: number,
  text: string,
  limit: number,
  profileId: number | undefined,
  order: SearchOrder,
): Promise<ScoredMemory[]> {
  const params: (string | number)[] = [userId, text, limit];
  if (profileId !== undefined) params.push(profileId);
  const sql = rankedMemoriesSql(MEMORY_COLS_M, profileId !== undefined ? '$4' : undefined, undefined, terms, order);
  const r = await q.query<MemoryRow & { score: number }>(`${sql} LIMIT $3`, params);
  return r.rows.map((row) => ({ memory: toMemory(row), score: row.score }));
}

/**
 * After a bulk import: merges the GIN pending lists of the memory search indexes (no-op when
 * they are missing; the work is the import's own entries), so search uses its indexes at once.
 */
export async function mergePendingSearchEntries(q: Queryable): Promise<void> {
  await q.query(
    `SELECT gin_clean_pending_list(c.oid) FROM pg_class c
     WHERE c.relkind = 'i' AND c.relname IN ('idx_memories_content_tsv', 'idx_memory_terms_trgm')`,
  );
}

/** Rows of `memories` as of its last ANALYZE/VACUUM (0 when never analyzed). */
export async function memoriesRowEstimate(q: Queryable): Promise<number> {
  const r = await q.query<{ n: number }>(
    "SELECT greatest(reltuples, 0)::float8 AS n FROM pg_class WHERE oid = 'memories'::regclass",
  );
  return r.rows[0]?.n ?? 0;
}

/** Refreshes the planner's statistics of the memory tables, so it sees their new size. */
export async function analyzeMemoryTables(q: Queryable): Promise<void> {
  await q.query('ANALYZE memories, memory_terms');
}

export async function getMemory(q: Queryable, userId: number, id: number): Promise<Memory | undefined> {
  const r = await q.query<MemoryRow>(`SELECT ${MEMORY_COLS} FROM memories WHERE id = $1 AND user_id = $2`, [
    id,
    userId,
  ]);
  return r.rows[0] ? toMemory(r.rows[0]) : undefined;
}

// ---------------------------------------------------------------- agent logs

export interface AgentLogRow {
  agent: string;
  model: string | null;
  promptTokens: number;
  completionTokens: number;
  latencyMs: number;
  status: 'ok' | 'error' | 'skipped';
  error: string | null;
  detail: Record<string, unknown> | null;
}

export interface StoredAgentLog extends AgentLogRow {
  id: number;
}

export async function agentLogsOf(q: Queryable, messageId: number): Promise<StoredAgentLog[]> {
  const r = await q.query<{
    id: number;
    agent: string;
    model: string | null;
    prompt_tokens: number;
    completion_tokens: number;
    latency_ms: number;
    status: AgentLogRow['status'];
    error: string | null;
    detail: Record<string, unknown> | null;
  }>(
    `SELECT id, agent, model, prompt_tokens, completion_tokens, latency_ms, status, error, detail
     FROM agent_logs WHERE message_id = $1 ORDER BY id`,
    [messageId],
  );
  return r.rows.map((x) => ({
    id: x.id,
    agent: x.agent,
    model: x.model,
    promptTokens: x.prompt_tokens,
    completionTokens: x.completion_tokens,
    latencyMs: x.latency_ms,
    status: x.status,
    error: x.error,
    detail: x.detail,
  }));
}

/** Default extra CPU time of the graded CPU faults (`slow-search`, `slow-memory-list`, `slow-retrieval`). */
export const SLOW_CPU_DEFAULT_MS = 2;

/** Busy for `ms` milliseconds (a graded fault below pg_sleep's 1 ms resolution, or the app's CPU time). */
export function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy on purpose
  }
}
