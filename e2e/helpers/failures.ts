/**
 * A failed sample with a machine-readable cause. The `perf` recorder charges thrown errors to
 * the metrics named in `errorsTo`; giving them a `code` (model_error, model_timeout, timeout,
 * time_budget, ui_error, …) lets the report say *why* a sample failed instead of dropping it.
 */
export class SampleFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'SampleFailure';
  }
}
