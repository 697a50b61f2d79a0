/**
 * Paces overlapping chat samples so that the app's own work of one chat never runs at the same
 * time as the app's own work of another.
 *
 * A chat request is app work (store the message, retrieve memories, build the prompt), then the
 * model's reply streaming for ~1–2 s (the app only relays it), then app work again (store the
 * reply). App overhead is measured server-side as the request time outside the model calls, so
 * only the two app-work phases can be disturbed by a neighbour's app work. With two chats in
 * flight and the next one starting only after the previously started one has streamed its first
 * token (its first app phase is over), a chat's first app phase runs while the other chat is mid
 * stream, and a lane only starts its next chat after its previous one is `done` (its last app
 * phase is over). The two app phases of neighbours then meet only when a reply ends within the
 * few milliseconds another chat spends before its model call.
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
