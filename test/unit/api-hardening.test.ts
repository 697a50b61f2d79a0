/**
 * The app never dies on a request: a stuck database answers a clear 503/504.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ApiError } from '../../app/contract';
import { databaseFailure } from '../../app/db/errors';
import { Client, startTestStack, useTestStack, withSql } from './api-support';

const shared = useTestStack();

function assertError(r: { status: number; body: unknown }, status: number, code: string, mentions?: RegExp): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  const err = (r.body as ApiError).error;
  assert.equal(err.code, code, err.message);
  if (mentions) assert.match(err.message, mentions);
}

void describe('database failures', () => {
  void test('database failures are 503/504, not 500', () => {
    const pgError = (code: string, message: string): Error => Object.assign(new Error(message), { code });
    assert.equal(databaseFailure(pgError('57014', 'canceling statement due to statement timeout')), 'database_timeout');
    assert.equal(databaseFailure(pgError('55P03', 'could not obtain lock')), 'database_timeout');
    assert.equal(databaseFailure(new Error('Query read timeout')), 'database_timeout');
    assert.equal(databaseFailure(new Error('timeout exceeded when trying to connect')), 'database_unavailable');
    assert.equal(databaseFailure(new Error('Connection terminated unexpectedly')), 'database_unavailable');
    assert.equal(databaseFailure(pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')), 'database_unavailable');
    assert.equal(databaseFailure(pgError('57P01', 'terminating connection due to administrator command')), 'database_unavailable');
    assert.equal(databaseFailure(pgError('53300', 'too many connections')), 'database_unavailable');
    assert.equal(databaseFailure(pgError('23505', 'duplicate key')), undefined);
    assert.equal(databaseFailure(new TypeError('x is undefined')), undefined);
  });

  void test('a held lock: statement timeout → 504 database_timeout; client query timeout → 504; then 200 again', async () => {
    for (const timeouts of [{ dbStatementTimeoutMs: 300, dbQueryTimeoutMs: 0 }, { dbStatementTimeoutMs: 0, dbQueryTimeoutMs: 300 }]) {
      const app = await startTestStack({ databaseUrl: shared.stack.databaseUrl, ...timeouts });
      try {
        const u = await new Client(app.baseUrl).newUser('locked');
        await withSql(shared.stack.databaseUrl, async (sql) => {
          await sql.query('BEGIN');
          await sql.query('LOCK TABLE profiles IN ACCESS EXCLUSIVE MODE');
          const start = performance.now();
          const r = await u.api.get('/api/profiles');
          assertError(r, 504, 'database_timeout', /MEMORYCHAT_DB_STATEMENT_TIMEOUT_MS/);
          assert.ok(performance.now() - start < 5_000, JSON.stringify(timeouts));
          await sql.query('ROLLBACK');
        });
        assert.equal((await u.api.get('/api/profiles')).status, 200);
      } finally {
        await app.stop();
      }
    }
  });
});
