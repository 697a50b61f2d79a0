/**
 * The import boundary (eslint.config.mjs) really fails: a suite file that imports app/, and an app
 * file that imports the suite, are both reported; contract/ is allowed on both sides. Linted as
 * text under real file names, so the per-folder rules apply exactly as in `npm run lint`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ESLint } from 'eslint';

const ROOT = path.resolve(__dirname, '..', '..');
// Only the import rule, without type information: building the project's TypeScript program for
// the type-aware rules took most of this file's 13 s, and the boundary does not need it.
const eslint = new ESLint({
  cwd: ROOT,
  ruleFilter: ({ ruleId }) => ruleId === 'no-restricted-imports',
  overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
});

async function boundaryErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

void test('a suite file importing app/ fails lint; importing contract/ passes', async () => {
  const bad = await boundaryErrors('clients/model.ts', "export { PROFILES } from '../app/model-sim/latency';\n");
  assert.equal(bad.length, 1, 'fixtures/ → app/ should be reported');
  assert.match(bad[0] ?? '', /must not import app/);
  const deep = await boundaryErrors('e2e/helpers/stream.ts', "export { startStack } from '../../app/stack';\n");
  assert.equal(deep.length, 1, 'e2e/helpers/ → app/ should be reported');
  assert.deepEqual(await boundaryErrors('clients/model.ts', "export { FAULTS } from '../contract';\n"), []);
});

void test('an app file importing the suite fails lint; importing contract/ passes', async () => {
  const bad = await boundaryErrors('app/server/http.ts', "export { redact } from '../../lib/redact';\n");
  assert.equal(bad.length, 1, 'app/ → lib/ should be reported');
  assert.match(bad[0] ?? '', /must not import the suite/);
  assert.deepEqual(await boundaryErrors('app/server/http.ts', "export { FAULTS } from '../../contract';\n"), []);
  assert.deepEqual(await boundaryErrors('app/server/http.ts', "export { Db } from '../db/db';\n"), []);
});
