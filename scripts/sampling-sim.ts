/**
 * The recorder's auto-sampling of a chat percentile on synthetic samples: how often a p95 check
 * fails, and how many samples it took, for two kinds of machine. Runs the real sampler
 * (fixtures/perf.ts `repeat`: first batch, more batches near the limit, confirmation past the
 * cap) and the real decision (lib/verdict/thresholds.ts: the interval, else the estimate).
 * No stack, no database.
 *
 *   npx tsx scripts/sampling-sim.ts [runs=2000] [profile=default]
 *
 * - `steady`: log-normal times (σ 0.5) whose true p95 is k × the limit: the failure rate should
 *   rise from none far below the limit to all far above it.
 * - `hiccups`: log-normal times with a true p95 at half the limit, plus a share q of samples that
 *   are hiccups at 2–3 × the limit (a scheduler or GC stall). With q ≤ 3 % the true p95 is still
 *   below the limit, so every failure is a false fail. fixtures/perf.ts (NEAR_LIMIT) quotes it.
 * - `burst`: log-normal times with a true p95 at 0.6 × the limit, and k consecutive samples at
 *   1.4–1.8 × the limit starting anywhere in the first 40 (a disturbance of a few hundred ms hits
 *   several chats in a row on the instant model). Every failure is a false fail.
 */
import { PerfRecorder } from '../fixtures/perf';
import { PROFILES, type ProfileName } from '../lib/run/profiles';
import { quantile, seededRandom, standardNormal } from '../lib/verdict/stats';
import { decideByInterval, percentileInterval } from '../lib/verdict/thresholds';

const runs = Number(process.argv[2] ?? 2000);
const profileName = (process.argv[3] ?? 'default') as ProfileName;
const profile = PROFILES[profileName];
/** The default profile's app-overhead check: p95 ≤ 25 ms (perf.thresholds.ts). */
const METRIC = 'response.app_overhead_ms';
const LIMIT = 25;
const SIGMA = 0.5;

/** A draw of one sample: log-normal with the given p95, or a hiccup with probability `q`. */
function sampler(run: number, p95: number, q: number): () => number {
  const rnd = seededRandom(run * 7_919 + Math.round(p95 * 1000) + Math.round(q * 1e6));
  const mu = Math.log(p95) - SIGMA * 1.6449;
  return () => {
    if (rnd() < q) return LIMIT * (2 + rnd());
    return Math.exp(mu + SIGMA * standardNormal(rnd));
  };
}

/** Like `sampler`, with a burst of `k` consecutive slow samples from a random start among the first 40. */
function burstSampler(run: number, k: number): () => number {
  const rnd = seededRandom(run * 104_729 + k);
  const mu = Math.log(0.6 * LIMIT) - SIGMA * 1.6449;
  const start = Math.floor(rnd() * 40);
  let i = 0;
  return () => {
    const inBurst = i >= start && i < start + k;
    i++;
    return inBurst ? LIMIT * (1.4 + 0.4 * rnd()) : Math.exp(mu + SIGMA * standardNormal(rnd));
  };
}

/** One run of the chat scenario's sampling; whether its p95 check failed and how many samples it took. */
async function oneRun(draw: () => number): Promise<{ failed: boolean; n: number }> {
  const perf = new PerfRecorder(profile);
  await perf.repeat({ samples: profile.apiSamples, warmup: 0, maxSamples: profile.apiMaxSamples }, (ctx) => {
    ctx.record(METRIC, draw(), { scenario: 'simple-query' });
    return Promise.resolve();
  });
  const doc = perf.toDocument({ title: 'simulation', file: 'simulation.spec.ts', project: profileName });
  const samples = doc.metrics.find((m) => m.name === METRIC)?.samples ?? [];
  const interval = percentileInterval(samples, 'p95');
  const decided = interval ? decideByInterval(interval, '<=', LIMIT) : 'straddles';
  const failed = decided === 'straddles' ? quantile(samples, 0.95) > LIMIT : decided === 'fail';
  return { failed, n: samples.length };
}

async function rate(label: string, draw: (run: number) => () => number): Promise<void> {
  let failed = 0;
  let n = 0;
  for (let r = 0; r < runs; r++) {
    const one = await oneRun(draw(r));
    if (one.failed) failed++;
    n += one.n;
  }
  console.log(
    `${label}: fails ${((100 * failed) / runs).toFixed(2)} % of ${runs} runs, mean n ${(n / runs).toFixed(0)}`,
  );
}

void (async () => {
  console.log(
    `profile ${profileName}: ${profile.apiSamples} samples, cap ${profile.apiMaxSamples}, ` +
      `confirmation to ${profile.confirmCapFactor}× the cap; p95 limit ${LIMIT}`,
  );
  for (const k of [0.8, 0.95, 1, 1.1, 1.25])
    await rate(`steady, true p95 ${k} × limit`, (r) => sampler(r, k * LIMIT, 0));
  for (const q of [0.01, 0.02, 0.03])
    await rate(`hiccups ${q * 100} % at 2–3 × limit, true p95 below it`, (r) => sampler(r, LIMIT / 2, q));
  for (const k of [3, 4, 5, 8])
    await rate(`burst of ${k} in a row at 1.4–1.8 × limit, true p95 0.6 × limit`, (r) => burstSampler(r, k));
})();
