// Anchoring on a real geth dev node (mining on demand, one confirmation): gas per anchor and
// anchors confirmed per second through the anchorer (outbox in PostgreSQL, sign, send, receipt,
// confirm, mark records anchored), each beside a plain ETH transfer from the same key measured in
// the same run (21,000 gas; send → receipt).
import { JsonRpcProvider } from 'ethers';
import { createAnchorer } from '../../gateway/src/anchor/anchorer.ts';
import { pgLatestRecordedCheckpoint } from '../../gateway/src/anchor/pipeline-source.ts';
import { ORIGIN, startAnchorEnv, TestLog } from '../e2e/anchor-fixture.ts';
import { type BenchContext, type BenchResult, compare, median } from './harness.ts';

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const env = await startAnchorEnv({ period: 0, config: { confirmations: 1, intervalMs: 0, pollMs: 10 } });
  const provider = new JsonRpcProvider(env.geth.rpcUrl, env.geth.chainId, {
    staticNetwork: true,
    cacheTimeout: -1,
  });
  const anchorer = createAnchorer({
    db: env.pool,
    config: env.config,
    wallet: env.wallet,
    origin: ORIGIN,
    latestRecordedCheckpoint: pgLatestRecordedCheckpoint(env.pool),
  });
  try {
    const rounds = ctx.quick ? 5 : 30;

    // Baseline: plain transfers from the same key, one at a time: signed, sent raw, and the
    // receipt polled every 5 ms, as the anchor loop below polls its ticks.
    const transferMs: number[] = [];
    let transferGas = 0n;
    let nonce = await provider.getTransactionCount(env.wallet.address, 'pending');
    const block = await provider.getBlock('latest');
    const maxFeePerGas = 2n * (block?.baseFeePerGas ?? 0n) + 10n ** 9n;
    for (let i = 0; i < rounds; i++) {
      const start = performance.now();
      const raw = await env.wallet.signTransaction({
        type: 2,
        chainId: env.geth.chainId,
        nonce: nonce++,
        to: env.geth.devAccount,
        value: 1n,
        gasLimit: 21_000n,
        maxFeePerGas,
        maxPriorityFeePerGas: 10n ** 9n,
      });
      const hash: string = await provider.send('eth_sendRawTransaction', [raw]);
      for (;;) {
        const receipt = await provider.getTransactionReceipt(hash).catch(() => null);
        if (receipt) {
          transferGas = receipt.gasUsed;
          break;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      transferMs.push(performance.now() - start);
    }

    // Anchors: one new recorded checkpoint each time, ticked until confirmed.
    const log = await TestLog.create(env.pool);
    const anchorMs: number[] = [];
    for (let i = 0; i < rounds; i++) {
      await log.appendBatch(2);
      const start = performance.now();
      for (;;) {
        const outcome = await anchorer.tick();
        if (outcome.action === 'confirmed') break;
        if (outcome.action === 'error' || outcome.action === 'failed')
          throw new Error(`anchor ${outcome.code}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      anchorMs.push(performance.now() - start);
    }
    const { rows } = await env.pool.query<{ gas_used: string }>(
      `select gas_used from anchors where status = 'confirmed' order by id`,
    );
    const gas = rows.map((r) => Number(r.gas_used));
    ctx.log(`anchor gas: first ${gas[0]}, then ${gas.slice(1, 4).join(', ')}…; transfer ${transferGas}`);

    const transferBaseline = { name: 'plain ETH transfer gas', value: Number(transferGas), unit: 'gas' };
    const transferRate = {
      name: 'plain ETH transfers confirmed/s (sequential)',
      value: 1000 / median(transferMs),
      unit: 'tx/s',
    };
    const transferLatency = {
      name: 'plain ETH transfer send→receipt p50',
      value: median(transferMs),
      unit: 'ms',
    };
    return [
      compare({ name: 'gas, first anchor of an origin', value: gas[0] ?? 0, unit: 'gas' }, transferBaseline),
      compare(
        { name: 'gas per anchor (later anchors)', value: median(gas.slice(1)), unit: 'gas' },
        transferBaseline,
      ),
      compare(
        {
          name: 'anchors confirmed/s (sequential, 1 confirmation, dev geth on demand)',
          value: 1000 / median(anchorMs),
          unit: 'anchors/s',
        },
        transferRate,
      ),
      compare(
        { name: 'anchor checkpoint→confirmed p50', value: median(anchorMs), unit: 'ms' },
        transferLatency,
      ),
    ];
  } finally {
    await anchorer.stop();
    provider.destroy();
    await env.stop();
  }
}
