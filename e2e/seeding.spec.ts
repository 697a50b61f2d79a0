/**
 * Harness · Seeding speed: how fast the `seed` fixture bulk-inserts memories (rows/s), for the
 * profile's sizes. Every other spec's set-up time depends on it; the target is ≥ 50,000 rows/s.
 * Also checks that the text is varied (not one repeated sentence) and that every row landed.
 * rows/s covers drawing the rows and the inserts; the worker's one-time text-corpus preparation
 * (data/memory-corpus.ts) is reported next to it, and the load mode (data/seed.ts).
 */
import { test, expect } from '../fixtures';
import type { MemoryLoad, PerfRecorder } from '../fixtures';
import { sizeScenario } from '../lib/verdict/metric-catalog';

interface StoredTexts {
  n: number;
  distinct: number;
  avg_len: number;
}

test.describe('seeding', () => {
  test('bulk memory seeding speed (rows/s)', { tag: ['@seeding', '@harness'] }, async ({ seed, db, perf }) => {
    for (const n of perf.profile.seedingSizes) {
      const { owner, result } = await test.step(`seed ${n} memories for a fresh user: rows/s`, async () => {
        const owner = await seed.user({ displayName: `Seeding ${n}` });
        const result = await seed.memories(owner, n);
        perf.record('seeding.memories_rows_per_s', result.rowsPerSecond, {
          scenario: sizeScenario(n),
          tags: { memoryCount: n, loadMode: result.loadMode, corpusPrepareMs: Math.round(result.corpusPrepareMs) },
        });
        return { owner, result };
      });

      await test.step(`${n} memories: every row stored, the text varied`, async () => {
        const stored = await db.query<StoredTexts>(
          'SELECT count(*)::int AS n, count(DISTINCT content)::int AS distinct, ' +
            'avg(length(content))::float8 AS avg_len FROM memories WHERE user_id = $1',
          [owner.user.id],
        );
        const row = stored.rows[0];
        expect(row?.n, `memories stored for n=${n}`).toBe(n);
        recordTextVariety(perf, n, result, row);
        // Realistic text: far from one repeated sentence even at 100k rows.
        expect(row?.distinct ?? 0, 'distinct memory texts').toBeGreaterThan(Math.min(n * 0.3, 20_000));
      });
    }
  });
});

/** Evidence `seeding.text_variety`: load speed and mode, distinct texts and their average length. */
function recordTextVariety(perf: PerfRecorder, n: number, result: MemoryLoad, row: StoredTexts | undefined): void {
  const distinctShare = (row?.distinct ?? 0) / n;
  perf.evidence(
    'seeding.text_variety',
    `n=${n}: ${Math.round(result.rowsPerSecond).toLocaleString('en-US')} rows/s (${result.loadMode} load; ` +
      `one-time corpus preparation before it ${Math.round(result.corpusPrepareMs)} ms); ` +
      `${row?.distinct ?? 0} distinct texts (${(distinctShare * 100).toFixed(0)} %), ` +
      `avg ${Math.round(row?.avg_len ?? 0)} chars`,
    {
      rows: n,
      distinct: row?.distinct,
      averageLength: row?.avg_len,
      rowsPerSecond: result.rowsPerSecond,
      loadMode: result.loadMode,
      corpusPrepareMs: result.corpusPrepareMs,
    },
    { scenario: sizeScenario(n) },
  );
}
