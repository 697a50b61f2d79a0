/** The stack's own log redaction: a database URL's password never reaches its log lines. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactDbUrl } from '../stack';

void test('redactDbUrl masks the password of a database URL, also inside a message', () => {
  const url = 'postgres://u:p@ss@w0rd@db.example.com:5432/memorychat_test';
  assert.equal(redactDbUrl(url), 'postgres://u:***@db.example.com:5432/memorychat_test');
  const out = redactDbUrl(`connect ${url} failed; write to ops@example.com`);
  assert.doesNotMatch(out, /ss@|w0rd/);
  assert.match(out, /u:\*\*\*@db\.example\.com:5432\/memorychat_test failed; write to ops@example\.com$/);
  assert.equal(redactDbUrl("postgres://perf:a/b'c@db/x_test"), 'postgres://perf:***@db/x_test');
  assert.equal(redactDbUrl('postgres://perf@db/x_test?password=hunter2'), 'postgres://perf@db/x_test?password=***');
});
