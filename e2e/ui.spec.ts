/**
 * Checkpoint 7.4 UI page performance, in Chromium:
 * - chat page load: Navigation Timing `loadEventEnd` and largest contentful paint, over fresh
 *   loads with the HTTP cache disabled (everything fetched, like a first visit);
 * - a long conversation (profile.uiRenderMessages messages): click on it in the session list →
 *   every message bubble in the DOM, the newest laid out (fetch + render), over several opens;
 *   then the frame times (rAF deltas) while scrolling it top → bottom.
 * All clocks are the page's own (`performance.now()` / Navigation Timing), so Playwright's
 * polling and IPC are not part of the numbers. No thresholds asserted here (the checkpoint gates
 * them); the `slow-render` fault shows up in the render time.
 */
import { test, expect } from '../fixtures';
import type { MetricOptions } from '../fixtures';
import { timeBudget } from './helpers/budget';
import { SampleFailure } from './helpers/failures';
import { successiveDifferences } from '../lib/stats';

// Serial on purpose: render and frame timings must not share the CPU with another test.

/** A typical returning user: a few conversations in the session list. */
const TYPICAL_SESSIONS = 3;
const TYPICAL_MESSAGES = 10;

test(
  'chat page load: navigation timing and largest contentful paint (cache disabled)',
  {
    tag: ['@ui'],
  },
  async ({ seed, perf, chat, page }) => {
    const profile = perf.profile;
    const budget = timeBudget();
    const owner = await seed.user({ displayName: 'perf ui load' });
    for (let i = 0; i < TYPICAL_SESSIONS; i++)
      await seed.session(owner, { messages: TYPICAL_MESSAGES, title: `conversation ${i + 1}` });
    const tags = { browser: 'chromium', cache: 'disabled', sessions: TYPICAL_SESSIONS };
    const load: MetricOptions = {
      scenario: 'default',
      tags: { ...tags, source: 'navigation timing loadEventEnd' },
    };
    const lcp: MetricOptions = {
      scenario: 'default',
      tags: { ...tags, source: 'largest-contentful-paint' },
    };

    // Every load fetches everything from the server, like a first visit: the HTTP cache is off
    // (DevTools protocol), which is cheaper than a new browser context per sample and does not
    // time the renderer process start-up, which is not the page's doing.
    await chat.open(owner); // sets the token for every later navigation of this page
    const url = page.url();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });

    await perf.repeat(
      {
        samples: profile.uiSamples,
        warmup: profile.warmup,
        errorsTo: [
          { name: 'ui.page_load_ms', opts: load },
          { name: 'ui.lcp_ms', opts: lcp },
        ],
      },
      async (ctx) => {
        budget.check('page load sample');
        await page.goto('about:blank');
        await page.goto(url, { waitUntil: 'load', timeout: budget.requestTimeoutMs(15_000) });
        // The page is "there" for a user once the session list shows their conversations.
        await chat
          .sessionItems()
          .first()
          .waitFor({ state: 'visible', timeout: budget.requestTimeoutMs(10_000) });
        const m = await chat.loadMarks();
        if (m.loadEventEnd === null)
          throw new SampleFailure('no_navigation_timing', 'Navigation Timing has no loadEventEnd');
        ctx.record('ui.page_load_ms', m.loadEventEnd, load);
        // A missing LCP entry fails only that metric's sample; the load time still counts.
        if (m.lcp !== null) ctx.record('ui.lcp_ms', m.lcp, lcp);
        else if (!ctx.warmup)
          perf.recordError(
            'ui.lcp_ms',
            new SampleFailure('no_lcp', 'Chromium reported no largest-contentful-paint entry'),
            lcp,
          );
      },
    );
    await cdp.detach();
  },
);

test(
  'long conversation: open it until all messages are shown, then scroll frame times',
  {
    tag: ['@ui'],
  },
  async ({ seed, perf, chat }) => {
    const profile = perf.profile;
    const budget = timeBudget();
    const n = profile.uiRenderMessages;
    const owner = await seed.user({ displayName: 'perf ui long conversation' });
    // Two identical-length conversations: each sample opens the one not currently shown (opening
    // the current one again would be a no-op for the UI).
    const convs: { id: number; lastMessageId: number }[] = [];
    for (const title of ['long conversation A', 'long conversation B']) {
      const s = await seed.session(owner, { messages: n, title });
      convs.push({ id: s.session.id, lastMessageId: s.messageIds[s.messageIds.length - 1]! });
    }
    const render: MetricOptions = {
      scenario: 'default',
      tags: {
        browser: 'chromium',
        messages: n,
        from: 'click on the session in the list',
        to: 'all messages in the DOM, newest laid out',
      },
    };
    const frames: MetricOptions = {
      scenario: 'default',
      tags: { browser: 'chromium', messages: n, source: 'requestAnimationFrame deltas' },
    };

    await chat.open(owner, { sessionId: convs[1]!.id });
    await chat.showSession(convs[1]!, budget.requestTimeoutMs(15_000));
    let allShown = false;
    await perf.repeat(
      {
        samples: profile.uiSamples,
        warmup: profile.warmup,
        errorsTo: [{ name: 'ui.long_conversation_render_ms', opts: render }],
      },
      async (ctx) => {
        budget.check('render sample');
        const target = convs[(ctx.index + profile.warmup) % 2]!;
        const r = await chat.openSessionFromList({
          sessionId: target.id,
          lastMessageId: target.lastMessageId,
          expected: n,
          timeoutMs: budget.requestTimeoutMs(15_000),
        });
        if (r.shown === -1) throw new SampleFailure('probe', `session ${target.id} is not in the session list`);
        if (r.clickedAt === null || r.shownAt === null) {
          throw new SampleFailure('not_all_rendered', `${r.shown} of ${n} messages shown when the wait ended`);
        }
        allShown = true;
        ctx.record('ui.long_conversation_render_ms', r.shownAt - r.clickedAt, render);
      },
    );

    // Frame times while scrolling the (already rendered) conversation top → bottom.
    let reachedBottom = true; // nothing to scroll when it never rendered (recorded as an error below)
    if (allShown) {
      const scroll = await chat.scrollToBottom({
        maxFrames: 600,
        maxMs: Math.min(10_000, budget.requestTimeoutMs(10_000)),
      });
      const r = {
        deltas: successiveDifferences(scroll.frameTimes),
        scrolledPx: scroll.scrolledPx,
        reachedBottom: scroll.reachedBottom,
      };
      if (r.deltas.length) perf.record('ui.scroll_frame_ms', r.deltas, frames);
      else
        perf.recordError(
          'ui.scroll_frame_ms',
          new SampleFailure('no_frames', 'no animation frame ran while scrolling'),
          frames,
        );
      perf.evidence(
        'ui.scroll',
        `scrolled ${r.scrolledPx} px in ${r.deltas.length} frames` +
          (r.reachedBottom ? '' : ' (stopped before the bottom)'),
        r,
      );
      reachedBottom = r.reachedBottom;
    } else {
      perf.recordError(
        'ui.scroll_frame_ms',
        new SampleFailure('not_rendered', `the conversation never showed all ${n} messages, nothing to scroll`),
        frames,
      );
    }
    expect.soft(reachedBottom, 'the conversation scrolls to its last message').toBe(true);
  },
);
