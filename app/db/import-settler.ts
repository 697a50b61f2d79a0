/**
 * Settling the memory tables after bulk imports, bounded so that no user can make the app
 * ANALYZE tables at will.
 *
 * A bulk import parks its search-index entries in the GIN pending lists and leaves the planner's
 * statistics stale; until autovacuum comes by, search scans instead of using its indexes
 * (measured: 25 ms instead of 2–5 ms at 10,000 memories). So an import settles before it answers:
 *  - the pending lists are merged (work proportional to what was just imported);
 *  - ANALYZE runs only when the rows imported since the last one reach autovacuum's own rule
 *    (50 + 10 % of the table), so repeated small imports into a big table never trigger it;
 *  - one settle at a time for the whole app: imports arriving meanwhile wait for it and share
 *    one follow-up settle, instead of each starting its own.
 * A failed settle is logged, never the import's failure: its rows are stored either way.
 */
import type { Queryable } from './db';
import * as repo from './repo';

/** autovacuum_analyze_threshold and autovacuum_analyze_scale_factor defaults. */
const ANALYZE_BASE_ROWS = 50;
const ANALYZE_SCALE = 0.1;

export class ImportSettler {
  /** Rows imported through this app since its last ANALYZE of the memory tables. */
  private rowsSinceAnalyze = 0;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  /** Counters for tests and logs: how often each step really ran. */
  readonly stats = { settles: 0, analyzes: 0 };

  constructor(
    private readonly db: Queryable,
    private readonly log: (line: string) => void,
  ) {}

  /** Call after a bulk import of `rows` memories; resolves once they are settled (never rejects). */
  imported(rows: number): Promise<void> {
    this.rowsSinceAnalyze += rows;
    if (this.queued) return this.queued;
    if (this.running) {
      this.queued = this.running.then(() => {
        this.queued = undefined;
        return this.run();
      });
      return this.queued;
    }
    return this.run();
  }

  private run(): Promise<void> {
    const settle = this.settle().finally(() => {
      this.running = undefined;
    });
    this.running = settle;
    return settle;
  }

  private async settle(): Promise<void> {
    const covered = this.rowsSinceAnalyze;
    try {
      this.stats.settles += 1;
      await repo.mergePendingSearchEntries(this.db);
      const tableRows = await repo.memoriesRowEstimate(this.db);
      if (covered < ANALYZE_BASE_ROWS + ANALYZE_SCALE * tableRows) return;
      await repo.analyzeMemoryTables(this.db);
      this.stats.analyzes += 1;
      this.rowsSinceAnalyze -= covered;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.log(
        `settling the memory tables after an import failed (search may be slower until autovacuum runs): ${reason}`,
      );
    }
  }
}
