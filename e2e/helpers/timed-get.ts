/**
 * A timed GET that also returns the server's own DB time (`Server-Timing: db;dur=…`, see
 * app/contract.ts). Scaling curves need the DB share, because on a busy 2-core machine the fixed
 * HTTP cost hides whether the query under it is an index lookup or a scan. The request goes
 * through the typed API client (its lean transport, its errors with codes); the clock is here.
 */
import { parseServerTiming } from '../../contract';
import type { UserApi } from '../../fixtures';

/**
 * `ms`: client clock, request → parsed body; `dbMs`: Server-Timing `db` duration (all statements of
 * the request), when the server sends it.
 */
export async function timedGet<T>(
  client: UserApi,
  path: string,
  query: Record<string, string | number>,
  timeoutMs: number,
) {
  const t0 = performance.now();
  const res = await client.getWithServerTiming<T>(path, query, timeoutMs);
  const ms = performance.now() - t0;
  return { ms, dbMs: parseServerTiming(res.serverTiming).db, body: res.body };
}
