/** Database evidence: an EXPLAIN plan's index use and shape, the statements of a phase, autovacuum runs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readPlan, summarizeStatements } from '../../lib/figures/db-evidence';
import { autovacuumBetween } from '../../lib/figures/statements';

const PLAN = {
  'Node Type': 'Limit',
  Plans: [
    {
      'Node Type': 'Index Scan',
      'Index Name': 'idx_memories_user_id',
      'Relation Name': 'memories',
      Plans: [{ 'Node Type': 'Seq Scan', 'Relation Name': 'profiles' }, {}],
    },
  ],
};

void test('readPlan finds the index anywhere in the plan and names every node, depth first', () => {
  const r = readPlan(PLAN, 'idx_memories_user_id');
  assert.equal(r.used, true);
  assert.equal(r.shape, 'Limit → Index Scan using idx_memories_user_id → Seq Scan on profiles → ?');
  assert.equal(readPlan(PLAN, 'idx_sessions_user_id').used, false);
  assert.equal(readPlan({ 'Node Type': 'Seq Scan', 'Relation Name': 'memories' }, '').used, false);
});

void test('summarizeStatements: most total time first, calls per request, the top three', () => {
  const row = (queryid: string, query: string, calls: number, total_ms: number) => ({
    queryid,
    query,
    calls,
    total_ms,
    plan_ms: 0,
    rows: calls,
  });
  const { line, statements } = summarizeStatements(
    [
      row('1', 'SELECT  1\n  FROM a', 30, 3),
      row('2', 'SELECT 2', 30, 6),
      row('3', 'INSERT x', 0, 0),
      row('4', 'SELECT 4', 1, 1),
    ],
    30,
  );
  assert.deepEqual(
    statements.map((s) => s.query),
    ['SELECT 2', 'SELECT 1 FROM a', 'SELECT 4', 'INSERT x'],
  );
  assert.equal(statements[3]?.meanMs, 0, 'no calls: mean 0, not NaN');
  assert.equal(
    line,
    '4 distinct statements, 61 calls for 30 API requests (2.0 per request); ' +
      'top: 30× 0.200 ms SELECT 2 | 30× 0.100 ms SELECT 1 FROM a | 1× 1.000 ms SELECT 4',
  );
});

void test('autovacuumBetween: the tables autovacuum touched between two snapshots, per kind', () => {
  const before = new Map([
    ['sessions', { vacuums: 0, analyzes: 1 }],
    ['memories', { vacuums: 2, analyzes: 2 }],
  ]);
  const after = new Map([
    ['sessions', { vacuums: 0, analyzes: 2 }],
    ['memories', { vacuums: 3, analyzes: 3 }],
    ['users', { vacuums: 0, analyzes: 0 }],
  ]);
  assert.equal(autovacuumBetween(before, after), 'memories (vacuum, analyze), sessions (analyze)');
  assert.equal(autovacuumBetween(after, after), 'none');
  assert.equal(autovacuumBetween(undefined, after), undefined);
});
