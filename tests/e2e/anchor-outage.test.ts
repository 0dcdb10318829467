// Anchoring through two real 60-second chain outages (issue #27's "metrics and /readyz during a
// 60 s outage"). The gateway as the README starts it anchors on a real geth dev node every 3 s
// while records keep arriving; the node is then stopped for a full minute, twice:
//   1. a clean stop (SIGINT) at an arbitrary moment;
//   2. a SIGKILL the moment the anchorer's transaction is in geth's pool, not yet mined, and the
//      pool's journal removed (the node comes back without the transaction).
// Through each outage the test polls /readyz and /metrics: intake keeps answering 202 and records
// keep being recorded; /readyz stays ready but turns `degraded: ["anchor"]` only once the wait
// passes ANCHOR_MAX_LAG_S (20 s here: well above an interval and its confirmations, well inside the
// minute, so each outage shows both sides of it); the lag (seconds and entries) and the RPC error
// counter rise; the anchor in flight of the
// second outage ages. After each restart on the same chain and port: /readyz is ready again, every
// record is anchored, and the chain holds one strictly growing series of anchors from the
// operator's key — every root the gateway's checkpoint of that size, every root kept by the
// contract (`rootAt`), one transaction per anchor (the key's nonce), the in-flight anchor mined once
// (as sent, or replaced at the same nonce), nothing skipped, and every record's bundle naming an
// anchor in the block the chain has it in. The node keeps its state on disk block by block
// (geth-dev's `archive`): a dev node's chain otherwise dies with it on SIGKILL. Even so it loses its
// last few blocks and re-mines their transactions: an anchor already confirmed may move, which the
// anchorer follows (anchor-reorg.test.ts does that on purpose).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  ANCHORED_EVENT_TOPIC,
  decodeAnchoredEvent,
  parseCheckpoint,
  rootAtCallData,
  toHex,
} from '@lianzheng/proof';
import { Interface } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANCHOR_ABI } from '../../gateway/src/anchor/abi.ts';
import { createRpcAnchorFetcher } from '../../gateway/src/anchor/rpc-anchor-fetcher.ts';
import { type GethDevNode, rpcCall, startGethDev } from '../../network/evm/geth-dev.ts';
import { deployWithNewAnchorKey, ensureArtefact } from './anchor-fixture.ts';
import {
  anchorMetrics,
  type Readyz,
  readyz,
  recordOf,
  type Submitted,
  submitNotice,
} from './gateway-probes.ts';
import { type ReadmeGateway, startReadmeGateway } from './readme-gateway.ts';

/** geth's JSON-RPC port: fixed (from this test's range) so the restarted node answers where the gateway asks. */
const GETH_PORT = 28110;
const OUTAGE_MS = 60_000;
const MAX_LAG_S = 20;
const REPLACE_AFTER_MS = 30_000;

let dir = '';
let gethDatadir = '';
let geth: GethDevNode | undefined;
let gethRunning = false;
let gateway: ReadmeGateway | undefined;
let base = '';
let contract = '';
let anchorer = '';
let chainId = 0;
/** Every record the test submitted, in order. */
const submitted: Submitted[] = [];
const anchoredIds = new Set<string>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function startGeth(): Promise<GethDevNode> {
  return startGethDev({ datadir: gethDatadir, port: GETH_PORT, period: 1, archive: true });
}

beforeAll(async () => {
  ensureArtefact();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-e2e-outage-'));
  gethDatadir = path.join(dir, 'geth');
  geth = await startGeth();
  gethRunning = true;
  chainId = geth.chainId;
  const deployed = await deployWithNewAnchorKey(geth, dir);
  contract = deployed.contract.toLowerCase();
  anchorer = deployed.wallet.address.toLowerCase();
  gateway = await startReadmeGateway({
    prefix: 'lz-e2e-outage-data-',
    env: {
      SEAL_INTERVAL_MS: '200',
      ANCHOR_RPC_URL: geth.rpcUrl,
      ANCHOR_CHAIN_ID: String(chainId),
      ANCHOR_CONTRACT: contract,
      ANCHOR_KEY_FILE: deployed.keyFile,
      ANCHOR_CONFIRMATIONS: '2',
      ANCHOR_INTERVAL_MS: '3000',
      ANCHOR_POLL_MS: '200',
      ANCHOR_RPC_TIMEOUT_MS: '1000',
      // Shorter than the outage, so the anchor in flight through the second one is replaced (or
      // found mined) at the restart rather than only re-sent.
      ANCHOR_REPLACE_AFTER_MS: String(REPLACE_AFTER_MS),
      ANCHOR_MAX_LAG_S: String(MAX_LAG_S),
      // The test reads every record's bundle after each outage, more than a public client may.
      RATE_LIMIT_PUBLIC_PER_MIN: '100000',
    },
  });
  base = gateway.base;
});

afterAll(async () => {
  await gateway?.stop();
  if (gethRunning) await geth?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

/** Submits a record about every second until stopped, keeping each answer. */
function feeder(label: string) {
  let running = true;
  const answers: Submitted[] = [];
  const done = (async () => {
    for (let n = 0; running; n++) {
      const s = await submitNotice(gateway!, `${label} ${n}`);
      answers.push(s);
      submitted.push(s);
      await sleep(1000);
    }
  })();
  return {
    answers,
    async stop() {
      running = false;
      await done;
    },
  };
}

interface Sample {
  /** Milliseconds since the node went away. */
  t: number;
  ready: Readyz;
  m: Record<string, number>;
}

/** Polls /readyz and /metrics every second for the outage's length. */
async function watchOutage(since: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  while (Date.now() - since < OUTAGE_MS) {
    const ready = await readyz(base);
    const m = await anchorMetrics(gateway!);
    samples.push({ t: Date.now() - since, ready, m });
    await sleep(1000);
  }
  return samples;
}

const isDegraded = (s: Sample) => s.ready.body.degraded?.includes('anchor') === true;

function nonDecreasing(values: number[]): boolean {
  return values.every((v, i) => i === 0 || v >= values[i - 1]!);
}

/** What every outage must show; `healthy` is the scrape just before the node went away. */
function expectOutageSeen(samples: Sample[], answers: Submitted[], healthy: Record<string, number>): void {
  expect(samples.length).toBeGreaterThan(40);
  // Intake never noticed: every submission was accepted.
  expect(answers.length).toBeGreaterThan(30);
  expect(answers.filter((a) => a.status !== 202)).toEqual([]);
  // Ready throughout (intake and verification need no chain); degraded only past the lag.
  expect(samples.every((s) => s.ready.status === 200 && s.ready.body.ready)).toBe(true);
  expect(isDegraded(samples[0]!)).toBe(false);
  const firstDegraded = samples.findIndex(isDegraded);
  expect(firstDegraded, 'anchoring never reported degraded').toBeGreaterThan(0);
  // Not before the oldest waiting entry could have waited MAX_LAG_S (it may predate the stop by
  // an interval and the confirmations), and from then on until the node is back.
  expect(samples[firstDegraded]!.t).toBeGreaterThan((MAX_LAG_S - 15) * 1000);
  expect(samples.slice(firstDegraded).every(isDegraded)).toBe(true);
  expect(samples.length - firstDegraded).toBeGreaterThan(20);
  const reason = samples[firstDegraded]!.ready.body.checks.anchor;
  expect(reason?.ok).toBe(false);
  expect(reason?.reason).toMatch(/^ANCHOR_LAG: a recorded entry has waited \d+ s for an anchor/);
  expect(reason?.reason).toMatch(/last anchoring error \S+ \(rpc\)/);
  // The series say the same: the lag past the threshold exactly when /readyz says so.
  for (const s of samples) {
    expect(s.m.lianzheng_anchor_max_lag_seconds).toBe(MAX_LAG_S);
    if (isDegraded(s)) expect(s.m.lianzheng_anchor_lag_seconds).toBeGreaterThan(MAX_LAG_S);
    // /metrics is read a moment after /readyz, from the same second-long cache or a fresher read.
    else expect(s.m.lianzheng_anchor_lag_seconds).toBeLessThanOrEqual(MAX_LAG_S + 2);
  }
  const series = (name: string) => samples.map((s) => s.m[name] ?? Number.NaN);
  const lagSeconds = series('lianzheng_anchor_lag_seconds');
  const lagEntries = series('lianzheng_anchor_lag_entries');
  // A counter with labels has no series until its first count (no RPC error yet): 0.
  const rpcErrors = samples.map((s) => s.m.lianzheng_anchor_rpc_errors_total ?? 0);
  expect(nonDecreasing(lagSeconds), String(lagSeconds)).toBe(true);
  expect(lagSeconds.at(-1)).toBeGreaterThan(OUTAGE_MS / 1000 - 10);
  expect(nonDecreasing(lagEntries), String(lagEntries)).toBe(true);
  expect(lagEntries.at(-1)! - lagEntries[0]!).toBeGreaterThan(20);
  expect(nonDecreasing(rpcErrors), String(rpcErrors)).toBe(true);
  expect(rpcErrors.at(-1)!).toBeGreaterThan(rpcErrors[0]! + 10);
  // Nothing was confirmed while the node was away.
  expect(new Set(series('lianzheng_anchor_last_size'))).toEqual(
    new Set([healthy.lianzheng_anchor_last_size]),
  );
}

/** Records submitted during the outage (but its last seconds) are recorded: only anchoring stalls. */
async function expectRecordedWithoutChain(answers: Submitted[]): Promise<void> {
  const settled = answers.slice(0, -5);
  const statuses = await Promise.all(
    settled.map(async (a) => (await recordOf(base, a.digest, a.id))?.status),
  );
  expect(statuses.filter((s) => s !== 'recorded')).toEqual([]);
}

/** Waits until every submitted record is anchored; returns how long that took. */
async function waitAllAnchored(timeoutMs: number): Promise<number> {
  const start = Date.now();
  await gateway!.waitFor(
    'every record anchored',
    async () => {
      for (const s of submitted) {
        if (anchoredIds.has(s.id)) continue;
        if ((await recordOf(base, s.digest, s.id))?.status !== 'anchored') return undefined;
        anchoredIds.add(s.id);
      }
      return true;
    },
    timeoutMs,
  );
  return Date.now() - start;
}

/** Restarts the node on its chain and port; waits for /readyz and every record anchored. */
async function recover(): Promise<void> {
  const restarted = Date.now();
  geth = await startGeth();
  gethRunning = true;
  expect(geth.chainId).toBe(chainId);
  expect(await rpcCall<string>(geth.rpcUrl, 'eth_getCode', [contract, 'latest'])).not.toBe('0x');
  const anchoredIn = await waitAllAnchored(120_000);
  // A node killed outright loses its last blocks and re-mines their transactions in others; the
  // anchorer reads its recent anchors again once per interval and moves their rows (and so the
  // bundles' `block`) along. Wait for that before the chain is compared.
  const agreedAtOnce = (await blocksAgree()) === true;
  await gateway!.waitFor('the anchors at the blocks the chain has them in', blocksAgree, 30_000);
  const ready = await readyz(base);
  expect(ready.status).toBe(200);
  expect(ready.body.degraded).toBeUndefined();
  expect(ready.body.checks.anchor).toMatchObject({ ok: true });
  const m = await anchorMetrics(gateway!);
  expect(m.lianzheng_anchor_lag_entries).toBe(0);
  expect(m.lianzheng_anchor_lag_seconds).toBe(0);
  expect(m.lianzheng_anchor_pending_tx_age_seconds).toBe(0);
  console.info(
    `node back: every record anchored ${Date.now() - restarted} ms after the restart (${anchoredIn} ms waiting); ` +
      (agreedAtOnce
        ? 'every bundle already named the block the chain has its anchor in'
        : 'waited for an anchor the node re-mined elsewhere to be followed'),
  );
}

/** Whether each record's bundle names the block its anchor transaction is in on the chain now. */
async function blocksAgree(): Promise<true | undefined> {
  const blocks = new Map<string, number>();
  for (const s of submitted) {
    const ref = (await recordOf(base, s.digest, s.id))?.bundle.anchor;
    if (!ref) return undefined;
    if (!blocks.has(ref.txHash)) {
      const receipt = await rpcCall<{ blockNumber: string } | null>(
        geth!.rpcUrl,
        'eth_getTransactionReceipt',
        [ref.txHash],
      );
      blocks.set(ref.txHash, receipt ? Number(receipt.blockNumber) : -1);
    }
    if (blocks.get(ref.txHash) !== ref.block) {
      await sleep(1000);
      return undefined;
    }
  }
  return true;
}

interface ChainEvent {
  size: number;
  root: string;
  txHash: string;
  block: number;
}

/**
 * The chain's side, read with plain JSON-RPC: one strictly growing series of the operator's anchors,
 * each root the gateway's checkpoint of that size and kept by the contract, one transaction of the
 * anchoring key per anchor, the last one the gateway's newest checkpoint, and every record's
 * bundle naming one of them.
 */
async function expectChainConsistent(): Promise<ChainEvent[]> {
  const rpcUrl = geth!.rpcUrl;
  // Every recorded entry covered by a confirmed anchor, not only the test's own records: the demo
  // project's first records may be recorded after them (seen once in CI: anchored 10, log at 11).
  await gateway!.waitFor(
    'nothing waiting for an anchor',
    async () => ((await anchorMetrics(gateway!)).lianzheng_anchor_lag_entries === 0 ? true : undefined),
    60_000,
  );
  const logs = await rpcCall<{ transactionHash: string; blockNumber: string; removed?: boolean }[]>(
    rpcUrl,
    'eth_getLogs',
    [{ fromBlock: '0x0', toBlock: 'latest', address: contract, topics: [ANCHORED_EVENT_TOPIC] }],
  );
  const keys = (await (await fetch(`${base}/v1/keys`)).json()) as { anchor: { originHash: string } };
  const events: ChainEvent[] = logs.map((l) => {
    const e = decodeAnchoredEvent([l], contract);
    expect(e).toBeDefined();
    expect(e!.anchorer).toBe(anchorer);
    expect(e!.originHash).toBe(keys.anchor.originHash);
    return { size: Number(e!.size), root: e!.root, txHash: l.transactionHash, block: Number(l.blockNumber) };
  });
  expect(events.length).toBeGreaterThan(0);
  const sizes = events.map((e) => e.size);
  expect(
    sizes.every((s, i) => i === 0 || s > sizes[i - 1]!),
    String(sizes),
  ).toBe(true);
  expect(new Set(events.map((e) => e.txHash)).size).toBe(events.length);
  // The key deployed the contract and sent nothing but these anchors: no anchor doubled, reverted
  // or sent for nothing.
  const nonce = Number(await rpcCall<string>(rpcUrl, 'eth_getTransactionCount', [anchorer, 'latest']));
  expect(nonce).toBe(1 + events.length);
  for (const e of events) {
    const note = await (await fetch(`${base}/v1/log/checkpoint?size=${e.size}`)).text();
    expect(toHex(parseCheckpoint(note).rootHash)).toBe(e.root);
    const kept = await rpcCall<string>(rpcUrl, 'eth_call', [
      { to: contract, data: rootAtCallData(anchorer, keys.anchor.originHash, e.size) },
      'latest',
    ]);
    expect(kept).toBe(`0x${e.root}`);
  }
  const latest = parseCheckpoint(await (await fetch(`${base}/v1/log/checkpoint`)).text());
  expect(events.at(-1)!.size).toBe(latest.size);
  expect(events.at(-1)!.root).toBe(toHex(latest.rootHash));
  // Every record's bundle names one of these anchors, as the chain reads it back.
  const byTx = new Map(events.map((e) => [e.txHash, e]));
  const read = createRpcAnchorFetcher({ rpcUrl, minConfirmations: 2 });
  const checked = new Set<string>();
  for (const s of submitted) {
    const ref = (await recordOf(base, s.digest, s.id))?.bundle.anchor;
    expect(ref, `record ${s.id} has no anchor`).toBeDefined();
    const event = byTx.get(ref!.txHash);
    expect(event, `record ${s.id} names ${ref!.txHash}, not on the chain`).toBeDefined();
    expect({ size: ref!.size, root: ref!.root }).toEqual({ size: event!.size, root: event!.root });
    if (!checked.has(ref!.txHash)) {
      checked.add(ref!.txHash);
      const onChain = await read(ref!);
      expect({ size: onChain.size, root: onChain.root, storedRoot: onChain.storedRoot }).toEqual({
        size: event!.size,
        root: event!.root,
        storedRoot: event!.root,
      });
    }
    // The block too: an anchor the SIGKILLed node re-mined elsewhere is followed there.
    expect(ref!.block, `anchor ${ref!.txHash}`).toBe(event!.block);
  }
  return events;
}

describe('anchoring through two 60-second chain outages', () => {
  it('anchors records while the node is up', async () => {
    for (let i = 0; i < 3; i++) {
      const s = await submitNotice(gateway!, `公示 ${i}`);
      expect(s.status).toBe(202);
      submitted.push(s);
    }
    await waitAllAnchored(60_000);
    const ready = await readyz(base);
    expect(ready.body.degraded).toBeUndefined();
    await expectChainConsistent();
  }, 90_000);

  it('a clean stop: /readyz degrades past the lag, the series rise, records are recorded; all anchored after', async () => {
    // Everything recorded so far anchored (the demo project's own first records included).
    const healthy = await gateway!.waitFor(
      'nothing waiting for an anchor',
      async () => {
        const m = await anchorMetrics(gateway!);
        return m.lianzheng_anchor_lag_entries === 0 ? m : undefined;
      },
      30_000,
    );
    expect(healthy.lianzheng_anchor_last_size).toBeGreaterThan(0);
    const feed = feeder('停电期间的公示');
    await sleep(500);
    const since = Date.now();
    await geth!.stop();
    gethRunning = false;
    const samples = await watchOutage(since);
    await feed.stop();
    expectOutageSeen(samples, feed.answers, healthy);
    await expectRecordedWithoutChain(feed.answers);
    await recover();
    await expectChainConsistent();
  }, 170_000);

  it('a SIGKILL with an anchor transaction in flight: mined once or replaced, never doubled or skipped', async () => {
    const healthy = await anchorMetrics(gateway!);
    const feed = feeder('断链期间的公示');
    // Watch geth's pool for the anchorer's next transaction and kill the node the moment it is
    // there: sent, not yet mined (a block a second).
    let inFlight: { hash: string; nonce: number; input: string } | undefined;
    const deadline = Date.now() + 30_000;
    while (!inFlight && Date.now() < deadline) {
      const pool = await rpcCall<{ pending: Record<string, { hash: string; nonce: string; input: string }> }>(
        geth!.rpcUrl,
        'txpool_contentFrom',
        [anchorer],
      );
      const tx = Object.values(pool.pending)[0];
      if (tx) inFlight = { hash: tx.hash, nonce: Number(tx.nonce), input: tx.input };
      else await sleep(10);
    }
    expect(inFlight, 'the anchorer sent no transaction within 30 s').toBeDefined();
    const since = Date.now();
    await geth!.stop('SIGKILL');
    gethRunning = false;
    // The node's pool goes with it, as when a provider's node comes back empty: geth would
    // otherwise re-add the transaction from its journal of local ones. Only the gateway's outbox
    // has it now, so the anchorer must send it again or replace it.
    const journal = path.join(gethDatadir, 'geth', 'transactions.rlp');
    await fs.access(journal);
    await fs.rm(journal);
    const call = new Interface(ANCHOR_ABI).parseTransaction({ data: inFlight!.input });
    const inFlightSize = Number(call!.args[1]);
    const samples = await watchOutage(since);
    await feed.stop();
    // The pool may have sealed it in the instant before the kill: the last confirmed size is then
    // still the one before it (the gateway never saw the receipt).
    expectOutageSeen(samples, feed.answers, healthy);
    await expectRecordedWithoutChain(feed.answers);
    // The anchor in flight aged through the outage (the gateway had created it before the kill).
    const pending = samples.map((s) => s.m.lianzheng_anchor_pending_tx_age_seconds ?? Number.NaN);
    expect(nonDecreasing(pending), String(pending)).toBe(true);
    expect(pending.at(-1)!).toBeGreaterThan(OUTAGE_MS / 1000 - 5);

    await recover();
    const events = await expectChainConsistent();
    // The in-flight anchor's size is on the chain once, at the nonce it was signed with: as sent,
    // or as its replacement.
    const atSize = events.filter((e) => e.size === inFlightSize);
    expect(atSize).toHaveLength(1);
    const mined = await rpcCall<{ nonce: string }>(geth!.rpcUrl, 'eth_getTransactionByHash', [
      atSize[0]!.txHash,
    ]);
    expect(Number(mined.nonce)).toBe(inFlight!.nonce);
    console.info(
      `in-flight anchor of size ${inFlightSize} (nonce ${inFlight!.nonce}): ${
        atSize[0]!.txHash === inFlight!.hash ? 'mined as sent' : `replaced by ${atSize[0]!.txHash}`
      }`,
    );
  }, 170_000);
});
