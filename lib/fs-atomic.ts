/**
 * Atomic file writes: write a temp file next to the target, then rename it over the target.
 * A reader (CI upload, a tool reading perf-summary.json) never sees a half-written file, and a
 * crash mid-write leaves the previous version intact.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { randomUUID } from 'node:crypto';

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  // Same directory as the target, so rename() stays on one filesystem (atomic on POSIX).
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}
