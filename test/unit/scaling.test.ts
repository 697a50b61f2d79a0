/** Figures derived from raw memory-scaling samples: exponents on the right basis, the statements ratio. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ScalingSamples,
  broadP50s,
  broadSearchLine,
  listPageProblems,
  rankOf,
  ranksBySize,
} from '../../lib/figures/scaling';

const SIZES = [100, 1_000, 10_000];

void test('a linear scan has exponent ≈ 1 and a flat lookup ≈ 0, fitted on the server DB time', () => {
  const s = new ScalingSamples();
  for (const size of SIZES) {
    for (let i = 0; i < 5; i++) {
      // The API time carries a fixed 5 ms HTTP cost that flattens the curve; the DB time does not.
      s.add(size, 'retrieval', { ms: 5 + size / 1000, dbMs: size / 1000 });
      s.add(size, 'search', { ms: 5.5, dbMs: 0.5 });
    }
  }
  const scan = s.exponent('retrieval', SIZES);
  assert.ok(Math.abs((scan.value ?? NaN) - 1) < 1e-9, `scan exponent ${scan.value}`);
  assert.equal(scan.tags.basis, 'server DB time (Server-Timing db)');
  assert.ok(Number(scan.tags.apiLatencyExponent) < 0.5, 'the API curve is flattened by the fixed cost');
  assert.ok(Math.abs(s.exponent('search', SIZES).value ?? NaN) < 1e-9);
});

void test('without DB time at every size the exponent falls back to the API time; one size is not derivable', () => {
  const s = new ScalingSamples();
  s.add(100, 'fuzzy', { ms: 1, dbMs: 1 });
  s.add(1_000, 'fuzzy', { ms: 10 });
  const fit = s.exponent('fuzzy', [100, 1_000]);
  assert.equal(fit.tags.basis, 'API latency');
  assert.ok(Math.abs((fit.value ?? NaN) - 1) < 1e-9);
  const one = new ScalingSamples();
  one.add(100, 'search', { ms: 1, dbMs: 1 });
  assert.equal(one.exponent('search', [100]).value, undefined);
});

void test('statements growth ratio: largest over smallest size mean; undefined with one size', () => {
  const s = new ScalingSamples();
  for (const n of [4, 4, 5]) s.addStatements(100, n);
  for (const n of [26, 26, 26]) s.addStatements(10_000, n);
  const r = s.statementsGrowthRatio();
  assert.ok(Math.abs((r.value ?? NaN) - 26 / (13 / 3)) < 1e-9);
  assert.deepEqual(r.tags, { largest: 10_000, smallest: 100 });
  const one = new ScalingSamples();
  one.addStatements(100, 4);
  assert.equal(one.statementsGrowthRatio().value, undefined);
});

void test('rankOf: 0-based position of the target, null when absent or unknown', () => {
  assert.equal(rankOf([5, 7, 9], 7), 1);
  assert.equal(rankOf([5, 7, 9], 8), null);
  assert.equal(rankOf([5, 7, 9], undefined), null);
  assert.equal(
    ranksBySize([
      { size: 100, rank: 0 },
      { size: 1000, rank: null },
    ]),
    '100: 1, 1000: not found',
  );
});

void test('listPageProblems: a short page and an order that is not newest first', () => {
  assert.deepEqual(listPageProblems('n=100', [9, 8, 7], 3), []);
  assert.deepEqual(listPageProblems('n=100', [9, 9, 7], 4), [
    'n=100: 3 memories listed, expected 4',
    'n=100: list is not newest first',
  ]);
});

void test('broadP50s: API and server DB p50s per mode; DB p50 undefined without Server-Timing', () => {
  const b = broadP50s(
    100,
    [
      { ms: 3, dbMs: 1 },
      { ms: 1, dbMs: 3 },
      { ms: 2, dbMs: 2 },
    ],
    [{ ms: 10 }],
  );
  assert.deepEqual(b, { size: 100, rankedP50: 2, rankedDbP50: 2, fuzzyP50: 10, fuzzyDbP50: undefined });
  assert.equal(broadSearchLine([b]), '100: ranked 2 (2), fuzzy 10 (n/a)');
});
