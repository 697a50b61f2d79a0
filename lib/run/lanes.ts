/**
 * The suite's one lane pool: runs task(0..count-1) with at most `concurrency` in flight, indices
 * handed out in order, and returns every outcome in index order. A failed task never hides the
 * others. With `stopOnFailure`, no lane starts another index after the first failure (as a
 * sequential loop would stop); indices never started have no entry.
 */
export async function runInLanes<T>(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<T>,
  opts: { stopOnFailure?: boolean } = {},
): Promise<PromiseSettledResult<T>[]> {
  const results: PromiseSettledResult<T>[] = [];
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (next < count && !(opts.stopOnFailure && failed)) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await task(i) };
      } catch (reason) {
        failed = true;
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, lane));
  return results;
}

export function fulfilled<T>(results: PromiseSettledResult<T>[]): T[] {
  return results.flatMap((r) => (r?.status === 'fulfilled' ? [r.value] : []));
}

export function rejected<T>(results: PromiseSettledResult<T>[]): unknown[] {
  return results.flatMap((r) => (r?.status === 'rejected' ? [r.reason as unknown] : []));
}

/** Throws the first failure (in index order) once every lane has settled. */
export function throwFirstFailure<T>(results: PromiseSettledResult<T>[]): void {
  const failure = results.find((r): r is PromiseRejectedResult => r?.status === 'rejected');
  if (failure) throw failure.reason;
}
