/**
 * The A/B decision (lib/compare.ts): no alarm on identical arms, a real slowdown caught, exact
 * counts compared exactly, Holm's correction, and too few pairs reported as such.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compareOne, compareSeries, holm, undecided, type PairedSeries } from '../../lib/compare';
import { seededRandom } from '../../lib/stats';

/** Log-normal noise around `median`, with a drift shared by both halves of a pair. */
function pairs(n: number, seed: number, median: number, slowdown = 1, noise = 0.15): { b: number[]; c: number[] } {
  const rnd = seededRandom(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const b: number[] = [];
  const c: number[] = [];
  for (let i = 0; i < n; i++) {
    const drift = Math.exp(0.3 * Math.sin(i / 7));
    b.push(median * drift * Math.exp(noise * gauss()));
    c.push(median * drift * slowdown * Math.exp(noise * gauss()));
  }
  return { b, c };
}

const ms = (name: string, b: number[], c: number[]): PairedSeries => ({
  name,
  scenario: 'api',
  unit: 'ms',
  base: b,
  candidate: c,
});
const arms = { base: { ref: 'HEAD' }, candidate: {} };

void describe('compare', () => {
  void test('identical arms: no regression and no improvement across 30 comparisons of 10 metrics', () => {
    let alarms = 0;
    for (let run = 0; run < 30; run++) {
      const series = Array.from({ length: 10 }, (_, k) => {
        const { b, c } = pairs(60, run * 100 + k, 1 + k);
        return ms(`db.metric_${k}_ms`, b, c);
      });
      const result = compareSeries(series, arms);
      alarms += result.regressions + result.improvements;
    }
    assert.ok(alarms <= 1, `${alarms} false alarms in 30 clean comparisons`);
  });

  void test('a 25 % slowdown of one metric is a regression, the others stay unchanged', () => {
    const series = Array.from({ length: 8 }, (_, k) => {
      const { b, c } = pairs(120, 7 + k, 0.7, k === 3 ? 1.25 : 1);
      return ms(`db.metric_${k}_ms`, b, c);
    });
    const result = compareSeries(series, arms);
    assert.equal(result.regressions, 1);
    assert.equal(result.improvements, 0);
    const slow = result.metrics[3];
    assert.equal(slow?.decision, 'regression');
    assert.ok(slow.ratio !== null && slow.ratio > 1.15 && slow.ratio < 1.35, `ratio ${slow.ratio}`);
  });

  void test('a slowdown inside the minimum effect is not a regression', () => {
    const { b, c } = pairs(300, 11, 2, 1.04, 0.05);
    const one = compareSeries([ms('db.session_create_ms', b, c)], arms).metrics[0];
    assert.equal(one?.decision, 'no-change');
  });

  void test('counts: +1 token per message is a regression; identical counts are no change', () => {
    const base = Array.from({ length: 12 }, (_, i) => 3000 + i * 17);
    const plusOne = compareOne({
      name: 'tokens.total_per_message',
      scenario: 'api',
      unit: 'tokens',
      base,
      candidate: base.map((v) => v + 1),
    });
    assert.equal(plusOne.difference, 1);
    const same = compareSeries(
      [{ name: 'tokens.total_per_message', scenario: 'api', unit: 'tokens', base, candidate: [...base] }],
      arms,
    );
    assert.equal(same.metrics[0]?.decision, 'no-change');
    assert.equal(undecided(same.metrics[0]), false, 'an exact tie needs no more samples');
    const worse = compareSeries(
      [{ name: 'tokens.total_per_message', scenario: 'api', unit: 'tokens', base, candidate: base.map((v) => v + 1) }],
      arms,
    );
    assert.equal(worse.metrics[0]?.decision, 'regression');
    assert.equal(worse.regressions, 1);
  });

  void test('too few pairs: insufficient-data, never a verdict', () => {
    const result = compareSeries([ms('db.session_create_ms', [1, 2, 3], [1, 2, 3])], arms);
    assert.equal(result.metrics[0]?.decision, 'insufficient-data');
    assert.equal(result.regressions, 0);
  });

  void test('holm: step-down at alpha / (m − k)', () => {
    assert.deepEqual(holm([0.01, 0.04, 0.03, 0.005], 0.05), [true, false, false, true]);
    assert.deepEqual(holm([0.001, 0.2], 0.05), [true, false]);
  });

  void test('undecided: an interval straddling the minimum effect asks for more pairs', () => {
    const { b, c } = pairs(12, 3, 1, 1.1, 0.3);
    assert.equal(undecided(compareOne(ms('db.session_create_ms', b, c))), true);
    const tight = pairs(400, 3, 1, 1, 0.02);
    assert.equal(undecided(compareOne(ms('db.session_create_ms', tight.b, tight.c))), false);
  });
});
