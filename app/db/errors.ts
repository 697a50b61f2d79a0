/**
 * Which database failures are the database's state rather than a bug in the app: a stuck or
 * unreachable database answers a clear 503/504 instead of a 500 "internal error".
 */

export type DatabaseFailure = 'database_unavailable' | 'database_timeout';

/** SQLSTATEs: 57014 query_canceled (statement_timeout), 55P03 lock_not_available (lock_timeout). */
const TIMEOUT_STATES = new Set(['57014', '55P03']);
/**
 * Class 08 connection exceptions, 53 insufficient resources (e.g. too many connections), and
 * 57P01–57P03: the server is shutting down, crashed, or not yet accepting connections.
 */
const UNAVAILABLE_STATE = /^(08|53)|^57P0[1-3]$/;
/** Messages of pg and pg-pool for connections that failed or were cut. */
const UNAVAILABLE_MESSAGE =
  /^(Connection terminated|timeout exceeded when trying to connect)|Client has encountered a connection error/;
const NETWORK_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

export function databaseFailure(err: unknown): DatabaseFailure | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (TIMEOUT_STATES.has(code)) return 'database_timeout';
    if (UNAVAILABLE_STATE.test(code) || NETWORK_ERRNO.has(code)) return 'database_unavailable';
  }
  // pg's client-side deadline (query_timeout).
  if (err.message === 'Query read timeout') return 'database_timeout';
  if (UNAVAILABLE_MESSAGE.test(err.message)) return 'database_unavailable';
  return undefined;
}

/** The answer's message: what happened and what to look at, without internals (no SQL, no URL). */
export function databaseFailureMessage(kind: DatabaseFailure): string {
  return kind === 'database_timeout'
    ? 'the database did not finish in time (statement or query timeout; a lock held elsewhere or an overloaded ' +
        'database); retry later, or raise MEMORYCHAT_DB_STATEMENT_TIMEOUT_MS / MEMORYCHAT_DB_QUERY_TIMEOUT_MS'
    : 'the database is not reachable or refused the connection; retry later, and check the database and DATABASE_URL';
}
