// `netprobes serve` with a Chromium page on it, as the end-to-end tests open it: serve as root, the page only where
// Chromium is installed (the tests' need() says why not), one close() for both.

import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContextOptions, type Locator, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from './env.ts';
import { netprobes, waitForOutput } from './run.ts';

export interface ServePage {
  readonly url: string;
  /** serve's port (its own connection's, for the own-activity tests). */
  readonly port: number;
  /** serve's process. */
  readonly pid: number;
  readonly browser: Browser | null;
  /** Null without Chromium. */
  readonly page: Page | null;
  close(): Promise<void>;
}

export async function openServePage(context: BrowserContextOptions = {}): Promise<ServePage> {
  const server = netprobes(['serve']);
  const url = await waitForOutput(server.child, /http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+/);
  const browser = existsSync(CHROMIUM) ? await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }) : null;
  const page = browser ? await (await browser.newContext({ viewport: { width: 1280, height: 800 }, ...context })).newPage() : null;
  await page?.goto(url);
  return {
    url,
    port: Number(/:(\d+)\//.exec(url)![1]),
    pid: server.child.pid!,
    browser,
    page,
    close: async () => {
      await browser?.close();
      server.child.kill('SIGINT');
      await server.done;
    },
  };
}

/** Clicks a probe's (or the Overview's) tab and returns its panel once shown. */
export async function openTab(page: Page, name: string): Promise<Locator> {
  await page.getByRole('tab', { name: new RegExp(`^${name}`) }).click();
  const region = page.getByRole('region', { name });
  await region.waitFor();
  return region;
}
