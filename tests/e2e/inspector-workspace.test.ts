// The inspector's workspace in Chromium against a real gateway (issue #22): signing in through
// the development issuer's authorisation code + PKCE flow, the region's projects with their open
// flags, the flag dashboard, a project's full trail with its restricted details, a certificate
// link, the CSV download (parsed back); the token nowhere in storage or the address and gone after
// a reload; and an inspector of another region, on a phone, who sees the project's public trail
// and nothing restricted. Screenshots go to screenshots/ (looked at by hand).

import fs from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { parse } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../gateway/src/app.ts';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { DEMO_PROJECT } from '../../gateway/src/cli/demo.ts';
import { testConfig } from '../../gateway/src/config.ts';
import { startTestDatabase, type TestDatabase } from '../integration/pipeline-support.ts';
import { buildPage, chromiumAvailable, launchChromium, REPO } from './verifier-page-support.ts';
import { seedWorkspace, type WorkspaceFixture } from './workspace-fixture.ts';

const SHOTS = `${REPO}screenshots`;
let db: TestDatabase;
let app: FastifyInstance;
let base = '';
let browser: Browser;
let fx: WorkspaceFixture;
const cspViolations: string[] = [];

async function newPage(viewport: { width: number; height: number }): Promise<Page> {
  const context = await browser.newContext({ viewport, acceptDownloads: true, locale: 'zh-CN' });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (/Content.Security.Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  return page;
}

/** From /inspect through the dev issuer's page and back, signed in as `account`. */
async function signIn(page: Page, account: string): Promise<void> {
  await page.goto(`${base}/inspect`);
  await page.click('#ws-sign-in');
  await page.waitForURL(/\/dev\/sign-in\?/);
  expect(page.url()).toContain('code_challenge_method=S256');
  await page.screenshot({ path: `${SHOTS}/workspace-dev-sign-in.png` });
  await page.click(`button[data-account="${account}"]`);
  await page.waitForSelector('html[data-workspace="signed-in"]');
  await page.waitForSelector('#ws-summary');
}

beforeAll(async () => {
  if (!chromiumAvailable()) throw new Error('Debian chromium is missing: run scripts/install-system-deps.sh');
  await fs.mkdir(SHOTS, { recursive: true });
  buildPage();
  db = await startTestDatabase();
  const config = testConfig({ dataDir: db.dir, sealIntervalMs: 20, devSignIn: true });
  app = buildApp({ config, db: db.pool });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const admin = await issueDevToken(await loadDevIssuerKey(config.keysDir), {
    role: 'admin',
    audience: config.oidc.audience,
  });
  fx = await seedWorkspace(base, admin, {
    secretAmount: '7310000123',
    delegate: 'finance-platform',
    elsewhereRecord: true,
  });
  await app.pipeline.batcher.waitForRecorded(3);
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await db?.stop();
});

describe("the inspector's workspace in Chromium", () => {
  it("signs an inspector in and shows the region's projects, the dashboard, a trail and the CSV", async () => {
    const page = await newPage({ width: 1280, height: 900 });
    await signIn(page, 'inspector-620100');
    // The code is gone from the address; the token is in no storage a script could read.
    expect(new URL(page.url()).pathname).toBe('/inspect');
    expect(page.url()).not.toContain('code=');
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
    expect(stored).not.toMatch(/eyJ/); // no JWT
    expect(stored).not.toContain('verifier');
    expect(await page.textContent('#ws-scope')).toContain('620100');
    const listed = await page.$$eval('a[data-project]', (as) =>
      as.map((a) => a.getAttribute('data-project')),
    );
    expect(listed).toEqual([DEMO_PROJECT.id]);
    const open = Number(await page.getAttribute('[data-open-flags]', 'data-open-flags'));
    expect(open).toBeGreaterThan(0);
    expect(await page.textContent('.ws-dash')).toContain('PAYMENT_WITHOUT_CONTRACT');
    await page.screenshot({ path: `${SHOTS}/workspace-desktop-zh.png`, fullPage: true });

    await page.click(`a[data-project="${DEMO_PROJECT.id}"]`);
    await page.waitForSelector('.ws-trail');
    expect(await page.textContent('#ws-project-name')).toBe(DEMO_PROJECT.name);
    const trail = (await page.textContent('.ws-trail'))!;
    expect(trail).toContain(fx.secretTitle);
    expect(await page.getAttribute('.ws-trail [data-amount]', 'data-amount')).toBe(fx.secretAmount);
    expect(await page.$(`.ws-trail a[href="/r/${fx.ids.payment}"]`)).not.toBeNull();
    expect(await page.$$('.ws-flags [data-facts="shown"]')).not.toHaveLength(0);
    // The delegation is in the trail, with who granted it (the owner and the region's inspectors).
    const delegates = (await page.textContent('.ws-delegates'))!;
    expect(delegates).toContain('finance-platform');
    expect(delegates).toContain('dev:admin');
    await page.screenshot({ path: `${SHOTS}/workspace-project-desktop-zh.png`, fullPage: true });

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('button[data-csv="records.csv"]'),
    ]);
    const bytes = await fs.readFile((await download.path())!);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const rows: Record<string, string>[] = parse(bytes, { bom: true, columns: true });
    expect(rows.find((r) => r.id === fx.ids.payment)).toMatchObject({
      title: fx.secretTitle,
      amount: fx.secretAmount,
    });

    // Back without a reload keeps the sign-in; a reload ends it.
    await page.click('#ws-back');
    await page.waitForSelector('a[data-project]');
    expect(await page.getAttribute('html', 'data-workspace')).toBe('signed-in');
    await page.reload();
    await page.waitForSelector('#ws-sign-in');
    expect(await page.getAttribute('html', 'data-workspace')).toBe('signed-out');
    await page.context().close();
  }, 120_000);

  it('an inspector of another region, on a phone, sees other projects and nothing restricted of this one', async () => {
    const page = await newPage({ width: 390, height: 844 });
    await signIn(page, 'inspector-630000');
    const listed = await page.$$eval('a[data-project]', (as) =>
      as.map((a) => a.getAttribute('data-project')),
    );
    expect(listed).toEqual([fx.elsewhere.id]);
    expect(await page.textContent('main')).not.toContain(DEMO_PROJECT.name);
    // The page never scrolls sideways; wide tables scroll inside their own box.
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await page.screenshot({ path: `${SHOTS}/workspace-phone-zh.png`, fullPage: true });

    // The demo project's trail, opened inside the workspace (a reload would sign out).
    await page.evaluate((id) => {
      history.pushState(null, '', `/inspect/p/${id}`);
      window.dispatchEvent(new PopStateEvent('popstate'));
    }, DEMO_PROJECT.id);
    await page.waitForSelector('.ws-trail');
    const text = (await page.textContent('main'))!;
    expect(text).toContain('村务公开'); // the public record's title is public
    expect(text).not.toContain(fx.secretTitle);
    expect(text).not.toContain(fx.secretAmount);
    expect(await page.$$('.ws-trail [data-amount]')).toHaveLength(0);
    expect(await page.textContent('.ws-delegates')).toContain('finance-platform');
    expect(text).not.toContain('dev:admin'); // who granted it is not for another region
    // The payment's flag rests on restricted facts: none shown. (An overdue milestone's facts —
    // the public plan's dates — are public, and shown.)
    const paymentFlags = await page.$$eval(
      '.ws-flags tbody tr',
      (rows, id) =>
        rows
          .filter((r) => r.querySelector(`a[href="/r/${id}"]`))
          .map((r) => r.querySelector('[data-facts="shown"]') !== null),
      fx.ids.payment,
    );
    expect(paymentFlags.length).toBeGreaterThan(0);
    expect(paymentFlags.every((shown) => !shown)).toBe(true);
    expect(text).toContain('受限，无权查看');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('button[data-csv="records.csv"]'),
    ]);
    const csv = await fs.readFile((await download.path())!, 'utf8');
    expect(csv).not.toContain(fx.secretAmount);
    expect(csv).not.toContain(fx.secretTitle);
    await page.screenshot({ path: `${SHOTS}/workspace-project-phone-zh.png`, fullPage: true });

    await page.click('#lang-switch');
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === "Inspector's workspace");
    expect(await page.textContent('main')).toContain('Restricted: not yours to read');
    await page.screenshot({ path: `${SHOTS}/workspace-project-phone-en.png`, fullPage: true });
    await page.context().close();
  }, 120_000);

  it('ran under the page’s Content-Security-Policy without a violation', () => {
    expect(cspViolations).toEqual([]);
  });
});
