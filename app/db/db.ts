/**
 * The app's one way to talk to PostgreSQL: a pg Pool wrapped so that every statement is timed and
 * counted against the request that ran it (AsyncLocalStorage). That per-request split feeds the
 * `Server-Timing: db;dur=…` header and `timing.dbQueries` (N+1 detection by the suite).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';

/** Per-request accounting of database work. */
export interface DbStats {
  ms: number;
  queries: number;
}

const requestStats = new AsyncLocalStorage<DbStats>();

/** Runs `fn` with its own DB accounting; every query inside (even in callbacks) is charged to `stats`. */
export function withDbStats<T>(stats: DbStats, fn: () => T): T {
  return requestStats.run(stats, fn);
}

export function currentDbStats(): DbStats | undefined {
  return requestStats.getStore();
}

type Param = string | number | boolean | null | Date | readonly (string | number | null)[];

export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    params?: readonly Param[],
  ): Promise<pg.QueryResult<R>>;
}

/** bigint ids fit in a double for any realistic row count; parse them as numbers, not strings. */
const parseInt8 = (value: string): number => Number(value);
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown => {
    if (oid === 20 && format !== 'binary') return parseInt8;
    return pg.types.getTypeParser(oid, format ?? 'text') as unknown;
  }) as typeof pg.types.getTypeParser,
};

async function timed<R extends pg.QueryResultRow>(run: () => Promise<pg.QueryResult<R>>): Promise<pg.QueryResult<R>> {
  const stats = requestStats.getStore();
  const start = performance.now();
  try {
    return await run();
  } finally {
    if (stats) {
      stats.ms += performance.now() - start;
      stats.queries += 1;
    }
  }
}

export interface DbOptions {
  max?: number;
  /**
   * Server-side `statement_timeout` of every connection (ms; 0 = none): a statement waiting on a
   * held lock or running away is cancelled by PostgreSQL instead of hanging its request.
   */
  statementTimeoutMs?: number;
  /**
   * Client-side deadline per query (ms; 0 = none): covers what the server cannot cancel itself
   * (a database that stopped answering, a lost network). Should be longer than the statement timeout.
   */
  queryTimeoutMs?: number;
}

/**
 * Distinct statement texts that get a name (a prepared statement on each connection). The app's
 * SQL comes from code, so its texts are a few dozen; the cap keeps a text built from data (none
 * today) from growing every connection's statement cache without bound.
 */
const MAX_NAMED_STATEMENTS = 500;

/** setTimeout's largest delay: "no client-side deadline" for statements that may run long (migrations). */
const NO_QUERY_TIMEOUT_MS = 2_147_483_647;

export class Db implements Queryable {
  readonly pool: pg.Pool;
  /** Statement text → its prepared-statement name (see `query`). */
  private readonly statementNames = new Map<string, string>();
  /** Set when the stack shuts down: the server going away is expected then, not worth a log line. */
  private closing = false;

  constructor(connectionString: string, opts: DbOptions = {}) {
    this.pool = new pg.Pool({
      connectionString,
      max: opts.max ?? 10,
      types,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
      application_name: 'memorychat',
      // pg treats 0/undefined as "not set" (the server default: no timeout).
      statement_timeout: opts.statementTimeoutMs || undefined,
      query_timeout: opts.queryTimeoutMs || undefined,
    });
    // An idle client losing its connection (e.g. the DB stopped) must not crash the process.
    this.pool.on('error', (err) => {
      if (!this.closing) process.stderr.write(`memorychat: idle database connection failed: ${err.message}\n`);
    });
  }

  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    params?: readonly Param[],
  ): Promise<pg.QueryResult<R>> {
    const values = params as unknown[] | undefined;
    const name = values ? this.statementName(text) : undefined;
    return timed(() => this.pool.query<R>(name ? { name, text, values } : { text, values }));
  }

  /**
   * Parameterised statements are prepared once per connection and then only bound and executed:
   * PostgreSQL skips parsing and analysing the text again (the retriever's is long), and the
   * driver skips the describe round. Measured on the chat path: app overhead p50 about 11 → 6 ms.
   * Statements without parameters stay on the simple protocol (a text may hold several commands).
   */
  private statementName(text: string): string | undefined {
    const known = this.statementNames.get(text);
    if (known !== undefined || this.statementNames.size >= MAX_NAMED_STATEMENTS) return known;
    const name = `memorychat_${this.statementNames.size}`;
    this.statementNames.set(text, name);
    return name;
  }

  /**
   * Runs `fn` in a transaction on one connection; its statements (incl. BEGIN/COMMIT) are counted.
   * `unbounded`: no statement or query timeout inside (migrations: an index build may take long).
   */
  async tx<T>(fn: (q: Queryable) => Promise<T>, opts: { unbounded?: boolean } = {}): Promise<T> {
    const client = await this.pool.connect();
    const queryTimeout = opts.unbounded ? { query_timeout: NO_QUERY_TIMEOUT_MS } : {};
    const q: Queryable = {
      query: <R extends pg.QueryResultRow>(text: string, params?: readonly Param[]) =>
        timed(() => client.query<R>({ text, values: params as unknown[] | undefined, ...queryTimeout })),
    };
    let out: T;
    try {
      await q.query('BEGIN');
      if (opts.unbounded) await q.query('SET LOCAL statement_timeout = 0');
      out = await fn(q);
      await q.query('COMMIT');
    } catch (err) {
      // A connection that cannot even roll back (timed out, cut) is discarded, not reused.
      const broken = await client.query('ROLLBACK').then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      client.release(broken);
      throw err;
    }
    client.release();
    return out;
  }

  markClosing(): void {
    this.closing = true;
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.pool.end();
  }
}
