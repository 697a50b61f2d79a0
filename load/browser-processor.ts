/**
 * Artillery processor of the browser users (load/browser.yml, Playwright engine): one person in a
 * real Chromium, driving the suite's chat page object (pages/chat-page.ts), so the
 * load test exercises the same UI paths as the specs. Its metrics are chat.browser_*; they are
 * reported beside the API figures and never mixed into them.
 */
import type { Page } from '@playwright/test';
import { ChatPageObject } from '../pages/chat-page';
import { numberFromEnv, text, userOf, type VuContext, type VuEvents } from './processor';

/**
 * Playwright engine test function: a browser user opens the chat UI with its token, starts a new
 * session and sends LOAD_BROWSER_TURNS messages, timing the reply as the user sees it (send →
 * first token on screen → done).
 */
export async function browserChat(
  page: Page,
  context: VuContext,
  events: VuEvents,
  test: { step(name: string, fn: () => Promise<void>): Promise<void> },
): Promise<void> {
  const { target, token } = userOf(context);
  const chat = new ChatPageObject(page, target);
  const turns = numberFromEnv('LOAD_BROWSER_TURNS', 3);
  const thinkMs = numberFromEnv('LOAD_THINK_S', 2) * 1000;
  await test.step('open', () => chat.open({ token }));
  await chat.newSessionButton().click();
  const deadline = Number(process.env.LOAD_STEP_DEADLINE_MS ?? Infinity);
  for (let i = 0; i < turns && Date.now() < deadline; i++) {
    const started = performance.now();
    let firstTokenMs: number | undefined;
    let failed = false;
    await test.step('chat', async () => {
      await chat.send(text.userMessage());
      try {
        await chat.waitForFirstToken();
        firstTokenMs = performance.now() - started;
        await chat.waitForDone();
      } catch {
        failed = true;
      }
    });
    events.emit('counter', 'chat.browser_requests', 1);
    if (failed) {
      events.emit('counter', 'chat.browser_failed', 1);
    } else {
      events.emit('histogram', 'chat.browser_total_ms', performance.now() - started);
      if (firstTokenMs !== undefined) events.emit('histogram', 'chat.browser_ttft_ms', firstTokenMs);
    }
    await page.waitForTimeout(thinkMs * (0.5 + Math.random()));
  }
}
