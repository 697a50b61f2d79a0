/**
 * The reference UI is plain JavaScript and cannot import contract/: this test is what keeps it
 * honest. Every data-testid the suite drives, and the token storage key, must appear in app/ui.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TOKEN_STORAGE_KEY, UI_TEST_IDS } from '../../contract';

const UI = path.join(__dirname, '..', 'ui');
const source = ['index.html', 'app.js'].map((f) => readFileSync(path.join(UI, f), 'utf8')).join('\n');

void test('every data-testid of the contract is rendered by the reference UI', () => {
  const missing = Object.values(UI_TEST_IDS).filter(
    (id) => !new RegExp(`data-testid="${id}"|testid = '${id}'`).test(source),
  );
  assert.deepEqual(missing, [], 'app/ui does not render these contract test ids');
});

void test('the UI keeps its bearer token under the contract key', () => {
  assert.ok(
    source.includes(`'${TOKEN_STORAGE_KEY}'`),
    `app/ui/app.js does not use localStorage key ${TOKEN_STORAGE_KEY}`,
  );
});
