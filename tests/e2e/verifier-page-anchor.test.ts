// The verifier page reading the public chain itself, in Chromium, against a real geth dev node and
// the gateway as the README starts it (anchoring configured on that node): given the node's
// JSON-RPC address (`?rpc=`, or typed into the result's "advanced" settings) the page asks the node
// for the chain id, the receipt, the contract's kept root and the head block, and reports the anchor
// checked against that node; without one it reads through the operator's proxy and marks that pass
// as the weaker check. A stranger's anchor of the genuine (size, root), sent from its own address
// on the operator's contract and named by a bundle rewritten on the wire (a gateway that lies), is
// refused by the page reading the chain itself, and so is one on the stranger's own deployment.
// A node that does not answer leaves the anchor unchecked, with the reason, and no fall-back to the
// proxy.

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ProofBundle } from '@lianzheng/proof';
import { Contract, ContractFactory, JsonRpcProvider, Wallet } from 'ethers';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ANCHOR_ABI } from '../../gateway/src/anchor/abi.ts';
import {
  ANCHOR_ARTEFACT_PATH,
  deployAnchorContract,
  readAnchorArtefact,
} from '../../gateway/src/anchor/deploy.ts';
import { createAnchorKeyFile, loadAnchorKey } from '../../gateway/src/anchor/key.ts';
import { fundFromDevAccount, type GethDevNode, startGethDev } from '../../network/evm/geth-dev.ts';
import { type PageOrigin, servePage, submitEvidence } from './page-gateway.ts';
import { freePort, type ReadmeGateway, startReadmeGateway } from './readme-gateway.ts';
import { buildPage, chromiumAvailable, launchChromium, REPO, sha256Hex } from './verifier-page-support.ts';

const SHOTS = `${REPO}screenshots`;
let dir = '';
let geth: GethDevNode | undefined;
let gateway: ReadmeGateway | undefined;
let front: PageOrigin | undefined;
let browser: Browser | undefined;
let context: BrowserContext | undefined;
let contract = '';
let anchorBundle: ProofBundle;
let recordId = '';

const file = Buffer.from(`五星村 村务公开 锚定公示 ${randomBytes(8).toString('hex')}\n`, 'utf8');
const digest = sha256Hex(file);

beforeAll(async () => {
  if (!chromiumAvailable()) throw new Error('Debian chromium is missing: run scripts/install-system-deps.sh');
  if (!existsSync(ANCHOR_ARTEFACT_PATH)) throw new Error('run scripts/build.sh first: no Anchor artefact');
  buildPage();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-e2e-page-anchor-'));
  // The page's origin is the gateway's (127.0.0.1) or the test front's (localhost), on a port not
  // known yet: geth lets pages from loopback origins call it, as a reader's own node would be told
  // to allow the verifier page's origin (network/evm/README.md).
  geth = await startGethDev({
    datadir: path.join(dir, 'geth'),
    period: 1,
    corsDomain: 'http://127.0.0.1:*,http://localhost:*',
  });
  const keyFile = path.join(dir, 'anchor.key');
  await createAnchorKeyFile(keyFile);
  const wallet = await loadAnchorKey(keyFile);
  await fundFromDevAccount(geth, wallet.address, 10n ** 19n);
  const provider = new JsonRpcProvider(geth.rpcUrl, geth.chainId, { staticNetwork: true });
  contract = (await deployAnchorContract(wallet.connect(provider)).finally(() => provider.destroy())).address;
  gateway = await startReadmeGateway({
    prefix: 'lz-e2e-page-anchor-data-',
    env: {
      SEAL_INTERVAL_MS: '200',
      ANCHOR_RPC_URL: geth.rpcUrl,
      ANCHOR_CHAIN_ID: String(geth.chainId),
      ANCHOR_CONTRACT: contract,
      ANCHOR_KEY_FILE: keyFile,
      // More than one, so the page's confirmations check has something to hold the chain to.
      ANCHOR_CONFIRMATIONS: '2',
      ANCHOR_INTERVAL_MS: '500',
      ANCHOR_POLL_MS: '200',
    },
  });
  const id = await submitEvidence(gateway.base, await gateway.unitToken(), {
    kind: 'notice',
    visibility: 'public',
    sha256: digest,
    title: '锚定公示',
  });
  recordId = id;
  anchorBundle = await gateway.waitFor(
    'the record anchored',
    async () => {
      const v = (await (await fetch(`${gateway!.base}/v1/verify/${digest}`)).json()) as {
        records?: { id: string; status: string; bundle: ProofBundle }[];
      };
      const rec = v.records?.find((r) => r.id === id);
      return rec?.status === 'anchored' && rec.bundle.anchor ? rec.bundle : undefined;
    },
    120_000,
  );
  front = await servePage(gateway.base);
  browser = await launchChromium();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await front?.close();
  await gateway?.stop();
  await geth?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

afterEach(async () => {
  await context?.close();
  context = undefined;
});

interface Traffic {
  /** JSON-RPC methods the page sent to the node. */
  rpc: string[];
  /** Paths the page asked the gateway's anchor proxy for. */
  proxy: string[];
}

async function open(url: string): Promise<{ page: Page; traffic: Traffic }> {
  context ??= await browser!.newContext({ viewport: { width: 1024, height: 900 } });
  const page = await context.newPage();
  const traffic: Traffic = { rpc: [], proxy: [] };
  page.on('request', (req) => {
    if (req.url().startsWith(geth!.rpcUrl) && req.method() === 'POST') {
      traffic.rpc.push((JSON.parse(req.postData() ?? '{}') as { method: string }).method);
    }
    if (new URL(req.url()).pathname.startsWith('/v1/anchor/tx/'))
      traffic.proxy.push(new URL(req.url()).pathname);
  });
  await page.goto(front!.url + url);
  await page.waitForSelector('html[data-ready="true"]');
  return { page, traffic };
}

async function anchorStep(page: Page) {
  const li = await page.waitForSelector('.checklist li[data-step="anchor"]:not(.check-pending)', {
    timeout: 30_000,
  });
  return {
    status: await li.getAttribute('data-status'),
    read: await li.getAttribute('data-read'),
    word: (await li.$eval('.check-status', (e) => e.textContent ?? '')).trim(),
    sentence: (await li.$eval('.check-sentence', (e) => e.textContent ?? '')).trim(),
    code: await li.$eval('.check-code', (e) => e.textContent ?? '').catch(() => ''),
  };
}

const rpcParam = () => `rpc=${encodeURIComponent(geth!.rpcUrl)}`;

describe('the verifier page reads the public chain itself', () => {
  it('given ?rpc=, checks the anchor against that node, not through the proxy', async () => {
    const { page, traffic } = await open(`/v/${digest}?lang=en&${rpcParam()}`);
    await page.waitForSelector('[data-banner="verdict-ok"]', { timeout: 30_000 });
    const step = await anchorStep(page);
    expect(step).toMatchObject({ status: 'pass', read: 'node', word: 'Passed (your node)' });
    const host = new URL(geth!.rpcUrl).host;
    expect(step.sentence).toContain(`This page read it from your node ${host} itself`);
    // Plain JSON-RPC from the browser, every call the check needs; nothing asked of the proxy.
    expect([...new Set(traffic.rpc)].sort()).toEqual([
      'eth_blockNumber',
      'eth_call',
      'eth_chainId',
      'eth_getBlockByNumber', // "finalized": geth's dev mode answers block 0, so the count decides
      'eth_getTransactionReceipt',
    ]);
    expect(traffic.proxy).toEqual([]);
    expect(await page.textContent('[data-assurance="anchoring"]')).toMatch(/^anchored on public chain .*\)$/);
    expect(await page.textContent('[data-assurance="anchoring"]')).not.toContain('proxy');
    expect(await page.getAttribute('#chain-settings', 'data-rpc')).toBe('node');
    await fs.mkdir(SHOTS, { recursive: true });
    await page.screenshot({ path: `${SHOTS}/verify-anchor-own-node-en.png`, fullPage: true });
    // The certificate takes the same node, and stays short for its one printed page.
    const cert = await open(`/r/${recordId}?lang=en&${rpcParam()}`);
    const certStep = await anchorStep(cert.page);
    expect(certStep).toMatchObject({ status: 'pass', read: 'node', word: 'Passed' });
    expect(certStep.sentence).toContain(`read from node ${host} by this page itself`);
    expect(cert.traffic.rpc).toContain('eth_call');
    expect(cert.traffic.proxy).toEqual([]);
    expect(await page.textContent('#rpc-current')).toContain(host);
  });

  it('without a node, marks the proxy’s pass as the weaker check; a node typed into “advanced” replaces it for the session', async () => {
    await context?.close();
    context = undefined; // a new session: nothing remembered from the test before
    const { page, traffic } = await open(`/v/${digest}`);
    await page.waitForSelector('[data-banner="verdict-ok"]', { timeout: 30_000 });
    const proxied = await anchorStep(page);
    expect(proxied).toMatchObject({ status: 'pass', read: 'proxy', word: '通过（经运营方代理）' });
    expect(proxied.sentence).toMatch(/^经运营方代理读取：.*较弱的核对/);
    expect(traffic.proxy.length).toBeGreaterThan(0);
    expect(traffic.rpc).toEqual([]);
    // What the evidence is worth says so too, not only the step.
    expect(await page.textContent('[data-assurance="anchoring"]')).toContain('经运营方代理读取');
    await page.screenshot({ path: `${SHOTS}/verify-anchor-proxy-zh.png`, fullPage: true });
    // Visibly different from a pass against the reader's node: not the green of the other passes.
    const colour = (sel: string) => page.$eval(sel, (e) => getComputedStyle(e).color);
    expect(await colour('li[data-step="anchor"] .check-status')).not.toBe(
      await colour('li[data-step="receipt"] .check-status'),
    );

    await page.click('#chain-settings summary');
    await page.fill('#rpc-input', 'http://10.1.2.3:8545');
    await page.click('#rpc-apply');
    expect(await page.textContent('#rpc-error')).toContain('https');
    await page.fill('#rpc-input', geth!.rpcUrl);
    await page.click('#rpc-apply');
    await page.waitForSelector('li[data-step="anchor"][data-read="node"][data-status="pass"]', {
      timeout: 30_000,
    });
    expect(traffic.rpc).toContain('eth_getTransactionReceipt');
    // Remembered for the session (a reload, no ?rpc=), and forgotten on request.
    await page.reload();
    await page.waitForSelector('html[data-ready="true"]');
    expect((await anchorStep(page)).read).toBe('node');
    await page.click('#rpc-clear');
    await page.waitForSelector('li[data-step="anchor"][data-read="proxy"][data-status="pass"]', {
      timeout: 30_000,
    });
  });

  it('a node that does not answer leaves the anchor unchecked and says why', async () => {
    const silent = `http://127.0.0.1:${await freePort()}`;
    const { page, traffic } = await open(`/v/${digest}?lang=en&rpc=${encodeURIComponent(silent)}`);
    await page.waitForSelector('[data-banner="verdict-unchecked"]', { timeout: 30_000 });
    const step = await anchorStep(page);
    expect(step).toMatchObject({ status: 'fail', read: 'node' });
    expect(step.code).toContain('ANCHOR_LOOKUP_FAILED');
    expect(step.sentence).toContain(
      `Could not read the anchoring transaction from your node ${new URL(silent).host}`,
    );
    expect(step.sentence).toContain('ANCHOR_RPC_UNREACHABLE');
    expect(traffic.proxy).toEqual([]); // never a silent fall-back to the operator's proxy
  });

  it('refuses a stranger’s anchor of the genuine (size, root), from its address or on its own deployment', async () => {
    const anchor = anchorBundle.anchor!;
    const provider = new JsonRpcProvider(geth!.rpcUrl, geth!.chainId, { staticNetwork: true });
    let strangerTx: string;
    let deploymentTx: string;
    let deployment: string;
    try {
      const stranger = Wallet.createRandom().connect(provider);
      await fundFromDevAccount(geth!, stranger.address, 10n ** 18n);
      const origin = (
        (await (await fetch(`${gateway!.base}/v1/keys`)).json()) as { anchor: { origin: string } }
      ).anchor.origin;
      // From its own address on the operator's contract (which accepts it: every sender has its
      // own series)…
      const tx = await new Contract(contract, ANCHOR_ABI, stranger).getFunction('anchor')(
        origin,
        anchor.size,
        `0x${anchor.root}`,
      );
      expect((await tx.wait(1))?.status).toBe(1);
      strangerTx = tx.hash;
      // …and on a deployment of its own of the same contract.
      const artefact = await readAnchorArtefact();
      const theirs = await new ContractFactory(artefact.abi, artefact.bytecode, stranger).deploy();
      await theirs.waitForDeployment();
      deployment = (await theirs.getAddress()).toLowerCase();
      const tx2 = await theirs.getFunction('anchor')(origin, anchor.size, `0x${anchor.root}`);
      expect((await tx2.wait(1))?.status).toBe(1);
      deploymentTx = tx2.hash;
    } finally {
      provider.destroy();
    }
    await new Promise((r) => setTimeout(r, 2_500)); // confirmed as deep as the operator's own

    /** The page, from a gateway that lies: its bundles name another anchor. */
    const lying = async (edit: (a: NonNullable<ProofBundle['anchor']>) => void) => {
      await context?.close();
      context = await browser!.newContext({ viewport: { width: 1024, height: 900 } });
      await context.route('**/v1/verify/*', async (route) => {
        const res = await route.fetch();
        const json = (await res.json()) as { records: { bundle: ProofBundle }[] };
        for (const r of json.records) if (r.bundle.anchor) edit(r.bundle.anchor);
        await route.fulfill({ response: res, json });
      });
      const { page, traffic } = await open(`/v/${digest}?lang=en&${rpcParam()}`);
      await page.waitForSelector('[data-banner="verdict-fail"]', { timeout: 30_000 });
      return { step: await anchorStep(page), traffic };
    };

    const bySender = await lying((a) => {
      a.txHash = strangerTx;
    });
    expect(bySender.step).toMatchObject({ status: 'fail', read: 'node' });
    expect(bySender.step.code).toContain('ANCHOR_FOREIGN_SENDER');
    expect(bySender.step.sentence).toContain("not sent from the operator's published anchoring address");
    expect(bySender.traffic.rpc).toContain('eth_getTransactionReceipt');
    expect(bySender.traffic.proxy).toEqual([]);

    // The bundle names the stranger's deployment: refused before the chain is even asked.
    const elsewhere = await lying((a) => {
      a.txHash = deploymentTx;
      a.contract = deployment;
    });
    expect(elsewhere.step).toMatchObject({ status: 'fail', read: 'node' });
    expect(elsewhere.step.code).toContain('ANCHOR_FOREIGN_CONTRACT');
    expect(elsewhere.traffic.rpc).toEqual([]);
    // The bundle names the operator's contract but the stranger's deployment's transaction: the
    // node's receipt holds no event from the operator's contract, so the chain holds no such anchor.
    const disguised = await lying((a) => {
      a.txHash = deploymentTx;
    });
    expect(disguised.step).toMatchObject({ status: 'fail', read: 'node' });
    expect(disguised.step.code).toContain('ANCHOR_MISMATCH');
    expect(disguised.traffic.rpc).toContain('eth_getTransactionReceipt');
    expect(disguised.traffic.proxy).toEqual([]);
  });
});
