/**
 * Chat replies through the UI, for the response spec's UI samples and compare mode's UI duet: a
 * chat page of its own, and one reply timed by the page's own clock from the send click.
 */
import type { Browser, BrowserContext } from '@playwright/test';
import type { ChatPage } from '../../fixtures';
import { ChatPageObject } from '../../pages/chat-page';
import { SampleFailure } from './failures';
import type { TimeBudget } from './budget';
import { CHAT_TIMEOUT_MS } from './stream';

export interface UiReplyTimes {
  /** Send click → first reply token in the page's DOM (ms, page clock; before layout and paint). */
  firstTokenMs: number;
  /** Send click → reply rendered as done (ms, page clock). */
  doneMs: number;
}

/** A chat page in a new browser context of its own, which the caller closes through `contexts`. */
export async function newChatPage(browser: Browser, baseUrl: string, contexts: BrowserContext[]): Promise<ChatPage> {
  const context = await browser.newContext();
  contexts.push(context);
  return new ChatPageObject(await context.newPage(), baseUrl);
}

/**
 * Sends `question` on an open chat page, in the session already shown, and waits for the reply.
 * A failed reply throws a SampleFailure with the app's error code where the UI shows one.
 */
export async function timeUiReply(tab: ChatPage, question: string, budget: TimeBudget): Promise<UiReplyTimes> {
  await tab.armReplyProbe();
  await tab.submit(question);
  const timeoutMs = budget.requestTimeoutMs(CHAT_TIMEOUT_MS);
  try {
    await tab.waitForReplyEnd(timeoutMs);
  } catch (err) {
    // Only a wait that ran out is a timeout; a crashed page or a closed context is its own cause.
    if (err instanceof Error && err.name === 'TimeoutError') {
      throw new SampleFailure(
        'timeout',
        `the reply did not reach data-state="done" or "error" in the UI within ${timeoutMs} ms`,
      );
    }
    throw new SampleFailure('page', `waiting for the reply in the page failed: ${(err as Error).message}`);
  }
  const p = await tab.replyMarks();
  if (p.errorAt !== null)
    throw new SampleFailure(codeFromUiText(p.errorText), `UI shows an error reply: ${p.errorText ?? '(no text)'}`);
  if (p.clickAt === null) throw new SampleFailure('probe', 'the send click was not observed by the in-page probe');
  if (p.firstTokenAt === null || p.doneAt === null)
    throw new SampleFailure('probe', 'reply finished without a first token being rendered');
  return { firstTokenMs: p.firstTokenAt - p.clickAt, doneMs: p.doneAt - p.clickAt };
}

/**
 * The UI shows the server's error *message*, not its code: map the app's wording back to the code
 * (model 5xx → model_error, deadline → model_timeout), else `ui_error` with the text as cause.
 */
function codeFromUiText(text: string | null): string {
  const t = text ?? '';
  const named = /\b(model_error|model_timeout|internal|unauthorized|validation|not_found)\b/.exec(t);
  if (named?.[1]) return named[1];
  if (/model answered [45]\d\d|model_error/i.test(t)) return 'model_error';
  if (/did not answer within|timed out/i.test(t)) return 'model_timeout';
  return 'ui_error';
}
