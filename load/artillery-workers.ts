/**
 * Runs one Artillery script on N local workers at once, the way `artillery run-fargate --count N`
 * runs it on N containers: every worker runs the whole script ("multiply" mode) against the same
 * target, and Artillery's launcher merges the workers' metrics (counters summed, histograms merged
 * as DDSketches) into one report. `artillery run` on this machine class would use a single worker
 * (it starts one per core, minus one); this drives the same launcher with a worker count.
 *
 *   tsx load/artillery-workers.ts <script.yml> <workers> <report.json> [overrides JSON]
 *
 * Writes the same `{ aggregate }` report as `artillery run --output` (load/artillery-report.ts
 * reads both). Uses Artillery's internal modules, pinned by the exact version in package.json.
 * Run as its own process: Artillery keeps global state and exits the process when it is done.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

type ArtilleryStats = Record<string, unknown>;
interface Launcher {
  events: { on(event: 'done' | 'phaseStarted', fn: (stats: ArtilleryStats) => void): void };
  run(): Promise<void>;
  shutdown(): Promise<void>;
}
interface ArtilleryGlobal {
  testRunId?: string;
  hasTypescriptProcessor?: string;
  log?: (...args: unknown[]) => void;
}

/* eslint-disable @typescript-eslint/no-require-imports -- Artillery's internals are CommonJS without types */
const { createGlobalObject } = require('artillery/lib/artillery-global') as { createGlobalObject: () => Promise<void> };
const prepareTestExecutionPlan = require('artillery/lib/util/prepare-test-execution-plan') as (
  files: string[],
  flags: Record<string, unknown>,
  args: Record<string, unknown>,
) => Promise<{ config: { payload?: unknown } }>;
const createLauncher = require('artillery/lib/launch-platform') as (
  script: unknown,
  payload: unknown,
  runnerOpts: Record<string, unknown>,
  launcherOpts: Record<string, unknown>,
) => Promise<Launcher | null>;
/* eslint-enable @typescript-eslint/no-require-imports */

async function main(): Promise<void> {
  const [scriptArg, countArg, outArg, overrides] = process.argv.slice(2);
  const count = Number(countArg);
  if (!scriptArg || !outArg || !Number.isInteger(count) || count < 1 || count > 16) {
    console.error('usage: tsx load/artillery-workers.ts <script.yml> <workers 1..16> <report.json> [overrides JSON]');
    process.exit(2);
  }
  const script = path.resolve(scriptArg);
  await createGlobalObject();
  const g = (globalThis as { artillery?: ArtilleryGlobal }).artillery as ArtilleryGlobal;
  g.testRunId = `workers-${Date.now()}`;
  g.log ??= (...args: unknown[]) => console.log(...args);
  const flags: Record<string, unknown> = overrides ? { overrides } : {};
  const plan = await prepareTestExecutionPlan([script], flags, { script });
  const launcher = await createLauncher(
    plan,
    plan.config.payload,
    {
      scriptPath: script,
      absoluteScriptPath: script,
      plugins: [],
    },
    { platform: 'local', mode: 'multiply', count, cliArgs: flags, testRunId: g.testRunId },
  );
  if (!launcher) throw new Error('Artillery could not create its launcher');
  // The line `npm run load` waits for to start its probes (Artillery's console reporter prints the same).
  launcher.events.on('phaseStarted', (phase) => {
    console.log(`Phase started: ${typeof phase.name === 'string' ? phase.name : ''}`);
  });
  launcher.events.on('done', (stats) => {
    // Same shape as `artillery run --output`: percentiles under both names, no raw sketches.
    const { histograms: _sketches, ...rest } = stats;
    const report = { aggregate: { ...rest, histograms: stats.summaries }, workers: count };
    writeFileSync(outArg, JSON.stringify(report, null, 2));
    void launcher.shutdown().finally(() => {
      if (g.hasTypescriptProcessor) {
        try {
          rmSync(path.dirname(g.hasTypescriptProcessor), { recursive: true, force: true });
        } catch {
          // the bundle is in load/dist (git-ignored); a leftover is harmless
        }
      }
      process.exit(0);
    });
  });
  console.log(
    `Running ${path.basename(script)} on ${count} Artillery workers (multiply mode, as run-fargate --count ${count})`,
  );
  await launcher.run();
}

main().catch((err: unknown) => {
  console.error(`artillery-workers: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
