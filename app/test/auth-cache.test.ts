/**
 * The token cache forgets a user the moment it is deleted (or its token replaced), also when
 * someone else deletes it in plain SQL, as the suite's cleanup does: migration 006 notifies,
 * the app listens, and while it cannot listen it caches nothing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { User } from '../../contract';
import { AuthCache, listenForUserChanges } from '../server/auth-cache';
import { useTestStack, until, withSql } from './api-support';

const shared = useTestStack();

const someUser: User = { id: 1, email: 'a@b', displayName: 'a', createdAt: new Date(0).toISOString() };

void describe('token cache', () => {
  void test('a user deleted in plain SQL is refused at once (not after the 30 s cache age)', async () => {
    const u = await shared.anon.newUser('gone');
    assert.equal((await u.api.get<User>('/api/me')).status, 200);
    // Proof that the token is served from the cache: a change the trigger does not announce is not seen.
    await withSql(shared.stack.databaseUrl, (sql) =>
      sql.query("UPDATE users SET display_name = 'renamed' WHERE id = $1", [u.user.id]),
    );
    assert.equal((await u.api.get<User>('/api/me')).body.displayName, 'gone');
    await withSql(shared.stack.databaseUrl, (sql) => sql.query('DELETE FROM users WHERE id = $1', [u.user.id]));
    await until('the deleted user is refused', async () => (await u.api.get('/api/me')).status === 401, 2_000);
    // A replaced token stops working the same way.
    const v = await shared.anon.newUser('rotated');
    assert.equal((await v.api.get('/api/me')).status, 200);
    await withSql(shared.stack.databaseUrl, (sql) =>
      sql.query("UPDATE users SET token_hash = 'replaced' WHERE id = $1", [v.user.id]),
    );
    await until('the replaced token is refused', async () => (await v.api.get('/api/me')).status === 401, 2_000);
  });

  void test('AuthCache: serves only while listening; forget and going deaf drop entries', () => {
    const cache = new AuthCache(60_000, 2);
    cache.set('h1', someUser);
    assert.equal(cache.get('h1'), undefined, 'not listening: nothing is cached');
    cache.setListening(true);
    cache.set('h1', someUser);
    assert.deepEqual(cache.get('h1'), someUser);
    cache.forget('h1');
    assert.equal(cache.get('h1'), undefined);
    cache.set('h2', someUser);
    cache.setListening(false);
    cache.setListening(true);
    assert.equal(cache.get('h2'), undefined, 'entries from before a listening gap are dropped');
    const expired = new AuthCache(0);
    expired.setListening(true);
    expired.set('h3', someUser);
    assert.equal(expired.get('h3'), undefined, 'an entry past its age is not served');
  });

  void test('listener forgets notified tokens; cache off while its connection is dead; reconnects', async () => {
    const cache = new AuthCache();
    const logs: string[] = [];
    const listener = listenForUserChanges(shared.stack.databaseUrl, cache, (l) => logs.push(l));
    try {
      await listener.ready;
      assert.ok(cache.isListening);
      cache.set('hash-a', someUser);
      await withSql(shared.stack.databaseUrl, (sql) =>
        sql.query("SELECT pg_notify('memorychat_user_changed', 'hash-a')"),
      );
      await until('the notified token is forgotten', () => cache.get('hash-a') === undefined);
      await withSql(shared.stack.databaseUrl, (sql) =>
        sql.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = 'memorychat-auth-listener' AND pid <> pg_backend_pid()`,
        ),
      );
      await until('the cache turns off', () => !cache.isListening);
      await until('the listener reconnects', () => cache.isListening, 5_000);
      assert.ok(
        logs.some((l) => /auth cache off/.test(l)),
        logs.join('\n'),
      );
    } finally {
      await listener.stop();
    }
  });
});
