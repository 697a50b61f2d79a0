/**
 * Spare data directories (app/db/pg-template.ts): a stopping stack leaves a copy of the initdb
 * template, the next start renames it into place. A spare is the template's exact copy, only
 * ever taken once, and never one of another template (a rebuilt one has a new password). A
 * template is keyed by the migrations applied in it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  cachedInitdbTemplate,
  refillSpare,
  spareDataDir,
  takeSpare,
  templateKey,
  type PgTemplate,
} from '../db/pg-template';
import { migrationsDigest } from '../db/migrate';
import { until } from './api-support';
import { tempDir } from './temp-dir';

/** A stand-in template: a few files where PostgreSQL's would be (the spares only copy them). */
function fakeTemplate(root: string, name: string, password: string): PgTemplate {
  const dataDir = path.join(root, name, 'data');
  mkdirSync(path.join(dataDir, 'base', '1'), { recursive: true });
  writeFileSync(path.join(dataDir, 'PG_VERSION'), '18\n');
  writeFileSync(path.join(dataDir, 'base', '1', '1259'), 'catalog');
  return { dataDir, password, spareName: `memorychat-pgspare-${name}-${password}` };
}

/** Initdb settings of the stand-in templates (nothing here runs initdb). */
const SETTINGS = { user: 'u', authMethod: 'scram-sha-256' as const, initdbFlags: [], database: 'd' };

/** The refill copies in a detached process: a few files, but on a busy machine. */
const SPARE_WAIT_MS = 10_000;

void test('a refilled spare is the template, taken once, then copied again by the next refill', async () => {
  const tmp = tempDir('pg-spare-');
  const template = fakeTemplate(tempDir('pg-template-'), 'k1', 'pw1');
  const spare = spareDataDir(template, tmp);
  assert.equal(takeSpare(template, path.join(tmp, 'first'), tmp), false, 'no spare before any refill');

  refillSpare(template, tmp);
  await until('the spare', () => existsSync(spare), SPARE_WAIT_MS);
  const taken = path.join(tmp, 'live', 'data');
  mkdirSync(path.dirname(taken));
  assert.equal(takeSpare(template, taken, tmp), true);
  assert.equal(readFileSync(path.join(taken, 'base', '1', '1259'), 'utf8'), 'catalog');
  assert.equal(existsSync(spare), false, 'taken, not copied');
  assert.equal(takeSpare(template, path.join(tmp, 'second'), tmp), false, 'a spare is taken once');

  refillSpare(template, tmp);
  await until('the next spare', () => existsSync(spare), SPARE_WAIT_MS);
  // A refill while a spare is there leaves it (and no staging folder) alone.
  refillSpare(template, tmp);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(readdirSync(path.dirname(spare)), ['data']);
});

void test("another template's spare is never taken; one untouched for a day is removed", async () => {
  const tmp = tempDir('pg-spare-');
  const templates = tempDir('pg-template-');
  const old = fakeTemplate(templates, 'k1', 'old');
  const rebuilt = { ...fakeTemplate(templates, 'k1b', 'new'), spareName: 'memorychat-pgspare-k1-new' };
  refillSpare(old, tmp);
  await until('the old spare', () => existsSync(spareDataDir(old, tmp)), SPARE_WAIT_MS);
  assert.equal(takeSpare(rebuilt, path.join(tmp, 'x'), tmp), false);

  const dayAgo = new Date(Date.now() - 25 * 3600 * 1000);
  utimesSync(path.dirname(spareDataDir(old, tmp)), dayAgo, dayAgo);
  refillSpare(rebuilt, tmp);
  await until('the new spare', () => existsSync(spareDataDir(rebuilt, tmp)), SPARE_WAIT_MS);
  assert.equal(existsSync(path.dirname(spareDataDir(old, tmp))), false, "the stale template's spare is gone");
});

void test('a rebuilt template (same key, new password) has a spare name of its own', async () => {
  const cache = tempDir('pg-template-cache-');
  // A finished template as cachedInitdbTemplate leaves it, without running initdb.
  const dir = path.join(cache, templateKey(SETTINGS));
  const write = (password: string, built: string) => {
    mkdirSync(path.join(dir, 'data'), { recursive: true });
    writeFileSync(path.join(dir, 'data', 'PG_VERSION'), '18\n');
    writeFileSync(path.join(dir, 'template-password'), `${password}\n`);
    writeFileSync(path.join(dir, 'template-complete'), `${built}\n`);
  };
  write('first', '2026-01-01T00:00:00.000Z');
  const first = await cachedInitdbTemplate(SETTINGS, () => undefined, cache);
  write('second', '2026-01-02T00:00:00.000Z');
  const second = await cachedInitdbTemplate(SETTINGS, () => undefined, cache);
  assert.equal(first.password, 'first');
  assert.notEqual(first.spareName, second.spareName);
  assert.match(first.spareName, new RegExp(`^memorychat-pgspare-${templateKey(SETTINGS)}-[0-9a-f]{12}$`));
});

void test('a template is keyed by its migrations: another migration file or SQL is another template', () => {
  const migrations = tempDir('migrations-');
  writeFileSync(path.join(migrations, '001_schema.sql'), 'CREATE TABLE a (id int);\n');
  const keyWith = () => templateKey({ ...SETTINGS, schemaDigest: migrationsDigest(migrations) });
  const first = keyWith();
  assert.equal(keyWith(), first, 'the same files give the same template');
  writeFileSync(path.join(migrations, '001_schema.sql'), 'CREATE TABLE a (id bigint);\n');
  const changed = keyWith();
  assert.notEqual(changed, first, 'a changed migration builds a new template');
  writeFileSync(path.join(migrations, '002_indexes.sql'), 'CREATE INDEX ON a (id);\n');
  assert.notEqual(keyWith(), changed, 'a new migration builds a new template');
  // The stack's own key covers its real migrations (app/db/embedded.ts passes migrationsDigest()).
  assert.match(migrationsDigest(), /^[0-9a-f]{16}$/);
});
