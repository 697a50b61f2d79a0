import type { ChildProcess } from 'node:child_process';

/**
 * Signals a detached child's whole process group (negative pid: the child leads it), falling back
 * to the child alone; a process already gone is fine. By default a child that has exited is left
 * alone (its group id may be gone too); `evenIfLeaderExited` signals the group anyway, for a group
 * whose leader exited while a member still runs and holds its output (Artillery's workers).
 */
export function signalGroup(
  child: ChildProcess,
  signal: NodeJS.Signals,
  opts: { evenIfLeaderExited?: boolean } = {},
): void {
  if (child.pid === undefined) return;
  if (!opts.evenIfLeaderExited && (child.exitCode !== null || child.signalCode !== null)) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}
