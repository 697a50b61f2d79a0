/**
 * Helpers for the API tests: a stack started in-process (instant model), shared per test file;
 * direct SQL for set-up the API cannot do; a tiny typed HTTP client and an SSE reader. No timing
 * logic: these tests check behaviour, not speed.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before } from 'node:test';
import pg from 'pg';
import type { ChatStreamEvent, CreateUserResponse } from '../../contract';
import { startStack, type RunningStack, type StartStackOptions } from '../stack';

export async function startTestStack(overrides: StartStackOptions['overrides'] = {}): Promise<RunningStack> {
  return startStack({
    env: { MODEL_SIM_LATENCY: 'instant' },
    overrides: { modelSimLatency: 'instant', modelTimeoutMs: 2_000, ...overrides },
    log: () => undefined,
  });
}

/** The stack a test file shares, and an anonymous client for it (valid once `before` ran). */
export interface SharedStack {
  readonly stack: RunningStack;
  readonly anon: Client;
}

/**
 * One stack per test file: started in the file's `before`, stopped in its `after` (also when a
 * test failed, so no postgres is left behind). Call at the top level of the test file.
 */
export function useTestStack(): SharedStack {
  let running: SharedStack | undefined;
  void before(async () => {
    const stack = await startTestStack();
    running = { stack, anon: new Client(stack.baseUrl) };
  });
  void after(async () => {
    await running?.stack.stop();
  });
  const get = (): SharedStack => {
    if (!running) throw new Error('the shared test stack is not running (used outside a test, or its start failed)');
    return running;
  };
  return {
    get stack() {
      return get().stack;
    },
    get anon() {
      return get().anon;
    },
  };
}

/** Runs `fn` on a direct SQL connection to `databaseUrl` (set-up the API cannot do), then closes it. */
export async function withSql<T>(databaseUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface Reply<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

export class Client {
  constructor(
    readonly baseUrl: string,
    readonly token?: string,
  ) {}

  as(token: string): Client {
    return new Client(this.baseUrl, token);
  }

  async call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    opts: { raw?: string; headers?: Record<string, string> } = {},
  ): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined || opts.raw !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(this.baseUrl + path, {
      method,
      headers,
      body: opts.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON (e.g. the UI)
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  get<T = unknown>(path: string): Promise<Reply<T>> {
    return this.call<T>('GET', path);
  }

  post<T = unknown>(path: string, body?: unknown): Promise<Reply<T>> {
    return this.call<T>('POST', path, body ?? {});
  }

  /** A new user with its token (and a client acting as it). */
  async newUser(label: string): Promise<CreateUserResponse & { api: Client }> {
    const r = await this.post<CreateUserResponse>('/api/users', {
      email: `${label}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@memorychat.test`,
      displayName: label,
    });
    if (r.status !== 201) throw new Error(`create user failed: ${r.status} ${JSON.stringify(r.body)}`);
    return { ...r.body, api: this.as(r.body.token) };
  }

  /** Posts a streamed chat message and collects its events in order. */
  async stream(
    sessionId: number,
    content: string,
  ): Promise<{ status: number; headers: Headers; events: ChatStreamEvent[] }> {
    const res = await fetch(`${this.baseUrl}/api/sessions/${sessionId}/messages`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${this.token ?? ''}`,
        'Content-Type': 'application/json',
        Accept: 'text/event-stream',
      },
      body: JSON.stringify({ content, stream: true }),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await res.text();
    const events: ChatStreamEvent[] = [];
    for (const block of text.split('\n\n')) {
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event && data) events.push({ event, data: JSON.parse(data) as unknown } as ChatStreamEvent);
    }
    return { status: res.status, headers: res.headers, events };
  }
}

/** Polls `cond` every 20 ms; resolves with the wait in ms, or throws after `timeoutMs` naming `what`. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 3_000): Promise<number> {
  const start = performance.now();
  while (!(await cond())) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return performance.now() - start;
}

/** Starts `server` on a free loopback port; `close` also cuts open keep-alive connections. */
export async function listenLocally(server: Server): Promise<{ origin: string; close: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
