/**
 * Compare mode's sampler and decision on synthetic pairs: how often a change of exactly the
 * minimum effect (+10 %, the worst case of "no regression") is called a regression, against the
 * level the decision states; or, with another `change`, how often that change is caught. Runs
 * the real sampler (fixtures/perf.ts `comparePaired`: early stop, cap, second look) and the real
 * decision (lib/verdict/compare.ts `compareSeries`), beside the textbook reference: one test of a
 * fixed `maxPairs` pairs at the metric's full level.
 * No stack, no database.
 *
 *   npx tsx scripts/compare-looks.ts [runs=500] [change=1.1] [pairs=60] [maxPairs=600] [noise=0.1]
 *
 * `noise`: the standard deviation of one pair's log ratio. docs/compare-mode.md quotes its output.
 */
import { PerfRecorder } from '../fixtures/perf';
import { compareOne, compareSeries, FAMILY_ALPHA, resamplesFor, type PairedSeries } from '../lib/verdict/compare';
import { PROFILES } from '../lib/run/profiles';
import { seededRandom, standardNormal } from '../lib/verdict/stats';

const [runs = 500, change = 1.1, batch = 60, maxPairs = 600, noise = 0.1] = process.argv.slice(2).map(Number);
/** A comparison of twelve metrics, both directions: the level of its most significant one. */
const FAMILY = 12;
const METRIC = 'memory.search_ms';

/** Pair i of run r: the same base value on both arms, the candidate `change` times slower. */
function pairValues(run: number, i: number): { base: number; candidate: number } {
  const rnd = seededRandom(run * 100_003 + i);
  const gauss = () => standardNormal(rnd);
  const base = 10 * Math.exp(0.05 * gauss());
  return { base, candidate: base * change * Math.exp(noise * gauss()) };
}

/** Regression called? With the other eleven metrics of the family unchanged (they only set Holm's m). */
function decide(series: PairedSeries): boolean {
  const quiet: PairedSeries[] = Array.from({ length: FAMILY - 1 }, (_, k) => ({
    name: `db.quiet_${k}_ms`,
    scenario: 'sim',
    unit: 'ms',
    base: Array.from({ length: 60 }, (_, i) => 10 + (i % 7)),
    candidate: Array.from({ length: 60 }, (_, i) => 10 + (i % 7)),
  }));
  return compareSeries([series, ...quiet], { base: {}, candidate: {} }).metrics[0]?.decision === 'regression';
}

async function sampled(run: number): Promise<{ regression: boolean; pairs: number }> {
  const perf = new PerfRecorder(PROFILES.default);
  await perf.comparePaired(
    { pairs: batch, maxPairs, warmup: 0, seed: `sim-${run}`, order: 'abba', scenario: 'sim', metrics: [METRIC] },
    (arm, i) => Promise.resolve({ [METRIC]: pairValues(run, i)[arm] }),
  );
  const s = perf.pairs(METRIC, 'sim');
  if (!s) throw new Error('no paired series recorded');
  return { regression: decide(s), pairs: s.base.length };
}

function fixed(run: number): { regression: boolean; pairs: number } {
  const values = Array.from({ length: maxPairs }, (_, i) => pairValues(run, i));
  const series: PairedSeries = {
    name: METRIC,
    scenario: 'sim',
    unit: 'ms',
    base: values.map((v) => v.base),
    candidate: values.map((v) => v.candidate),
  };
  // The textbook reference: one test of one fixed sample at the metric's full level.
  const p = compareOne(series, resamplesFor(FAMILY)).pRegression ?? 1;
  return { regression: p <= FAMILY_ALPHA / (2 * FAMILY), pairs: maxPairs };
}

async function main(): Promise<void> {
  const level = FAMILY_ALPHA / (2 * FAMILY);
  console.log(
    `change ×${change} (minimum effect ×1.1), ${runs} runs, noise ${noise}; ` +
      `at ×1.1 the decision states at most ${(100 * level).toFixed(2)} % false alarms for one metric`,
  );
  for (const [how, one] of [
    [`fixed ${maxPairs} pairs`, (r: number) => Promise.resolve(fixed(r))],
    [`sampler (batches of ${batch}, cap ${maxPairs})`, sampled],
  ] as const) {
    let called = 0;
    let pairs = 0;
    for (let r = 0; r < runs; r++) {
      const result = await one(r);
      if (result.regression) called++;
      pairs += result.pairs;
    }
    console.log(
      `${how}: regression in ${called} of ${runs} runs (${((100 * called) / runs).toFixed(2)} %), ` +
        `mean ${Math.round(pairs / runs)} pairs`,
    );
  }
}

void main();
