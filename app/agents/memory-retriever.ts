/**
 * memory_retriever (DB only, no model): the memories worth putting in the prompt for one user
 * message: the best full-text matches of the message (any of its terms, ranked) plus a few of the
 * most recent ones, bounded, in one statement.
 *
 * `n-plus-one` fault: the classic ORM regression: load candidate ids, then one query per row and
 * score in the app; the statement count grows with the user's memory count.
 * `token-bloat` fault: returns far more memories (no cap), for the untrimmed prompt.
 */
import type { Fault } from '../../contract';
import type { Db } from '../db/db';
import { rankedMemoriesSql, SLOW_CPU_DEFAULT_MS, spin } from '../db/repo';

export interface RetrievedMemory {
  id: number;
  content: string;
  importance: number;
  score: number;
}

export interface RetrievalResult {
  memories: RetrievedMemory[];
  latencyMs: number;
  /** Statements the retrieval ran (1 normally; 1 + candidates under n-plus-one). */
  queries: number;
}

const RANKED = 12;
const RECENT = 8;
const BLOAT = 200;
const N_PLUS_ONE_CANDIDATES = 5_000;
/** Newest any-term matches the retriever ranks (bounded work per chat message at any memory count). */
const ANY_TERM_CANDIDATES = 400;

export async function retrieveMemories(
  db: Db,
  args: { userId: number; profileId: number | null; text: string; faults: readonly Fault[]; faultMs?: number },
): Promise<RetrievalResult> {
  const start = performance.now();
  // Graded `slow-retrieval` fault (compare mode): CPU time inside the retriever's own timing.
  if (args.faults.includes('slow-retrieval')) spin(args.faultMs ?? SLOW_CPU_DEFAULT_MS);
  // `token-bloat` widens what either path returns: with `n-plus-one` also on (npm test's shared
  // self-test run), both faults still act.
  const ranked = args.faults.includes('token-bloat') ? BLOAT : RANKED;
  const recent = args.faults.includes('token-bloat') ? BLOAT : RECENT;
  if (args.faults.includes('n-plus-one')) return nPlusOne(db, args, start, { ranked, recent });
  const profileFilter = args.profileId === null ? '' : ' AND profile_id = $5';
  const params: (string | number)[] = [args.userId, args.text, ranked, recent];
  if (args.profileId !== null) params.push(args.profileId);
  // The search's ranked query ($1 user, $2 text, $3 limit, $4 profile) plus the newest few.
  const rankedSql = rankedMemoriesSql(
    'm.id, m.content, m.importance',
    args.profileId === null ? undefined : '$5',
    ANY_TERM_CANDIDATES,
  );
  const r = await db.query<RetrievedMemory>(
    `WITH ranked AS (${rankedSql} LIMIT $3),
     recent AS (
       SELECT id, content, importance, 0::real AS score FROM memories
       WHERE user_id = $1${profileFilter} ORDER BY id DESC LIMIT $4
     )
     SELECT * FROM ranked
     UNION ALL
     SELECT * FROM recent WHERE id NOT IN (SELECT id FROM ranked)`,
    params,
  );
  return { memories: r.rows, latencyMs: performance.now() - start, queries: 1 };
}

async function nPlusOne(
  db: Db,
  args: { userId: number; profileId: number | null; text: string },
  start: number,
  limits: { ranked: number; recent: number },
): Promise<RetrievalResult> {
  const ids = await db.query<{ id: number }>(
    args.profileId === null
      ? 'SELECT id FROM memories WHERE user_id = $1 ORDER BY id DESC LIMIT $2'
      : 'SELECT id FROM memories WHERE user_id = $1 AND profile_id = $3 ORDER BY id DESC LIMIT $2',
    args.profileId === null
      ? [args.userId, N_PLUS_ONE_CANDIDATES]
      : [args.userId, N_PLUS_ONE_CANDIDATES, args.profileId],
  );
  const terms = new Set(args.text.toLowerCase().match(/[\p{L}\p{N}]{3,}/gu) ?? []);
  const rows: RetrievedMemory[] = [];
  for (const { id } of ids.rows) {
    const r = await db.query<{ id: number; content: string; importance: number }>(
      'SELECT id, content, importance FROM memories WHERE id = $1',
      [id],
    );
    const row = r.rows[0];
    if (!row) continue;
    const words = row.content.toLowerCase().match(/[\p{L}\p{N}]{3,}/gu) ?? [];
    const score = words.filter((w) => terms.has(w)).length;
    rows.push({ ...row, score });
  }
  const ranked = rows
    .filter((m) => m.score > 0)
    .sort((a, b) => b.score - a.score || b.id - a.id)
    .slice(0, limits.ranked);
  const chosen = new Set(ranked.map((m) => m.id));
  const recent = rows.filter((m) => !chosen.has(m.id)).slice(0, limits.recent);
  return { memories: [...ranked, ...recent], latencyMs: performance.now() - start, queries: 1 + ids.rows.length };
}
