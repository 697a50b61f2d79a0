/**
 * In-page probes for the UI metrics. They run *in the page* and timestamp with the page's own
 * `performance.now()`, so the numbers do not include Playwright's polling or IPC latency:
 * - chat probe: send click → first token rendered in the new assistant message → data-state done;
 * - session open: click on a session in the list → all N message bubbles in the DOM, laid out;
 * - scroll probe: requestAnimationFrame deltas while scrolling the message list top → bottom;
 * - load probe: Navigation Timing loadEventEnd and the last largest-contentful-paint entry.
 * Selectors are the data-testids of the chat UI contract (README, "The API contract").
 */
import type { Page } from '@playwright/test';

export interface ChatProbeResult {
  clickAt: number | null;
  firstTokenAt: number | null;
  doneAt: number | null;
  errorAt: number | null;
  errorText: string | null;
}

interface ChatProbeState extends ChatProbeResult {
  /** Highest message id on screen when armed: the reply's bubble has no id yet, or a larger one. */
  maxIdAtArm: number;
}

declare global {
  interface Window {
    __perfChat?: ChatProbeState;
    __perfChatDisarm?: () => void;
  }
}

/**
 * Arms the chat probe on the current page (disarming the previous one); call once the session is
 * shown and before `chat.send`. The reply is the last assistant bubble that appears after the
 * click and is not one of the messages already loaded (no message id yet, or a newer one), so
 * the probe does not depend on whether the UI patches or rebuilds the list.
 */
export async function armChatProbe(page: Page): Promise<void> {
  await page.evaluate(() => {
    window.__perfChatDisarm?.();
    const ASSISTANT = '[data-testid="message"][data-role="assistant"]';
    let maxIdAtArm = 0;
    for (const el of document.querySelectorAll('[data-testid="message"][data-message-id]')) {
      maxIdAtArm = Math.max(maxIdAtArm, Number(el.getAttribute('data-message-id')) || 0);
    }
    const state: ChatProbeState = { clickAt: null, firstTokenAt: null, doneAt: null, errorAt: null, errorText: null, maxIdAtArm };
    window.__perfChat = state;
    const markStart = () => {
      if (state.clickAt === null) state.clickAt = performance.now();
    };
    const onClick = (e: Event) => {
      if (e.target instanceof Element && e.target.closest('[data-testid="send-button"]')) markStart();
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Enter' && !e.shiftKey && e.target instanceof Element && e.target.closest('[data-testid="message-input"]')) markStart();
    };
    const check = () => {
      if (state.clickAt === null) return;
      const all = document.querySelectorAll(ASSISTANT);
      const last = all[all.length - 1];
      if (!last) return;
      const id = last.getAttribute('data-message-id');
      if (id !== null && Number(id) <= state.maxIdAtArm) return; // an old message, not the reply
      const now = performance.now();
      const content = last.querySelector('[data-testid="message-content"]');
      if (state.firstTokenAt === null && (content?.textContent ?? '').trim().length > 0) state.firstTokenAt = now;
      const s = last.getAttribute('data-state');
      if (s === 'done' && state.doneAt === null) state.doneAt = now;
      if (s === 'error' && state.errorAt === null) {
        state.errorAt = now;
        state.errorText = (last.textContent ?? '').trim().slice(0, 300);
      }
    };
    const observer = new MutationObserver(check);
    observer.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['data-state', 'data-message-id'] });
    document.addEventListener('click', onClick, true);
    document.addEventListener('keydown', onKey, true);
    window.__perfChatDisarm = () => {
      observer.disconnect();
      document.removeEventListener('click', onClick, true);
      document.removeEventListener('keydown', onKey, true);
    };
  });
}

/**
 * Shows a session in the already-open chat page through its URL hash (what clicking a session in
 * the list does) and waits until it is loaded: its newest message at the bottom, or an empty
 * list for a new session. Sending before that would race the UI's session load.
 */
export async function showSession(page: Page, session: { id: number; lastMessageId: number | null }, timeoutMs: number): Promise<void> {
  await page.evaluate((id) => {
    if (location.hash !== `#session=${id}`) location.hash = `session=${id}`;
  }, session.id);
  await page.waitForFunction((lastId) => {
    const all = document.querySelectorAll('[data-testid="message"]');
    if (lastId === null) return all.length === 0;
    return all[all.length - 1]?.getAttribute('data-message-id') === String(lastId);
  }, session.lastMessageId, { timeout: timeoutMs, polling: 'raf' });
}

/**
 * Starts a new chat the way a user does ("New chat" button) and waits until the UI switched to
 * it: the URL hash names a new session and the message list is empty.
 */
export async function startNewChat(page: Page, timeoutMs: number): Promise<void> {
  const before = await page.evaluate(() => location.hash);
  // After a failed reply the error banner (fixed, top) covers the button: dismiss it, as a user would.
  const banner = page.getByTestId('error-banner');
  if (await banner.isVisible()) await banner.getByRole('button').click({ timeout: timeoutMs });
  await page.getByTestId('new-session-button').click({ timeout: timeoutMs });
  await page.waitForFunction((previous) => /session=\d+/.test(location.hash) && location.hash !== previous
    && document.querySelectorAll('[data-testid="message"]').length === 0, before, { timeout: timeoutMs, polling: 'raf' });
}

/**
 * Clicks a session in the session list and returns, from the page's clock, the time until all
 * `expected` message bubbles are in the DOM with the session's newest message laid out last
 * (or why not, within `timeoutMs`).
 */
export async function timeSessionOpen(page: Page, args: { sessionId: number; lastMessageId: number; expected: number; timeoutMs: number }): Promise<{ ms: number | null; shown: number }> {
  return page.evaluate(({ sessionId, lastMessageId, expected, timeoutMs }) => new Promise<{ ms: number | null; shown: number }>((resolve) => {
    const item = document.querySelector<HTMLElement>(`[data-testid="session-item"][data-session-id="${sessionId}"]`);
    if (!item) {
      resolve({ ms: null, shown: -1 });
      return;
    }
    let shown = 0;
    let timer = 0;
    const t0 = performance.now();
    const check = () => {
      const all = document.querySelectorAll('[data-testid="message"]');
      shown = all.length;
      const last = all[all.length - 1] as HTMLElement | undefined;
      if (shown !== expected || !last || last.getAttribute('data-message-id') !== String(lastMessageId)) return;
      if (last.getClientRects().length === 0) return; // in the DOM but not laid out
      const ms = performance.now() - t0;
      observer.disconnect();
      clearTimeout(timer);
      resolve({ ms, shown });
    };
    const observer = new MutationObserver(check);
    observer.observe(document.body, { childList: true, subtree: true });
    timer = window.setTimeout(() => {
      observer.disconnect();
      resolve({ ms: null, shown });
    }, timeoutMs);
    item.click();
  }), args);
}

export async function readChatProbe(page: Page): Promise<ChatProbeResult> {
  const s = await page.evaluate(() => window.__perfChat ?? null);
  if (!s) throw new Error('chat probe was not armed on this page (armChatProbe must run after the page opened)');
  return { clickAt: s.clickAt, firstTokenAt: s.firstTokenAt, doneAt: s.doneAt, errorAt: s.errorAt, errorText: s.errorText };
}

/**
 * Scrolls the message list from top to bottom, one step per animation frame, and returns the
 * frame-to-frame deltas (ms). Bounded in frames and time so a frozen page cannot hang the test.
 */
export async function scrollFrameDeltas(page: Page, opts: { maxFrames: number; maxMs: number }): Promise<{ deltas: number[]; scrolledPx: number; reachedBottom: boolean }> {
  return page.evaluate(({ maxFrames, maxMs }) => new Promise<{ deltas: number[]; scrolledPx: number; reachedBottom: boolean }>((resolve) => {
    const list = document.querySelector('[data-testid="message-list"]');
    // The scroll container: the list itself or its nearest scrollable ancestor, else the document.
    let el: Element | null = list;
    while (el && !(el.scrollHeight > el.clientHeight + 1 && /(auto|scroll)/.test(getComputedStyle(el).overflowY))) el = el.parentElement;
    const scroller: Element = el ?? document.scrollingElement ?? document.documentElement;
    scroller.scrollTop = 0;
    const step = Math.max(50, Math.floor(scroller.clientHeight / 3));
    const deltas: number[] = [];
    const started = performance.now();
    let last = -1;
    const frame = (t: number) => {
      if (last >= 0) deltas.push(t - last);
      last = t;
      const bottom = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 1;
      if (bottom || deltas.length >= maxFrames || performance.now() - started > maxMs) {
        resolve({ deltas, scrolledPx: scroller.scrollTop, reachedBottom: bottom });
        return;
      }
      scroller.scrollTop += step;
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  }), opts);
}

/**
 * Navigation Timing `loadEventEnd` and the latest LCP candidate (buffered), both in ms since
 * navigation start. Waits two frames after the session list is attached so the first real
 * paint has happened.
 */
export async function readLoadMetrics(page: Page): Promise<{ loadEventEnd: number | null; lcp: number | null }> {
  return page.evaluate(() => new Promise<{ loadEventEnd: number | null; lcp: number | null }>((resolve) => {
    let lcp: number | null = null;
    const po = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) lcp = e.startTime;
    });
    try {
      po.observe({ type: 'largest-contentful-paint', buffered: true });
    } catch {
      // LCP unsupported: reported as missing by the caller.
    }
    requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => {
      for (const e of po.takeRecords()) lcp = e.startTime;
      po.disconnect();
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
      resolve({ loadEventEnd: nav && nav.loadEventEnd > 0 ? nav.loadEventEnd : null, lcp });
    }, 50)));
  }));
}
