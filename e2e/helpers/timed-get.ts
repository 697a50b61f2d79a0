/**
 * A timed GET that also returns the server's own DB time (`Server-Timing: db;dur=…`, see
 * app/contract.ts). The typed API client returns bodies only; scaling curves need the DB share
 * too, because on a busy 2-core machine the fixed HTTP cost (~5–10 ms) hides whether the query
 * under it is an index lookup or a scan.
 */
import type { APIRequestContext } from '@playwright/test';
import { SampleFailure } from './failures';

export interface TimedGet<T> {
  /** Client clock, request → parsed body. */
  ms: number;
  /** Server-Timing `db` duration (all statements of the request), when the server sends it. */
  dbMs: number | undefined;
  body: T;
}

export async function timedGet<T>(request: APIRequestContext, url: string, token: string, timeoutMs: number): Promise<TimedGet<T>> {
  const t0 = performance.now();
  const res = await request.get(url, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' }, timeout: timeoutMs });
  const text = await res.text();
  const ms = performance.now() - t0;
  if (!res.ok()) {
    let code = `http_${res.status()}`;
    try {
      const parsed = JSON.parse(text) as { error?: { code?: unknown } };
      if (typeof parsed.error?.code === 'string') code = parsed.error.code;
    } catch {
      // not JSON: keep the status code
    }
    throw new SampleFailure(code, `GET ${new URL(url).pathname} → ${res.status()}: ${text.slice(0, 200)}`);
  }
  return { ms, dbMs: serverTimingDb(res.headers()['server-timing']), body: JSON.parse(text) as T };
}

export function serverTimingDb(header: string | undefined): number | undefined {
  const m = /(?:^|,)\s*db;dur=([0-9.]+)/.exec(header ?? '');
  return m?.[1] === undefined ? undefined : Number(m[1]);
}
