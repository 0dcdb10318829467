// What the verifier-page tests against a real gateway (`npm start`, readme-gateway.ts) share:
// notarising a record through the API and waiting until it is recorded, finding where the page is
// served from, and reading what a reader sees before scrolling. Kept apart from
// verifier-page-support.ts, which is about the fake gateway and the built page.

import type { Browser, BrowserContext, Page } from 'playwright-core';
import { expect } from 'vitest';
import { DEMO_PROJECT } from '../../gateway/src/cli/demo.ts';
import type { ReadmeGateway } from './readme-gateway.ts';
import { launchChromium, startPageFront } from './verifier-page-support.ts';

/**
 * POSTs one record to the demo project as `token` (a unit's) and returns its id; the gateway must
 * accept it (202) — a test's setup failing here says why in the message.
 */
export async function submitEvidence(
  api: string,
  token: string,
  body: Record<string, unknown>,
): Promise<string> {
  const res = await fetch(`${api}/v1/evidence`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ projectId: DEMO_PROJECT.id, ...body }),
  });
  const json = (await res.json()) as { id: string };
  expect(res.status, JSON.stringify(json)).toBe(202);
  return json.id;
}

/** Waits until the record is in the ledger (recorded, or anchored already). */
export async function waitRecorded(gateway: ReadmeGateway, id: string, timeoutMs = 60_000): Promise<void> {
  await gateway.waitFor(
    `${id} recorded`,
    async () => {
      const body = (await (await fetch(`${gateway.base}/v1/evidence/${id}`)).json()) as { status: string };
      return body.status === 'recorded' || body.status === 'anchored' ? true : undefined;
    },
    timeoutMs,
  );
}

export interface PageOrigin {
  url: string;
  /** Whether the gateway serves the page itself (else a same-origin front relays /v1 to it). */
  servedByGateway: boolean;
  close(): Promise<void>;
}

/**
 * Where to open the page: the gateway itself when it serves the built page (the `pages` plugin);
 * otherwise a same-origin front that serves it and relays the API, so the page's requests stay
 * same-origin either way.
 */
export async function servePage(api: string): Promise<PageOrigin> {
  const home = await fetch(`${api}/`);
  if (home.status === 200 && (await home.text()).includes('/assets/'))
    return { url: api, servedByGateway: true, close: async () => {} };
  const front = await startPageFront(api);
  return { url: front.url, servedByGateway: false, close: () => front.close() };
}

/** Chromium on the page's origin: each open() a fresh context (nothing remembered between them). */
export interface PageBrowser {
  origin: PageOrigin;
  /** Opens `url` (a path on the origin) and waits until the page says it is ready. */
  open(url: string, options?: { viewport?: { width: number; height: number }; lang?: 'en' }): Promise<Page>;
  /** Closes every page opened so far (after each test). */
  closePages(): Promise<void>;
  /** Closes Chromium, then the origin's front if there is one (after all tests). */
  close(): Promise<void>;
}

export async function startPageBrowser(api: string): Promise<PageBrowser> {
  const origin = await servePage(api);
  let browser: Browser;
  try {
    browser = await launchChromium();
  } catch (e) {
    await origin.close();
    throw e;
  }
  const contexts: BrowserContext[] = [];
  return {
    origin,
    async open(url, { viewport = { width: 1024, height: 900 }, lang } = {}) {
      const context = await browser.newContext({ viewport });
      contexts.push(context);
      if (lang === 'en') await context.addInitScript(() => localStorage.setItem('lianzheng.lang', 'en'));
      const page = await context.newPage();
      await page.goto(origin.url + url);
      await page.waitForSelector('html[data-ready="true"]');
      return page;
    },
    async closePages() {
      for (const context of contexts.splice(0)) await context.close();
    },
    async close() {
      await browser.close();
      await origin.close();
    },
  };
}

/** The text of the page's main part that is inside the viewport: what a reader sees before scrolling. */
export async function firstScreen(p: Page): Promise<string> {
  return p.evaluate(() => {
    const out: string[] = [];
    const walker = document.createTreeWalker(
      document.querySelector('main') ?? document.body,
      NodeFilter.SHOW_TEXT,
    );
    while (walker.nextNode()) {
      const node = walker.currentNode;
      const range = document.createRange();
      range.selectNodeContents(node);
      const r = range.getBoundingClientRect();
      if (r.height > 0 && r.bottom > 0 && r.top < window.innerHeight) out.push(node.textContent ?? '');
    }
    return out.join('');
  });
}
