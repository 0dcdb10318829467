// A confirmed anchor the chain takes back, on a real geth dev node and a real PostgreSQL. The
// outage test (anchor-outage.test.ts) saw it happen: a SIGKILLed dev node loses its last blocks and
// re-mines their transactions elsewhere, so the anchors row — and every bundle naming its block —
// was left pointing at a block that no longer held it. Here the node is rewound on purpose
// (debug_setHead below the anchor's block: geth drops those blocks and does not return their
// transactions to its pool), and the anchorer, which reads its recently confirmed anchors again
// once per interval, must send the very same transaction again (same hash, same nonce, before the
// next anchor takes it) and follow it into its new block; the next anchor then comes after it.
// Then the same while the next anchor is already in flight: its nonce comes after the dropped one's,
// so it waits until the dropped one is sent again (the anchorer looks even with an anchor in flight).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Anchorer, createAnchorer, type TickOutcome } from '../../gateway/src/anchor/anchorer.ts';
import { pgLatestRecordedCheckpoint } from '../../gateway/src/anchor/pipeline-source.ts';
import { rpcCall } from '../../network/evm/geth-dev.ts';
import { type AnchorEnv, ORIGIN, startAnchorEnv, TestLog, tickUntil } from './anchor-fixture.ts';

let env: AnchorEnv | undefined;
let log: TestLog;
let anchorer: Anchorer | undefined;
/** What the anchorer told its onMoved hooks (the gateway's drops its cached bundles). */
const movedTold: { size: number; txHash: string; block: number }[] = [];

beforeAll(async () => {
  env = await startAnchorEnv({ config: { confirmations: 1, intervalMs: 300 } });
  log = await TestLog.create(env.pool);
  anchorer = createAnchorer({
    db: env.pool,
    config: env.config,
    wallet: env.wallet,
    origin: ORIGIN,
    latestRecordedCheckpoint: pgLatestRecordedCheckpoint(env.pool),
  });
  anchorer.onMoved((m) => movedTold.push(m));
});

afterAll(async () => {
  await anchorer?.stop();
  await env?.stop();
});

const confirmed = (o: TickOutcome) => o.action === 'confirmed';

async function confirmedRow(size: number) {
  const { rows } = await env!.pool.query<{
    tx_hash: string;
    block: string;
    block_hash: string;
    nonce: string;
  }>(`select tx_hash, block, block_hash, nonce from anchors where status = 'confirmed' and size = $1`, [
    size,
  ]);
  expect(rows).toHaveLength(1);
  return { ...rows[0]!, block: Number(rows[0]!.block), nonce: Number(rows[0]!.nonce) };
}

function receiptOf(txHash: string) {
  return rpcCall<{ blockNumber: string; blockHash: string; status: string } | null>(
    env!.geth.rpcUrl,
    'eth_getTransactionReceipt',
    [txHash],
  );
}

/** Waits until the chain is two blocks past `block`, then rewinds it to the block before `block`. */
async function rewindBelow(block: number): Promise<void> {
  const rpcUrl = env!.geth.rpcUrl;
  const deadline = Date.now() + 10_000;
  while (Number(await rpcCall<string>(rpcUrl, 'eth_blockNumber')) < block + 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
  }
  await rpcCall(rpcUrl, 'debug_setHead', [`0x${(block - 1).toString(16)}`]);
}

const nonceOf = async (address: string) =>
  Number(await rpcCall<string>(env!.geth.rpcUrl, 'eth_getTransactionCount', [address, 'latest']));

/** The operator's anchor transactions on the chain, in order. */
async function anchorTxs(): Promise<string[]> {
  const logs = await rpcCall<{ transactionHash: string }[]>(env!.geth.rpcUrl, 'eth_getLogs', [
    { address: env!.contract, fromBlock: '0x0', toBlock: 'latest' },
  ]);
  return logs.map((l) => l.transactionHash);
}

/** Set by the first test: the two anchors it left confirmed. */
let earlier: { tx_hash: string; block: number; nonce: number }[] = [];

describe('a confirmed anchor the chain takes back', () => {
  it('is sent again as the same transaction and followed into its new block; the next anchor comes after it', async () => {
    const rpcUrl = env!.geth.rpcUrl;
    const size = await log.appendBatch(4);
    await tickUntil(anchorer!.tick, confirmed, 30_000);
    const first = await confirmedRow(size);
    expect((await receiptOf(first.tx_hash))?.blockHash).toBe(first.block_hash);
    expect((await log.bundleFor(0)).anchor?.block).toBe(first.block);

    // Rewind below the anchor's block: the anchor is gone from the chain, its nonce free again.
    await rewindBelow(first.block);
    expect(await receiptOf(first.tx_hash)).toBeNull();
    expect(
      Number(await rpcCall<string>(rpcUrl, 'eth_getTransactionCount', [env!.wallet.address, 'latest'])),
    ).toBe(first.nonce);

    // The anchorer notices at its next interval, sends the same transaction, and follows it.
    const outcomes: string[] = [];
    const until = Date.now() + 30_000;
    let moved: Awaited<ReturnType<typeof confirmedRow>> | undefined;
    while (Date.now() < until) {
      outcomes.push((await anchorer!.tick()).action);
      const row = await confirmedRow(size);
      const receipt = await receiptOf(first.tx_hash);
      if (receipt && row.block_hash === receipt.blockHash) {
        if (row.block_hash !== first.block_hash) {
          moved = row;
          break;
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(moved, `never followed: ${outcomes.join(',')}`).toBeDefined();
    const receipt = await receiptOf(first.tx_hash);
    expect(receipt?.status).toBe('0x1');
    expect(moved!.tx_hash).toBe(first.tx_hash);
    expect(moved!.block).toBe(Number(receipt!.blockNumber));
    expect(movedTold).toEqual([{ size, txHash: first.tx_hash, block: moved!.block }]);
    // Bundles name the block the chain has it in.
    expect((await log.bundleFor(0)).anchor).toMatchObject({ txHash: first.tx_hash, block: moved!.block });

    // The next anchor takes the next nonce: one transaction per anchor, sizes growing.
    const next = await log.appendBatch(2);
    await tickUntil(anchorer!.tick, confirmed, 30_000);
    const second = await confirmedRow(next);
    expect(second.nonce).toBe(first.nonce + 1);
    expect(await anchorTxs()).toEqual([first.tx_hash, second.tx_hash]);
    expect(await nonceOf(env!.wallet.address)).toBe(first.nonce + 2);
    earlier = [first, second];
  }, 90_000);

  it('is sent again while the next anchor waits behind it for its nonce', async () => {
    expect(earlier).toHaveLength(2);
    const previous = earlier[1]!;
    // The next anchor is sent (in the pool, perhaps mined a moment later) ...
    const size = await log.appendBatch(3);
    await tickUntil(anchorer!.tick, (o) => o.action === 'created', 30_000);
    // ... and the chain drops the anchor before it: the new one cannot be mined until that nonce is
    // used again, and only the dropped transaction may use it.
    await rewindBelow(previous.block);
    expect(await receiptOf(previous.tx_hash)).toBeNull();
    expect(await nonceOf(env!.wallet.address)).toBe(previous.nonce);

    const outcomes = await tickUntil(
      anchorer!.tick,
      (o) => o.action === 'confirmed' && o.size === size,
      40_000,
    );
    const third = await confirmedRow(size);
    expect(third.nonce, outcomes.map((o) => o.action).join(',')).toBe(previous.nonce + 1);
    expect((await receiptOf(previous.tx_hash))?.status).toBe('0x1');
    expect(await anchorTxs()).toEqual([earlier[0]!.tx_hash, previous.tx_hash, third.tx_hash]);
    expect(await nonceOf(env!.wallet.address)).toBe(previous.nonce + 2);
  }, 90_000);
});
