// Anchoring on a real geth dev node (mining on demand, one confirmation): gas per anchor and
// anchors confirmed per second through the anchorer (outbox in PostgreSQL, sign, send, receipt,
// confirm, mark records anchored), each beside a plain ETH transfer from the same key measured in
// the same run (21,000 gas; send → receipt). The contract keeps every anchored root (rootAt); its
// gas is also set beside the first, events-only contract (network/evm/AnchorV1.sol, 30,487 gas
// per later anchor in the old bench) anchoring the same checkpoints in the same run.
import { JsonRpcProvider } from 'ethers';
import { type Anchorer, createAnchorer } from '../../gateway/src/anchor/anchorer.ts';
import {
  ANCHOR_V1_ARTEFACT_PATH,
  deployAnchorContract,
  readAnchorArtefact,
} from '../../gateway/src/anchor/deploy.ts';
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
  let anchorerV1: Anchorer | undefined;
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

    // The first contract, from the same key, anchoring the same checkpoints after each anchor.
    const v1 = await deployAnchorContract(env.wallet.connect(provider), {
      confirmations: 1,
      artefact: await readAnchorArtefact(ANCHOR_V1_ARTEFACT_PATH),
    });
    anchorerV1 = createAnchorer({
      db: env.pool,
      config: { ...env.config, contract: v1.address },
      wallet: env.wallet,
      origin: ORIGIN,
      latestRecordedCheckpoint: pgLatestRecordedCheckpoint(env.pool),
    });
    const untilConfirmed = async (a: Anchorer) => {
      for (;;) {
        const outcome = await a.tick();
        if (outcome.action === 'confirmed') return;
        if (outcome.action === 'error' || outcome.action === 'failed')
          throw new Error(`anchor ${outcome.code}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };

    // Anchors: one new recorded checkpoint each time, ticked until confirmed.
    const log = await TestLog.create(env.pool);
    const anchorMs: number[] = [];
    for (let i = 0; i < rounds; i++) {
      await log.appendBatch(2);
      const start = performance.now();
      await untilConfirmed(anchorer);
      anchorMs.push(performance.now() - start);
      await untilConfirmed(anchorerV1);
    }
    const gasOf = async (contract: string) => {
      const { rows } = await env.pool.query<{ gas_used: string }>(
        `select gas_used from anchors where status = 'confirmed' and contract = $1 order by id`,
        [contract],
      );
      return rows.map((r) => Number(r.gas_used));
    };
    const gas = await gasOf(env.contract);
    const gasV1 = await gasOf(v1.address);
    ctx.log(`anchor gas: first ${gas[0]}, then ${gas.slice(1, 4).join(', ')}…; transfer ${transferGas}`);
    ctx.log(`first (events-only) contract: first ${gasV1[0]}, then ${gasV1.slice(1, 4).join(', ')}…`);

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
    const v1Later = {
      name: 'first contract, events only (old bench: 30,487)',
      value: median(gasV1.slice(1)),
      unit: 'gas',
    };
    return [
      compare({ name: 'gas, first anchor of an origin', value: gas[0] ?? 0, unit: 'gas' }, transferBaseline),
      compare(
        { name: 'gas per anchor (later anchors)', value: median(gas.slice(1)), unit: 'gas' },
        transferBaseline,
      ),
      compare(
        { name: 'gas per anchor (later anchors), every root kept', value: median(gas.slice(1)), unit: 'gas' },
        v1Later,
      ),
      compare(
        { name: 'gas, first anchor of an origin, every root kept', value: gas[0] ?? 0, unit: 'gas' },
        { name: 'first contract, events only: first anchor', value: gasV1[0] ?? 0, unit: 'gas' },
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
    await anchorerV1?.stop();
    await anchorer.stop();
    provider.destroy();
    await env.stop();
  }
}
