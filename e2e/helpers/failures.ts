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

/** Best-effort code for any thrown value (API client errors carry `code`/`status`). */
export function failureCode(error: unknown): string {
  if (error && typeof error === 'object') {
    const e = error as { code?: unknown; status?: unknown; name?: unknown };
    if (typeof e.code === 'string' && e.code) return e.code;
    if (typeof e.status === 'number') return `http_${e.status}`;
    if (e.name === 'AbortError' || e.name === 'TimeoutError') return 'timeout';
  }
  return 'error';
}

/** A short, single-line message for logs and evidence (never a stack). */
export function failureMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!.slice(0, 300);
}
