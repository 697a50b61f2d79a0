/**
 * The verdict's inputs besides the metrics: threshold overrides (PERF_THRESHOLDS) and the
 * baseline (PERF_BASELINE, PERF_BASELINE_TOLERANCE). A bad one leaves a run without a verdict,
 * so it is checked where a run starts: global setup stops the run before anything is measured,
 * and the checkpoint reporter checks again for runs without that setup (merge-reports).
 */
import { BaselineError, loadBaseline, parseTolerance } from './baseline';
import { ThresholdConfigError, resolveThresholds, type ThresholdConfig } from './thresholds';

/** The first problem with the verdict's inputs, as a message naming the variable; else undefined. */
export function verdictInputProblem(
  thresholds: ThresholdConfig,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  try {
    resolveThresholds(thresholds, 'default', env);
    const baseline = env.PERF_BASELINE?.trim();
    if (baseline) {
      loadBaseline(baseline);
      parseTolerance(env.PERF_BASELINE_TOLERANCE);
    }
    return undefined;
  } catch (error) {
    if (error instanceof ThresholdConfigError || error instanceof BaselineError) return error.message;
    throw error;
  }
}
