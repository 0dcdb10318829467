// Issue #21 in real Chromium at 360×800, against the gateway as `npm start` runs it (its demo project
// seeded with display names): the notice page's first screen names the project, its owner and its
// milestones in Chinese — no English slug, no English parenthesis in the Chinese name — with the ids
// in small type; the timeline shows public amounts and never a restricted one; the certificate of a
// payment names the contract it is against and the version it replaced (links), the milestone by
// name and the time-stamp's time; a replaced contract's certificate links its successor; each check
// carries a plain explanation and a details toggle. Screenshots go to /tmp/lz-names-shots.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_NAMES, DEMO_ORG, DEMO_PROJECT } from '../../gateway/src/cli/demo.ts';
import {
  firstScreen,
  type PageBrowser,
  startPageBrowser,
  submitEvidence,
  waitRecorded,
} from './page-gateway.ts';
import { type ReadmeGateway, startReadmeGateway } from './readme-gateway.ts';
import { buildPage, chromiumAvailable, sha256Hex } from './verifier-page-support.ts';

const SHOTS = process.env.LZ_SHOTS_DIR ?? '/tmp/lz-names-shots';
const PHONE = { width: 360, height: 800 };
let gateway: ReadmeGateway | undefined;
let api = '';
let pages: PageBrowser | undefined;
let unitToken = '';
const ids: Record<string, string> = {};
const tag = randomBytes(6).toString('hex');

// Amounts in fen: public ones must show on the notice, the restricted one never.
const PUBLIC_CONTRACT_FEN = '118000000'; // ¥1,180,000.00
const PUBLIC_PAYMENT_FEN = '35400000'; // ¥354,000.00
const RESTRICTED_FEN = '98765400'; // ¥987,654.00

const submit = (body: Record<string, unknown>) =>
  submitEvidence(api, unitToken, { sha256: sha256Hex(`${tag} ${JSON.stringify(body)}`), ...body });

beforeAll(async () => {
  if (!chromiumAvailable()) throw new Error('Debian chromium is missing: run scripts/install-system-deps.sh');
  await fs.mkdir(SHOTS, { recursive: true });
  buildPage();
  gateway = await startReadmeGateway({ prefix: 'lz-e2e-names-' });
  api = gateway.base;
  unitToken = await gateway.unitToken();
  ids.contractV1 = await submit({
    kind: 'contract',
    visibility: 'public',
    title: '施工合同（初版）',
    amount: '120000000',
  });
  ids.contract = await submit({
    kind: 'contract',
    visibility: 'public',
    title: '施工合同（修订版）',
    amount: PUBLIC_CONTRACT_FEN,
    supersedes: ids.contractV1,
  });
  ids.payment = await submit({
    kind: 'payment_approval',
    visibility: 'public',
    title: '路基进度款',
    amount: PUBLIC_PAYMENT_FEN,
    milestone: 'm1-subgrade',
    refs: [ids.contract],
  });
  ids.restricted = await submit({
    kind: 'change_order',
    visibility: 'restricted',
    title: `内部变更 ${tag}`,
    amount: RESTRICTED_FEN,
  });
  for (const id of Object.values(ids)) await waitRecorded(gateway, id);
  pages = await startPageBrowser(api);
});

afterAll(async () => {
  await pages?.close();
  await gateway?.stop();
});

afterEach(async () => {
  await pages?.closePages();
});

const open = (url: string, lang?: 'en'): Promise<Page> => pages!.open(url, { viewport: PHONE, lang });

const fitsWidth = (p: Page) => p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

describe('display names, public amounts and related records on a 360×800 phone', () => {
  it('the notice page names the project, its owner and milestones in Chinese, ids in small type', async () => {
    const page = await open(`/p/${DEMO_PROJECT.id}`);
    await page.waitForSelector('.timeline', { timeout: 20_000 });
    await page.screenshot({ path: `${SHOTS}/notice-phone-first-screen.png` });
    const seen = await firstScreen(page);
    expect(seen).toContain('城关镇五星村村道硬化工程');
    expect(seen).toContain(DEMO_NAMES.ownerOrgName.zh);
    // The Chinese title carries no English parenthesis; the English name is a subtitle of its own.
    const title = await page.$eval('#project-title', (el) => el.firstChild?.textContent ?? '');
    expect(title).toBe('城关镇五星村村道硬化工程');
    expect(title).not.toMatch(/[()（）A-Za-z]/);
    expect(await page.getAttribute('#project-title .cert-sub', 'lang')).toBe('en');
    // The owner's id stays, but as the small note beside the name, not as the name.
    expect(await page.textContent(`.id-note[data-id="${DEMO_ORG}"]`)).toContain(DEMO_ORG);
    const ownerName = await page.$eval(
      `.id-note[data-id="${DEMO_ORG}"]`,
      (el) => el.parentElement?.querySelector('.named-name')?.textContent,
    );
    expect(ownerName).toBe(DEMO_NAMES.ownerOrgName.zh);
    const milestones = await page.$$eval('.milestones li', (els) =>
      els.map((el) => el.querySelector('.named-name')?.textContent),
    );
    expect(milestones).toEqual(['路基', '路面']);
    // A flag names its milestone too (the demo's road surface is long overdue: its facts are public).
    const flags = (await (await fetch(`${api}/v1/projects/${DEMO_PROJECT.id}/flags`)).json()) as {
      flags: { code: string; detail?: { milestone?: string } }[];
    };
    const overdue = flags.flags.some((f) => f.detail?.milestone === 'm2-surface');
    expect(overdue).toBe(true);
    expect(await page.textContent('.flags')).toContain('路面（m2-surface）');
    expect(await fitsWidth(page)).toBe(true);
    await page.screenshot({ path: `${SHOTS}/notice-phone-full.png`, fullPage: true });
  });

  it('the timeline shows public amounts and milestone names, never a restricted amount', async () => {
    const page = await open(`/p/${DEMO_PROJECT.id}`);
    await page.waitForSelector('.timeline', { timeout: 20_000 });
    const payment = page.locator(`.stage-record[data-record-id="${ids.payment}"]`);
    expect(await payment.locator('.stage-amount').textContent()).toContain('¥354,000.00');
    expect(await payment.locator('.stage-milestone .named-name').textContent()).toBe('路基');
    const contract = page.locator(`.stage-record[data-record-id="${ids.contract}"]`);
    expect(await contract.locator('.stage-amount').textContent()).toContain('¥1,180,000.00');
    const restricted = page.locator(`.stage-record[data-record-id="${ids.restricted}"]`);
    expect(await restricted.count()).toBe(1);
    expect(await restricted.locator('.stage-amount').count()).toBe(0);
    const all = (await page.textContent('main')) ?? '';
    expect(all).not.toContain('¥987,654.00');
    expect(all).not.toContain(tag);
    // The demo's restricted contract (¥1,200,000.00) and payment (¥300,000.00) stay hidden too.
    expect(all).not.toContain('¥300,000.00');
    await page.locator(`.stage-record[data-record-id="${ids.payment}"]`).scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${SHOTS}/notice-phone-timeline.png` });
  });

  it('in English the notice reads the English names, with the Chinese ones beside them', async () => {
    const page = await open(`/p/${DEMO_PROJECT.id}`, 'en');
    await page.waitForSelector('.timeline', { timeout: 20_000 });
    const seen = await firstScreen(page);
    expect(seen).toContain(DEMO_NAMES.nameEn);
    expect(seen).toContain(DEMO_NAMES.ownerOrgName.en);
    expect(await page.textContent('#project-title .cert-sub')).toBe('城关镇五星村村道硬化工程');
    await page.screenshot({ path: `${SHOTS}/notice-phone-en.png` });
  });

  it("the payment's certificate: its contract, the milestone by name, the time-stamp's time", async () => {
    const page = await open(`/r/${ids.payment}`);
    await page.waitForSelector('.checklist li[data-status]', { timeout: 20_000 });
    await page.waitForSelector('[data-related="contract"]', { timeout: 20_000 });
    // The names arrive with the project, after the record itself.
    await page.waitForSelector(`.facts .id-note[data-id="${DEMO_ORG}"]`, { timeout: 20_000 });
    await page.screenshot({ path: `${SHOTS}/certificate-payment-first-screen.png` });
    const contract = page.locator('[data-related="contract"]');
    expect(await contract.getAttribute('data-related-id')).toBe(ids.contract);
    expect(await contract.locator('a').getAttribute('href')).toBe(`/r/${ids.contract}`);
    expect(await contract.textContent()).toContain('施工合同（修订版）');
    // The submitter and the project by name, their ids small beside them.
    const facts = (await page.textContent('.facts')) ?? '';
    expect(facts).toContain(DEMO_NAMES.ownerOrgName.zh);
    expect(facts).toContain('城关镇五星村村道硬化工程');
    expect(await page.locator('.facts .named-name', { hasText: '路基' }).count()).toBe(1);
    // The gateway time-stamps checkpoints when its TSA is on; the certificate then says when.
    const bundle = (await (await fetch(`${api}/v1/evidence/${ids.payment}`)).json()) as {
      bundle: { timestamp?: unknown };
    };
    if (bundle.bundle.timestamp) expect(facts).toContain('时间戳时间');
    // The related record is above the fold's end or one short scroll away; the names are on the first screen.
    const seen = await firstScreen(page);
    expect(seen).toContain('存证证书');
    expect(await fitsWidth(page)).toBe(true);
    await contract.scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${SHOTS}/certificate-payment-related.png` });
  });

  it("the replaced contract's certificate links its successor; the successor links what it replaced", async () => {
    const old = await open(`/r/${ids.contractV1}`);
    await old.waitForSelector('[data-related="supersededBy"]', { timeout: 20_000 });
    expect(await old.getAttribute('[data-related="supersededBy"]', 'data-related-id')).toBe(ids.contract);
    expect(await firstScreen(old)).toContain('已被新版本取代');
    await old.screenshot({ path: `${SHOTS}/certificate-superseded-first-screen.png` });
    await pages!.closePages();
    const current = await open(`/r/${ids.contract}`);
    await current.waitForSelector('[data-related="supersedes"]', { timeout: 20_000 });
    expect(await current.getAttribute('[data-related="supersedes"] a', 'href')).toBe(`/r/${ids.contractV1}`);
  });

  it("the result of a file's digest names the project, submitter and milestone", async () => {
    const ev = (await (await fetch(`${api}/v1/evidence/${ids.payment}`)).json()) as {
      bundle: { record: { digests: { sha256: string } } };
    };
    const page = await open(`/v/${ev.bundle.record.digests.sha256}`);
    await page.waitForSelector('[data-banner^="verdict-"]', { timeout: 20_000 });
    const card = page.locator(`article.record[data-record-id="${ids.payment}"]`);
    await card.locator(`.id-note[data-id="${DEMO_ORG}"]`).waitFor({ timeout: 20_000 });
    const text = (await card.locator('.facts').textContent()) ?? '';
    expect(text).toContain(DEMO_NAMES.ownerOrgName.zh);
    expect(text).toContain('城关镇五星村村道硬化工程');
    expect(await card.locator('.facts .named-name', { hasText: '路基' }).count()).toBe(1);
    await card.locator('.facts').scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${SHOTS}/verify-result-names.png` });
  });

  it('every check has a plain explanation and a details toggle holding the hash it compared', async () => {
    const page = await open(`/r/${ids.payment}`);
    await page.waitForSelector('.checklist li[data-status]', { timeout: 20_000 });
    const leaf = page.locator('li[data-step="leaf"]');
    expect(await leaf.locator('.check-explain').textContent()).toContain('指纹');
    const toggle = leaf.locator('details.check-values');
    expect(await toggle.getAttribute('open')).toBeNull();
    await toggle.locator('summary').click();
    const hash = (await toggle.locator('code').first().textContent()) ?? '';
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    const explained = await page.$$eval('.checklist li[data-step]', (els) =>
      els.map((el) => [el.getAttribute('data-step'), Boolean(el.querySelector('.check-explain'))]),
    );
    for (const [step, has] of explained) expect(has, String(step)).toBe(true);
    await toggle.scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${SHOTS}/certificate-check-details.png` });
  });
});
