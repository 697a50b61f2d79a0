/**
 * Which Chromium the UI specs drive: CHROMIUM_PATH, else the system's (for headless runs its
 * headless shell first, Debian's `chromium-headless-shell`), else Playwright's own download
 * (when installed). Also the launch flags for a headless, quiet,
 * container-friendly browser: no sandbox (root in containers), no GPU, no background traffic that
 * would add noise to timings. `npm run setup` (scripts/setup.mjs) installs one when none is found.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from '@playwright/test';

export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const SYSTEM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/snap/bin/chromium'];
/**
 * Chromium's headless shell: what Playwright itself launches for headless Chromium, the same
 * Blink without the browser UI around it. Here it ran the UI specs ≈ 1.5–2 s faster a smoke run
 * than the full browser in headless mode, with the same frame times and render figures
 * (docs/measurement-notes.md). It cannot show a window: headed runs take a full Chromium.
 */
export const SYSTEM_HEADLESS_SHELL = '/usr/bin/chromium-headless-shell';

export const CHROMIUM_INSTALL_HINT =
  'No Chromium found: run `npm run setup` (it finds or installs one), or install one yourself ' +
  '(Debian/Ubuntu: `apt-get install chromium`, or `npx playwright install chromium`) ' +
  'or set CHROMIUM_PATH to its executable. UI specs will fail until then.';

export interface ChromiumChoice {
  /** undefined → let Playwright use its own bundled browser (it is installed). */
  executablePath: string | undefined;
  source: 'CHROMIUM_PATH' | 'system' | 'playwright' | 'none';
  /** A problem to print once (the browser is missing or CHROMIUM_PATH is wrong). */
  problem?: string;
}

export function detectChromium(
  chromiumPath: string | undefined,
  { headed = false, exists = existsSync }: { headed?: boolean; exists?: (p: string) => boolean } = {},
): ChromiumChoice {
  if (chromiumPath) {
    if (exists(chromiumPath)) return { executablePath: chromiumPath, source: 'CHROMIUM_PATH' };
    return {
      executablePath: undefined,
      source: 'none',
      problem: `CHROMIUM_PATH=${chromiumPath} does not exist. ${CHROMIUM_INSTALL_HINT}`,
    };
  }
  for (const candidate of headed ? SYSTEM_CANDIDATES : [SYSTEM_HEADLESS_SHELL, ...SYSTEM_CANDIDATES])
    if (exists(candidate)) return { executablePath: candidate, source: 'system' };
  let own: string | undefined;
  try {
    own = chromium.executablePath();
  } catch {
    own = undefined;
  }
  if (own && exists(own)) return { executablePath: undefined, source: 'playwright' };
  return { executablePath: undefined, source: 'none', problem: CHROMIUM_INSTALL_HINT };
}

let browserTmp: string | undefined;

/**
 * The browser's environment: this process's, with TMPDIR set to a folder of its own that is
 * removed when this process (a Playwright worker) exits. Chromium puts scratch folders
 * (`org.chromium.Chromium.*`) in TMPDIR and removes them only when it shuts down cleanly; when
 * it is SIGKILLed (as when the runner is killed and the worker tears down) they would stay.
 */
export function browserEnv(): Record<string, string | undefined> {
  if (!browserTmp) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'memorychat-browser-'));
    browserTmp = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return { ...process.env, TMPDIR: browserTmp };
}
