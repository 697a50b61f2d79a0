/**
 * Bulk-import settling is bounded: no user can make the app ANALYZE tables at will. The GIN
 * pending lists (the import's own entries) are merged after each big import; ANALYZE runs only
 * when the rows imported since the last one reach autovacuum's rule; one settle at a time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Queryable } from '../db/db';
import { ImportSettler } from '../db/import-settler';

/** A database that records the settle statements and reports `tableRows` for the memories table. */
function recordingDb(tableRows: number, delayMs = 0): { db: Queryable; statements: string[] } {
  const statements: string[] = [];
  const db = {
    query: async (text: string) => {
      statements.push(
        text.includes('ANALYZE') ? 'analyze' : text.includes('gin_clean_pending_list') ? 'merge' : 'estimate',
      );
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return { rows: [{ n: tableRows }] };
    },
  } as unknown as Queryable;
  return { db, statements };
}

const count = (statements: string[], what: string): number => statements.filter((s) => s === what).length;

void test('ANALYZE once imports reach 50 + 10 % of the table; pending lists merged each time', async () => {
  const { db, statements } = recordingDb(100_000);
  const settler = new ImportSettler(db, () => undefined);
  for (let i = 0; i < 5; i++) await settler.imported(1_000);
  assert.equal(count(statements, 'analyze'), 0, 'five imports of 1,000 into 100,000 rows: no ANALYZE');
  assert.equal(count(statements, 'merge'), 5);
  await settler.imported(5_100);
  assert.equal(count(statements, 'analyze'), 1, 'the rows since the last ANALYZE reached 10 %');
  await settler.imported(1_000);
  assert.equal(count(statements, 'analyze'), 1, 'the count restarted after the ANALYZE');
});

void test('a small or empty table is analyzed after an import (the planner must see its new size)', async () => {
  const { db, statements } = recordingDb(0);
  await new ImportSettler(db, () => undefined).imported(1_000);
  assert.equal(count(statements, 'analyze'), 1);
});

void test('one settle at a time: 20 concurrent imports share one follow-up settle, not one each', async () => {
  const { db } = recordingDb(0, 30);
  const settler = new ImportSettler(db, () => undefined);
  await Promise.all(Array.from({ length: 20 }, () => settler.imported(1_000)));
  assert.equal(settler.stats.settles, 2);
  assert.ok(settler.stats.analyzes <= 2);
});

void test("a failed settle is logged, never the import's failure", async () => {
  const logs: string[] = [];
  const db = {
    query: () => Promise.reject(new Error('canceling statement due to statement timeout')),
  } as unknown as Queryable;
  await new ImportSettler(db, (l) => logs.push(l)).imported(1_000);
  assert.equal(logs.length, 1);
  assert.match(logs[0] ?? '', /statement timeout/);
});
