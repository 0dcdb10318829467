// Keys pinned in the certificate page's address (issue #21), in real Chromium at 360×800 against
// the gateway as `npm start` runs it: a record signed before two receipt key rotations and one
// after; `/r/{id}?pin=<the first key's thumbprint>` says the old receipt's key is pinned and the
// new one's is reached through 2 published rotations, and a pin nothing leads to says loudly, on
// the first screen, not to rely on the page. Screenshots go to /tmp/lz-pins-shots.

import fs from 'node:fs/promises';
import path from 'node:path';
import { checkpointKeyFingerprint, jwkThumbprint, noteKeyAlgorithm } from '@lianzheng/proof';
import { exportJWK, generateKeyPair } from 'jose';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { issueDevToken, loadDevIssuerKey } from '../../gateway/src/auth/dev-issuer.ts';
import { type PageBrowser, startPageBrowser, submitEvidence, waitRecorded } from './page-gateway.ts';
import { type ReadmeGateway, startReadmeGateway } from './readme-gateway.ts';
import { buildPage, chromiumAvailable, sha256Hex } from './verifier-page-support.ts';

const SHOTS = process.env.LZ_SHOTS_DIR ?? '/tmp/lz-pins-shots';
const PHONE = { width: 360, height: 800 };
let gateway: ReadmeGateway | undefined;
let api = '';
let pages: PageBrowser | undefined;
let unitToken = '';
let before = '';
let after = '';
let firstKid = '';

async function submit(tag: string): Promise<string> {
  const id = await submitEvidence(api, unitToken, {
    sha256: sha256Hex(`pins ${tag} ${Date.now()}`),
    kind: 'notice',
    visibility: 'public',
    title: `公示 ${tag}`,
  });
  await waitRecorded(gateway!, id);
  return id;
}

const kidOf = async (id: string) => {
  const body = (await (await fetch(`${api}/v1/evidence/${id}`)).json()) as { bundle: { receipt: string } };
  return JSON.parse(Buffer.from(body.bundle.receipt.split('.')[0]!, 'base64url').toString()).kid as string;
};

beforeAll(async () => {
  if (!chromiumAvailable()) throw new Error('Debian chromium is missing: run scripts/install-system-deps.sh');
  await fs.mkdir(SHOTS, { recursive: true });
  buildPage();
  gateway = await startReadmeGateway({ prefix: 'lz-e2e-pins-' });
  api = gateway.base;
  unitToken = await gateway.unitToken();
  before = await submit('before');
  firstKid = await kidOf(before);
  const admin = await issueDevToken(await loadDevIssuerKey(path.join(gateway.dataDir, 'keys')), {
    role: 'admin',
    audience: 'lianzheng',
  });
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${api}/v1/admin/keys/rotate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(res.status, await res.clone().text()).toBe(200);
  }
  after = await submit('after');
  expect(await kidOf(after)).not.toBe(firstKid);
  pages = await startPageBrowser(api);
}, 600_000);

afterAll(async () => {
  await pages?.close();
  await gateway?.stop();
});

afterEach(async () => {
  await pages?.closePages();
});

const open = (url: string): Promise<Page> => pages!.open(url, { viewport: PHONE });

/** The pin banner once the checks have run, and whether its top is on the first screen. */
async function pinBanner(page: Page, selector = '[data-banner^="pin-"]') {
  const banner = page.locator(selector);
  await banner.waitFor({ timeout: 30_000 });
  // Measure the page a reader sees once it has settled: the checks done and the related records
  // and project loaded (each redraws the page; a box taken mid-redraw said "below the fold").
  await page.waitForSelector('.checklist li[data-status]', { timeout: 30_000 });
  await page.waitForLoadState('networkidle');
  const box = await banner.boundingBox();
  return {
    id: await banner.getAttribute('data-banner'),
    text: (await banner.textContent()) ?? '',
    aboveFold: box !== null && box.y < PHONE.height,
  };
}

describe('the certificate page with receipt keys pinned in its address', () => {
  it("passes the old receipt's pinned key and follows 2 rotations to the new one", async () => {
    // The ES256 receipt key's kid is its RFC 7638 thumbprint (what trust.json and ?pin= carry).
    const old = await open(`/r/${before}?pin=${firstKid}`);
    expect(await pinBanner(old)).toMatchObject({ id: 'pin-pinned', aboveFold: true });
    const page = await open(`/r/${after}?pin=${firstKid}`);
    const b = await pinBanner(page);
    expect(b).toMatchObject({ id: 'pin-followed', aboveFold: true });
    expect(b.text).toContain('经 2 次公布的密钥轮换');
    await page.screenshot({ path: `${SHOTS}/pin-followed.png` });
  });

  it('says loudly, on the first screen, when nothing leads from the pin to the signing key', async () => {
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    const stranger = jwkThumbprint((await exportJWK(publicKey)) as Record<string, unknown>);
    const page = await open(`/r/${after}?pin=${stranger}`);
    const b = await pinBanner(page);
    expect(b).toMatchObject({ id: 'pin-mismatch', aboveFold: true });
    expect(b.text).toContain('请不要相信本页的核验结果');
    await page.screenshot({ path: `${SHOTS}/pin-mismatch.png` });
    // The digest's result page reads the pin too, for each record it finds.
    const digest = (await (await fetch(`${api}/v1/evidence/${after}`)).json()) as {
      sha256?: string;
      bundle: { record: { digests: { sha256: string } } };
    };
    const result = await open(`/v/${digest.bundle.record.digests.sha256}?pin=${firstKid}`);
    expect(await pinBanner(result)).toMatchObject({ id: 'pin-followed', aboveFold: true });
    // Without a pin, no such banner: the page believes the gateway's keys, as before.
    const plain = await open(`/r/${after}`);
    await plain.waitForSelector('[data-check-state], .checklist', { timeout: 30_000 }).catch(() => undefined);
    expect(await plain.locator('[data-banner^="pin-"]').count()).toBe(0);
  });
});

describe('the certificate page with checkpoint keys pinned in its address', () => {
  const keysServed = async () =>
    (await (await fetch(`${api}/v1/keys`)).json()) as { checkpointKeys: string[] };
  const checkpointStatus = (page: Page) =>
    page.locator('.checklist li[data-step="checkpoint"]').getAttribute('data-status');

  it("checks the checkpoint against the pinned key only: the log's own key passes, beside a receipt pin", async () => {
    const { checkpointKeys } = await keysServed();
    const ed25519 = checkpointKeys.find((k) => noteKeyAlgorithm(k) === 'ed25519')!;
    expect(ed25519).toBeDefined();
    const page = await open(`/r/${before}?pin=${firstKid},${checkpointKeyFingerprint(ed25519)}`);
    expect(await pinBanner(page, '[data-banner="pin-pinned"]')).toMatchObject({ aboveFold: true });
    expect(await pinBanner(page, '[data-banner="pin-checkpoint-pinned"]')).toMatchObject({ aboveFold: true });
    expect(await checkpointStatus(page)).toBe('pass');
    await page.screenshot({ path: `${SHOTS}/pin-checkpoint-pinned.png` });
  });

  it('fails the checkpoint step, and says so on the first screen, when no served checkpoint key is pinned', async () => {
    const page = await open(`/r/${before}?pin=${'0'.repeat(64)}`);
    const b = await pinBanner(page);
    expect(b).toMatchObject({ id: 'pin-checkpoint-unknown', aboveFold: true });
    expect(b.text).toContain('请不要相信本页的核验结果');
    expect(await checkpointStatus(page)).toBe('fail');
    await page.screenshot({ path: `${SHOTS}/pin-checkpoint-unknown.png` });
  });
});
