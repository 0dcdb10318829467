// The verifier page in real headless Chromium, against a fake gateway that serves the built page
// through the gateway's own `pages` plugin and real signed bundles (see verifier-page-support.ts).

import { mkdirSync, readFileSync } from 'node:fs';
import { checkpointKeyFingerprint, jwkThumbprint } from '@lianzheng/proof';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { firstScreen } from './page-gateway.ts';
import {
  ANCHOR,
  buildPage,
  chromiumAvailable,
  type FakeGateway,
  type Fixture,
  launchChromium,
  makeFixture,
  PROJECT,
  REPO,
  sha256Hex,
  startFakeGateway,
} from './verifier-page-support.ts';

const SHOTS = `${REPO}screenshots`;

let browser: Browser;
let gw: FakeGateway;
let fx: Fixture;
let context: BrowserContext;
let page: Page;
let consoleErrors: string[];

beforeAll(async () => {
  if (!chromiumAvailable()) throw new Error('Debian chromium is missing: run scripts/install-system-deps.sh');
  mkdirSync(SHOTS, { recursive: true });
  buildPage();
  fx = await makeFixture();
  gw = await startFakeGateway(fx);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await gw?.close();
});

async function open(
  path: string,
  opts: { lang?: 'en'; width?: number; height?: number; timeoutMs?: number; oneShotMaxBytes?: number } = {},
): Promise<Page> {
  context = await browser.newContext({
    viewport: { width: opts.width ?? 1024, height: opts.height ?? 900 },
    acceptDownloads: true,
  });
  if (opts.lang) await context.addInitScript(() => localStorage.setItem('lianzheng.lang', 'en'));
  if (opts.timeoutMs !== undefined || opts.oneShotMaxBytes !== undefined) {
    await context.addInitScript(
      (cfg) => {
        (globalThis as { lianzhengConfig?: object }).lianzhengConfig = cfg;
      },
      { timeoutMs: opts.timeoutMs, oneShotMaxBytes: opts.oneShotMaxBytes },
    );
  }
  page = await context.newPage();
  consoleErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(gw.url + path);
  await page.waitForSelector('html[data-ready="true"]');
  return page;
}

afterEach(async () => {
  gw.delayMs = 0;
  gw.down = false;
  await context?.close();
});

async function dropFile(p: Page, name: string, bytes: Buffer) {
  await p.setInputFiles('#file-input', { name, mimeType: 'application/octet-stream', buffer: bytes });
}

async function steps(p: Page, recordId?: string) {
  const scope = recordId ? `[data-record-id="${recordId}"] ` : '';
  return p.$$eval(`${scope}.checklist li[data-step]`, (els) =>
    els.map((el) => [el.getAttribute('data-step'), el.getAttribute('data-status')]),
  );
}

/** Whether an element is (at least partly) inside the viewport. */
async function onFirstScreen(p: Page, selector: string): Promise<boolean> {
  return p.$eval(selector, (el) => {
    const r = el.getBoundingClientRect();
    return r.height > 0 && r.bottom > 0 && r.top < window.innerHeight;
  });
}

async function noHorizontalScroll(p: Page) {
  return p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
}

describe('verifier page (fake gateway, real bundles, real Chromium)', () => {
  it('a notarised file: hashed in the browser, never uploaded, every check passes', async () => {
    const p = await open('/');
    expect(await p.locator('h1').textContent()).toContain('核验');
    const before = gw.requests.length;
    await dropFile(p, fx.docs.contract.name, fx.docs.contract.bytes);
    await p.waitForSelector('[data-banner="verdict-ok"]');
    const digest = await p.getAttribute('.digest', 'data-sha256');
    expect(digest).toBe(fx.docs.contract.sha256);
    // Only the digest travelled: the requests are the look-up, the keys, the ledger transaction and
    // the project's name.
    const asked = gw.requests.slice(before);
    expect(asked).toContain(`/v1/verify/${fx.docs.contract.sha256}`);
    const allowed = ['/v1/verify/', '/v1/keys', '/v1/ledger/tx/', `/v1/projects/${PROJECT.id}`];
    expect(asked.filter((u) => !allowed.some((a) => u.startsWith(a)))).toEqual([]);
    expect(await steps(p)).toEqual([
      ['digest', 'pass'],
      ['details', 'pass'],
      ['leaf', 'pass'],
      ['inclusion', 'pass'],
      ['checkpoint', 'pass'],
      ['receipt', 'pass'],
      ['ledger', 'pass'],
      ['anchor', 'skipped'],
      ['timestamp', 'skipped'],
      // The fixture's bundles carry no cosignatures: no witness is configured, a normal state.
      ['witnesses', 'skipped'],
    ]);
    const card = p.locator('article.record');
    expect(await card.locator('h2').textContent()).toContain('合同');
    expect(await card.textContent()).toContain('嵌入式单节点账本');
    expect(await card.textContent()).toContain('¥1,500,000.00');
    // The embedded ledger is not "on chain": the badge and the headline say what it is.
    expect(await card.locator('.badge[data-status="recorded"]').textContent()).toBe('已记入单机账本');
    expect(await p.textContent('main')).not.toContain('已上链');
    expect(await p.textContent('[data-banner="verdict-ok"]')).toContain('网关的单机账本');
    expect(await card.locator('[data-assurance="time"]').textContent()).toContain('网关自己的时钟');
    // The address is now the result's own, to share.
    expect(new URL(p.url()).pathname).toBe(`/v/${fx.docs.contract.sha256}`);
    expect(await card.locator(`a[href="/p/${PROJECT.id}"]`).count()).toBe(1);
    expect(consoleErrors).toEqual([]);
    // Screen readers hear the verdict once, from the one live region.
    await p.waitForFunction(() => (document.getElementById('announcer')?.textContent ?? '').length > 0);
    expect(await p.textContent('#announcer')).toContain('已存证');
    await p.screenshot({ path: `${SHOTS}/verify-ok.png`, fullPage: true });
  });

  it('a large file is streamed through proof/createSha256 with a progress bar and its speed', async () => {
    const p = await open('/', { oneShotMaxBytes: 0 });
    const big = Buffer.alloc(48 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE((i * 2654435761) >>> 0, i);
    await dropFile(p, 'big.bin', big);
    await p.waitForSelector('progress.progress');
    await p.waitForFunction(() => /\/秒/.test(document.querySelector('.progress-text')?.textContent ?? ''));
    await p.screenshot({ path: `${SHOTS}/verify-hashing.png` });
    await p.waitForSelector('[data-banner="not-found"]', { timeout: 60_000 });
    expect(await p.getAttribute('html', 'data-hash-method')).toBe('stream');
    expect(await p.getAttribute('.digest', 'data-sha256')).toBe(sha256Hex(big));
    // The one-shot WebCrypto path gives the same digest.
    const q = await open('/');
    await dropFile(q, 'big.bin', big);
    await q.waitForSelector('[data-banner="not-found"]', { timeout: 60_000 });
    expect(await q.getAttribute('html', 'data-hash-method')).toBe('webcrypto');
    expect(await q.getAttribute('.digest', 'data-sha256')).toBe(sha256Hex(big));
  });

  it('a modified file (one byte changed): "this file has not been notarised"', async () => {
    const p = await open('/');
    const bytes = Buffer.from(fx.docs.contract.bytes);
    bytes[bytes.length - 2] = (bytes[bytes.length - 2] ?? 0) ^ 1;
    await dropFile(p, fx.docs.contract.name, bytes);
    await p.waitForSelector('[data-banner="not-found"]');
    expect(await p.locator('[data-banner="not-found"]').getAttribute('role')).toBe('alert');
    expect(await p.locator('article.record').count()).toBe(0);
    await p.screenshot({ path: `${SHOTS}/verify-not-found.png`, fullPage: true });
  });

  it('a tampered inclusion proof: red, and the failing step is named', async () => {
    const p = await open('/');
    await dropFile(p, fx.docs.tamperedPath.name, fx.docs.tamperedPath.bytes);
    await p.waitForSelector('[data-banner="verdict-fail"]');
    expect(await p.getAttribute('[data-failed-step]', 'data-failed-step')).toBe('inclusion');
    const s = Object.fromEntries(await steps(p));
    expect(s.digest).toBe('pass');
    expect(s.inclusion).toBe('fail');
    expect(await p.locator('li[data-step="inclusion"] .check-code').textContent()).toContain('BAD_PROOF');
    await p.screenshot({ path: `${SHOTS}/verify-tampered.png`, fullPage: true });
  });

  it('a bundle whose ledger transaction records another tree: "the proof does not match the ledger"', async () => {
    const p = await open('/');
    await dropFile(p, fx.docs.tamperedLedger.name, fx.docs.tamperedLedger.bytes);
    await p.waitForSelector('[data-banner="verdict-fail"]');
    expect(await p.getAttribute('[data-failed-step]', 'data-failed-step')).toBe('ledger');
    expect(await p.locator('li[data-step="ledger"] .check-code').textContent()).toContain('LEDGER_MISMATCH');
  });

  it('an anchored record: the anchor is checked through the gateway and printed on the certificate', async () => {
    const p = await open('/');
    await dropFile(p, fx.docs.noticeNew.name, fx.docs.noticeNew.bytes);
    await p.waitForSelector('[data-banner="verdict-ok"]');
    expect(Object.fromEntries(await steps(p))).toMatchObject({ ledger: 'pass', anchor: 'pass' });
    expect(await p.textContent('article.record .badge-anchored')).toBe('已锚定公链');
    // Read through the gateway's proxy, for the operator's pinned contract.
    expect(gw.requests.some((r) => r.startsWith(`/v1/anchor/tx/${ANCHOR.txHash}`))).toBe(true);
    const cert = await open(`/r/${fx.records[1]!.id}`, { lang: 'en' });
    await cert.waitForSelector('li[data-step="anchor"][data-status="pass"]');
    expect(await cert.textContent('.certificate')).toContain(ANCHOR.txHash);
    await cert.emulateMedia({ media: 'print' });
    const pdf = await cert.pdf({ format: 'A4', printBackground: true, preferCSSPageSize: true });
    expect((pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? []).length).toBe(1);
  });

  it('a record not yet on the ledger says so, without failing', async () => {
    const p = await open('/');
    await dropFile(p, fx.docs.pending.name, fx.docs.pending.bytes);
    await p.waitForSelector('[data-banner="verdict-pending"]');
    const s = Object.fromEntries(await steps(p));
    expect(s).toMatchObject({
      digest: 'pass',
      leaf: 'pass',
      receipt: 'pass',
      inclusion: 'skipped',
      ledger: 'skipped',
    });
  });

  it('a superseded version links to the newer one, and flags are in plain words', async () => {
    const p = await open('/');
    await dropFile(p, fx.docs.noticeOld.name, fx.docs.noticeOld.bytes);
    await p.waitForSelector('[data-banner="verdict-superseded"]');
    const newer = fx.records[1]!.id;
    expect(await p.locator(`[data-note="superseded"] a[href="/r/${newer}"]`).count()).toBe(1);
    expect(await p.locator(`[data-banner="verdict-superseded"] a[href="/r/${newer}"]`).count()).toBe(1);
    expect(await p.locator('[data-banner="verdict-ok"]').count()).toBe(0);

    const q = await open('/');
    await dropFile(q, fx.docs.payment.name, fx.docs.payment.bytes);
    await q.waitForSelector('[data-banner="verdict-ok"]');
    const flags = await q.locator('.flags li').allTextContents();
    expect(flags).toHaveLength(2);
    expect(flags.join(' ')).toContain('先付款后验收');
    // The flags are summed up beside the verdict too: findings, not verdicts.
    expect(await q.textContent('.flag-summary')).toContain('不是结论');
    expect(await q.locator('.flag-summary li').count()).toBe(2);
  });

  describe('the first screen of a 360×800 phone', () => {
    const phone = { width: 360, height: 800 };

    it('a plain record on the embedded ledger: verified, and never "on chain"', async () => {
      const p = await open(`/v/${fx.docs.contract.sha256}`, phone);
      await p.waitForSelector('[data-banner="verdict-ok"]');
      const seen = await firstScreen(p);
      expect(seen).toContain('所有核验均已通过');
      expect(seen).toContain('网关的单机账本');
      expect(seen).not.toContain('已上链');
      expect(await p.textContent('main')).not.toContain('已上链');
      expect(await noHorizontalScroll(p)).toBe(true);
      await p.screenshot({ path: `${SHOTS}/phone-first-screen-embedded.png` });
    });

    it('a withdrawn record: 已撤回, the reason and the date, not the green verdict', async () => {
      const withdrawn = fx.records[7]!;
      const withdrawal = fx.records[8]!;
      const p = await open(`/v/${fx.docs.noticeWithdrawn.sha256}`, phone);
      await p.waitForSelector('[data-banner="verdict-withdrawn"]');
      expect(await p.locator('[data-banner="verdict-ok"]').count()).toBe(0);
      const seen = await firstScreen(p);
      expect(seen).toContain('已撤回');
      expect(seen).toContain(withdrawal.details.reason!);
      expect(seen).toContain('2025/06/12');
      expect(await onFirstScreen(p, `[data-banner="verdict-withdrawn"] a[href="/r/${withdrawal.id}"]`)).toBe(
        true,
      );
      expect(await p.getAttribute('[data-banner="verdict-withdrawn"]', 'role')).toBe('alert');
      expect(
        await p
          .locator(`article.record[data-record-id="${withdrawn.id}"] [data-standing="withdrawn"]`)
          .count(),
      ).toBe(1);
      expect(await noHorizontalScroll(p)).toBe(true);
      await p.screenshot({ path: `${SHOTS}/phone-first-screen-withdrawn.png` });

      // Dropped on the home page, the result is scrolled to: the same first screen.
      const q = await open('/', phone);
      await dropFile(q, fx.docs.noticeWithdrawn.name, fx.docs.noticeWithdrawn.bytes);
      await q.waitForSelector('[data-banner="verdict-withdrawn"]');
      expect(await onFirstScreen(q, '[data-banner="verdict-withdrawn"]')).toBe(true);
      expect(await firstScreen(q)).toContain(withdrawal.details.reason!);
      expect(new URL(q.url()).pathname).toBe(`/v/${fx.docs.noticeWithdrawn.sha256}`);
      await q.screenshot({ path: `${SHOTS}/phone-first-screen-withdrawn-dropped.png` });

      // The certificate says it at the top.
      const cert = await open(`/r/${withdrawn.id}`, phone);
      await cert.waitForSelector('[data-banner="standing-withdrawn"]');
      expect(await onFirstScreen(cert, '[data-banner="standing-withdrawn"]')).toBe(true);
      expect(await firstScreen(cert)).toContain(withdrawal.details.reason!);
      await cert.screenshot({ path: `${SHOTS}/phone-first-screen-withdrawn-certificate.png` });
    });

    it('a superseded record: 已被新版本取代, with the link to the new version', async () => {
      const newer = fx.records[1]!.id;
      const p = await open(`/v/${fx.docs.noticeOld.sha256}`, phone);
      await p.waitForSelector('[data-banner="verdict-superseded"]');
      expect(await firstScreen(p)).toContain('已被新版本取代');
      expect(await onFirstScreen(p, `[data-banner="verdict-superseded"] a[href="/r/${newer}"]`)).toBe(true);
      await p.screenshot({ path: `${SHOTS}/phone-first-screen-superseded.png` });
      const cert = await open(`/r/${fx.records[0]!.id}`, phone);
      await cert.waitForSelector('[data-banner="standing-superseded"]');
      expect(await onFirstScreen(cert, `[data-banner="standing-superseded"] a[href="/r/${newer}"]`)).toBe(
        true,
      );
    });

    it('a record with rule flags shows them on the first screen, as findings', async () => {
      const p = await open(`/v/${fx.docs.payment.sha256}`, phone);
      await p.waitForSelector('[data-banner="verdict-ok"]');
      expect(await onFirstScreen(p, '.flag-summary')).toBe(true);
      expect(await firstScreen(p)).toContain('先付款后验收');
    });

    it('a shared address of a digest that is not notarised says so', async () => {
      const p = await open(`/v/${'0'.repeat(64)}`, phone);
      await p.waitForSelector('[data-banner="not-found"]');
      expect(await firstScreen(p)).toContain('此文件未经存证');
    });
  });

  it('a pasted hash with spaces and upper case is normalised; a bad one is explained', async () => {
    const p = await open('/');
    const messy = ` ${fx.docs.contract.sha256.toUpperCase().replace(/(.{8})/g, '$1 ')}\n`;
    await p.fill('#sha256-input', messy.slice(0, 40));
    await p.click('#sha256-submit');
    await p.waitForSelector('#sha256-error');
    expect(await p.getAttribute('#sha256-input', 'aria-invalid')).toBe('true');
    expect(await p.evaluate(() => document.activeElement?.id)).toBe('sha256-input');
    await p.fill('#sha256-input', messy);
    await p.press('#sha256-input', 'Enter');
    await p.waitForSelector('[data-banner="verdict-ok"]');
    expect(await p.inputValue('#sha256-input')).toBe(fx.docs.contract.sha256);
    expect(await p.locator('#sha256-error').count()).toBe(0);
  });

  it('an empty file gets a clear message, and nothing is asked of the gateway', async () => {
    const p = await open('/');
    const before = gw.requests.length;
    await dropFile(p, 'empty.pdf', Buffer.alloc(0));
    await p.waitForSelector('[data-banner="empty-file"]');
    expect(gw.requests.length).toBe(before);
  });

  it('a slow gateway times out with a message and a retry that works', async () => {
    const p = await open('/', { timeoutMs: 800 });
    gw.delayMs = 3000;
    await dropFile(p, fx.docs.contract.name, fx.docs.contract.bytes);
    await p.waitForSelector('[data-banner="error-timeout"]', { timeout: 5000 });
    expect(await p.locator('.spinner').count()).toBe(0);
    await p.screenshot({ path: `${SHOTS}/verify-timeout.png`, fullPage: true });
    gw.delayMs = 0;
    await p.click('[data-action="retry"]');
    await p.waitForSelector('[data-banner="verdict-ok"]');
  });

  it('a gateway that is down gets a network message, never an endless spinner', async () => {
    const p = await open('/');
    gw.down = true;
    await p.fill('#sha256-input', fx.docs.contract.sha256);
    await p.click('#sha256-submit');
    await p.waitForSelector('[data-banner="error-network"]', { timeout: 5000 });
    gw.down = false;
    await p.click('[data-action="retry"]');
    await p.waitForSelector('[data-banner="verdict-ok"]');
  });

  it('switches to English and remembers the choice', async () => {
    const p = await open('/');
    expect(await p.getAttribute('html', 'lang')).toBe('zh-CN');
    await p.click('#lang-switch');
    expect(await p.getAttribute('html', 'lang')).toBe('en');
    expect(await p.locator('h1').textContent()).toBe('Check whether a file has been notarised');
    expect(await p.evaluate(() => document.activeElement?.id)).toBe('lang-switch');
    await p.reload();
    await p.waitForSelector('html[data-ready="true"]');
    expect(await p.getAttribute('html', 'lang')).toBe('en');
    await dropFile(p, fx.docs.contract.name, fx.docs.contract.bytes);
    await p.waitForSelector('[data-banner="verdict-ok"]');
    expect(await p.locator('article.record').textContent()).toContain('embedded single-node ledger');
    await p.screenshot({ path: `${SHOTS}/verify-ok-en.png`, fullPage: true });
    await p.click('#lang-switch');
    expect(await p.getAttribute('html', 'lang')).toBe('zh-CN');
    // The result survives the switch, redrawn in the other language.
    expect(await p.locator('[data-banner="verdict-ok"]').count()).toBe(1);
  });

  it('works on a 360-px phone screen without sideways scrolling', async () => {
    const p = await open('/', { width: 360 });
    expect(await noHorizontalScroll(p)).toBe(true);
    await dropFile(p, fx.docs.payment.name, fx.docs.payment.bytes);
    await p.waitForSelector('[data-banner="verdict-ok"]');
    expect(await noHorizontalScroll(p)).toBe(true);
    await p.screenshot({ path: `${SHOTS}/verify-phone.png`, fullPage: true });
    const cert = await open(`/r/${fx.records[2]!.id}`, { width: 360 });
    await cert.waitForSelector('.checklist li[data-status]');
    expect(await noHorizontalScroll(cert)).toBe(true);
    await cert.screenshot({ path: `${SHOTS}/certificate-phone.png`, fullPage: true });
    const proj = await open(`/p/${PROJECT.id}`, { width: 360 });
    await proj.waitForSelector('.timeline');
    expect(await noHorizontalScroll(proj)).toBe(true);
    await proj.screenshot({ path: `${SHOTS}/project-phone.png`, fullPage: true });
  });

  it('is usable by keyboard: skip link, language switch, file picker, digest field, in that order', async () => {
    const p = await open('/');
    const order: string[] = [];
    for (let i = 0; i < 6; i++) {
      await p.keyboard.press('Tab');
      order.push(
        await p.evaluate(() => {
          const el = document.activeElement as HTMLElement | null;
          return el?.id || el?.className || el?.tagName || '';
        }),
      );
    }
    expect(order).toEqual([
      'skip-link',
      'brand',
      'lang-switch',
      'file-input',
      'sha256-input',
      'sha256-submit',
    ]);
    // Every form control has an accessible name.
    const unnamed = await p.$$eval(
      'input, button',
      (els) =>
        els.filter((el) => {
          const id = el.id;
          const label = id ? document.querySelector(`label[for="${id}"]`) : null;
          return !label && !el.getAttribute('aria-label') && !el.textContent?.trim();
        }).length,
    );
    expect(unnamed).toBe(0);
  });

  it('downloads the evidence bundle exactly as the gateway gave it', async () => {
    const p = await open('/');
    await dropFile(p, fx.docs.contract.name, fx.docs.contract.bytes);
    await p.waitForSelector('[data-banner="verdict-ok"]');
    // The record says which signatures its bundle carries (read from the bundle and the keys).
    expect(await p.textContent('article.record [data-suites]')).toBe('回执 ES256；检查点 Ed25519');
    const [download] = await Promise.all([p.waitForEvent('download'), p.click('[data-action="download"]')]);
    const path = await download.path();
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(fx.records[2]!.bundle);
    expect(download.suggestedFilename()).toBe(`lianzheng-evidence-${fx.records[2]!.id}.json`);
  });

  it('the certificate: public fields, every check, a QR code back to itself, one A4 page in print', async () => {
    const rec = fx.records[2]!;
    const p = await open(`/r/${rec.id}`);
    await p.waitForSelector('.checklist li[data-status]');
    expect(await p.locator('h1').textContent()).toContain('存证证书');
    const s = Object.fromEntries(await steps(p));
    expect(s).toMatchObject({
      digest: 'pass',
      leaf: 'pass',
      inclusion: 'pass',
      checkpoint: 'pass',
      receipt: 'pass',
      ledger: 'pass',
    });
    expect(await p.getAttribute('.certificate .digest', 'data-sha256')).toBe(rec.record.digests.sha256);
    expect(await p.locator('svg.qr path').count()).toBe(1);
    expect(await p.getAttribute('svg.qr', 'aria-label')).toBeTruthy();
    expect(await p.textContent('.cert-footer')).toContain(`${gw.url}/r/${rec.id}`);
    // The keys that signed it, as short fingerprints a trust file (GET /v1/trust.json) names.
    const prints = (await p.textContent('.certificate .key-prints')) ?? '';
    const thumbprint = jwkThumbprint(fx.keys.jwks.keys[0] as Record<string, unknown>);
    expect(prints).toContain(`回执密钥 receipt-test-1 · ${thumbprint.slice(0, 16)}`);
    expect(prints).toContain(
      `检查点密钥 lianzheng.test/log · ${checkpointKeyFingerprint(fx.keys.checkpointKeys[0]!).slice(0, 16)}`,
    );
    // The signatures this bundle carries, read from it: an ES256 receipt, an Ed25519 checkpoint line.
    expect(await p.textContent('.certificate [data-suites]')).toBe('；签名算法：回执 ES256；检查点 Ed25519');
    await p.screenshot({ path: `${SHOTS}/certificate.png`, fullPage: true });
    await p.emulateMedia({ media: 'print' });
    expect(await p.locator('.site-header').isVisible()).toBe(false);
    expect(await p.locator('[data-action="print"]').isVisible()).toBe(false);
    await p.screenshot({ path: `${SHOTS}/certificate-print.png`, fullPage: true });
    const pdf = await p.pdf({ format: 'A4', printBackground: true, preferCSSPageSize: true });
    const pages = pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? [];
    expect(pages.length).toBe(1);
    expect(consoleErrors).toEqual([]);
    // The longest certificate of the fixture (two flags) in the longer language still fits.
    const q = await open(`/r/${fx.records[3]!.id}`, { lang: 'en' });
    await q.waitForSelector('.checklist li[data-status]');
    await q.emulateMedia({ media: 'print' });
    const pdf2 = await q.pdf({ format: 'A4', printBackground: true, preferCSSPageSize: true });
    expect((pdf2.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? []).length).toBe(1);
    await q.screenshot({ path: `${SHOTS}/certificate-print-en.png`, fullPage: true });
  });

  it('the certificate checks a file the reader holds, in the browser', async () => {
    const rec = fx.records[2]!;
    const p = await open(`/r/${rec.id}`);
    await p.waitForSelector('.checklist li[data-status]');
    const before = gw.requests.length;
    await p.setInputFiles('#cert-file-input', {
      name: 'a.pdf',
      mimeType: 'application/pdf',
      buffer: fx.docs.contract.bytes,
    });
    await p.waitForSelector('[data-banner="file-match"]');
    await p.setInputFiles('#cert-file-input', {
      name: 'b.pdf',
      mimeType: 'application/pdf',
      buffer: fx.docs.payment.bytes,
    });
    await p.waitForSelector('[data-banner="file-mismatch"]');
    expect(gw.requests.length).toBe(before);
    await p.waitForFunction(() =>
      (document.getElementById('announcer')?.textContent ?? '').includes('b.pdf'),
    );
    // A record with an SM3 digest: the file's SM3, computed in the same pass, is checked too.
    const withdrawal = fx.records[8]!;
    expect(withdrawal.record.digests.sm3).toMatch(/^[0-9a-f]{64}$/);
    const q = await open(`/r/${withdrawal.id}`);
    await q.waitForSelector('.checklist li[data-status]');
    await q.setInputFiles('#cert-file-input', {
      name: 'c.pdf',
      mimeType: 'application/pdf',
      buffer: fx.docs.withdrawal.bytes,
    });
    await q.waitForSelector('[data-banner="file-match"]');
    expect(await q.textContent('[data-banner="file-match"]')).toContain('SHA-256 与 SM3 摘要均相符');
    await q.setInputFiles('#cert-file-input', {
      name: 'd.pdf',
      mimeType: 'application/pdf',
      buffer: fx.docs.payment.bytes,
    });
    await q.waitForSelector('[data-banner="file-mismatch"]');
  });

  it('a certificate that does not exist, or a malformed id, says so', async () => {
    const p = await open('/r/0190d3c2-7b1e-7c3a-8f00-0000000fffff');
    await p.waitForSelector('[data-banner="not-found"]');
    const q = await open('/r/%3Cscript%3E');
    await q.waitForSelector('[data-banner="bad-id"]');
  });

  it("the project's public notice: name, region, level, stage timeline, flags and a QR code", async () => {
    const p = await open(`/p/${PROJECT.id}`);
    await p.waitForSelector('.timeline');
    expect(await p.locator('h1').textContent()).toBe(PROJECT.name);
    const text = (await p.textContent('main')) ?? '';
    expect(text).toContain(PROJECT.regionCode);
    expect(text).toContain('C 级');
    const stages = await p.$$eval('.stage', (els) => els.map((el) => el.getAttribute('data-stage')));
    expect(stages).toEqual([
      'tender',
      'contract',
      'construction',
      'change',
      'acceptance',
      'payment',
      'notice',
    ]);
    expect(await p.locator('.flags li').count()).toBe(3);
    expect(await p.locator(`.flags a[href="/r/${fx.records[3]!.id}"]`).count()).toBe(2);
    // A flag the facts have answered stays, shown as resolved: by which record, and when.
    const resolved = p.locator('.flags li.flag-resolved');
    expect(await resolved.count()).toBe(1);
    expect(await resolved.textContent()).toContain('已解决');
    expect(await resolved.textContent()).toContain('工期拖延');
    expect(await resolved.locator(`[data-resolved-by="${fx.records[4]!.id}"]`).count()).toBe(1);
    // Records on the embedded ledger are never "on chain" on the notice either.
    expect(await p.locator('.timeline .badge[data-status="recorded"]').first().textContent()).toBe(
      '已记入单机账本',
    );
    expect(await p.locator('svg.qr').count()).toBe(1);
    expect(await p.textContent('.project .key-prints')).toContain('receipt-test-1');
    expect(await p.title()).toContain(PROJECT.name);
    await p.screenshot({ path: `${SHOTS}/project.png`, fullPage: true });
    await p.emulateMedia({ media: 'print' });
    await p.screenshot({ path: `${SHOTS}/project-print.png`, fullPage: true });
    const missing = await open('/p/no-such-project');
    await missing.waitForSelector('[data-banner="not-found"]');
  });

  it('runs under the strict CSP with no violations', async () => {
    const p = await open('/');
    const res = await p.request.get(`${gw.url}/`);
    const csp = res.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    const violations: string[] = [];
    await p.exposeFunction('reportViolation', (v: string) => violations.push(v));
    await p.evaluate(() =>
      document.addEventListener('securitypolicyviolation', (e) =>
        (window as unknown as { reportViolation(v: string): void }).reportViolation(e.violatedDirective),
      ),
    );
    await dropFile(p, fx.docs.contract.name, fx.docs.contract.bytes);
    await p.waitForSelector('[data-banner="verdict-ok"]');
    await p.click('#lang-switch');
    expect(violations).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});
