/**
 * Paces overlapping chat samples so that the app's own work before the model call of one chat
 * never runs at the same time as that of another. A chat is app work (store the message,
 * retrieve, build the prompt), then ~1–2 s of the model's reply streaming (the app only relays
 * it), then app work again (store the reply). The next chat starts once the previous one has
 * streamed its first token (its first app phase is over, whatever the app's speed) or, sooner,
 * once a start gap has passed that is several times the longest app overhead seen so far (both
 * phases together) and at least MIN_START_GAP_MS; a lane starts its next chat only after `done`.
 * docs/measurement-notes.md compares this with pacing by first token alone.
 */

/** The shortest start gap: five to ten times the reference app's usual overhead (10–20 ms). */
export const MIN_START_GAP_MS = 100;
/** Start gap per ms of the longest app overhead seen: a slower app gets proportionally more room. */
export const GAP_PER_APP_OVERHEAD = 4;

export class ChatPacer {
  private previous: Promise<void> = Promise.resolve();
  private longestAppOverheadMs = 0;

  /** A finished chat's app overhead (server total − model time): widens the start gap if needed. */
  noteAppOverhead(ms: number): void {
    if (Number.isFinite(ms) && ms > this.longestAppOverheadMs) this.longestAppOverheadMs = ms;
  }

  /** How long after a chat's start the next one may start, if the first token has not come sooner. */
  startGapMs(): number {
    return Math.max(MIN_START_GAP_MS, GAP_PER_APP_OVERHEAD * this.longestAppOverheadMs);
  }

  /**
   * Waits for this chat's turn, then returns its `release`. With `overlap`, the release also
   * fires by itself after the start gap; the caller calls it at its first token (with `overlap`)
   * and once more when the chat ends, whatever happened, so nobody waits forever. Calling it
   * again is harmless. Without `overlap`, chats run strictly one after the other.
   */
  async turn(opts: { overlap: boolean }): Promise<() => void> {
    const before = this.previous;
    let resolve!: () => void;
    this.previous = new Promise<void>((r) => {
      resolve = r;
    });
    await before;
    if (!opts.overlap) return resolve;
    const timer = setTimeout(resolve, this.startGapMs());
    return () => {
      clearTimeout(timer);
      resolve();
    };
  }
}
