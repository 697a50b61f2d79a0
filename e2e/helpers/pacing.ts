/**
 * Paces overlapping chat samples so that the app's own work of one chat never runs at the same
 * time as the app's own work of another. A chat is app work (store the message, retrieve, build
 * the prompt), then ~1–2 s of the model's reply streaming (the app only relays it), then app work
 * again (store the reply). With the next chat starting only after the previous one streamed its
 * first token, and a lane starting its next chat only after `done`, a chat's first app phase falls
 * into the others' streams; a chat starts at most every time-to-first-token (≈ 0.37 s with the
 * realistic model), whatever the number of lanes.
 */
export class FirstTokenPacer {
  private previous: Promise<void> = Promise.resolve();

  /**
   * Waits until the previously started chat has streamed its first token (or ended), then returns
   * the `release` this chat must call at its own first token; calling it again is harmless, and
   * the caller calls it once more when the chat ends, whatever happened, so nobody waits forever.
   */
  async turn(): Promise<() => void> {
    const before = this.previous;
    let release!: () => void;
    this.previous = new Promise<void>((resolve) => {
      release = resolve;
    });
    await before;
    return release;
  }
}
