import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type pg from 'pg';
import { ConfigError } from '../config.ts';
import { AppError, sendProblem } from '../errors.ts';
import { caip2 } from './abi.ts';
import { type Anchorer, createAnchorer, type RecordedCheckpoint } from './anchorer.ts';
import type { AnchorConfig } from './config.ts';
import { loadAnchorKey } from './key.ts';
import { pgLatestRecordedCheckpoint } from './pipeline-source.ts';
import { AnchorFetchError, createRpcAnchorFetcher, type FetchedAnchor } from './rpc-anchor-fetcher.ts';

export interface AnchorPluginOptions {
  config: AnchorConfig;
  db: pg.Pool;
  /** The log's checkpoint origin line (the gateway's `logOrigin`). */
  origin: string;
  /** Defaults to reading the pipeline's `checkpoints` and `ledger_batches` tables. */
  latestRecordedCheckpoint?: () => Promise<RecordedCheckpoint | null>;
  markAnchored?: (client: pg.PoolClient, size: number) => Promise<void>;
  /** Run the anchorer from onReady to onClose (default true); false serves the route only. */
  run?: boolean;
}

export interface AnchorDecorator {
  config: AnchorConfig;
  chainId: string;
  contract: string;
  anchorer: Anchorer | null;
  /** Reads an anchor transaction from the configured RPC (for bundles' `getAnchor`). */
  getAnchor: (ref: { chainId: string; contract: string; txHash: string }) => Promise<FetchedAnchor>;
}

declare module 'fastify' {
  interface FastifyInstance {
    anchor: AnchorDecorator;
  }
}

const txParams = {
  type: 'object',
  required: ['txHash'],
  properties: { txHash: { type: 'string', pattern: '^0x[0-9a-fA-F]{64}$' } },
} as const;

const anchorTxResponse = {
  type: 'object',
  required: ['size', 'root', 'block', 'chainId', 'contract'],
  properties: {
    size: { type: 'integer' },
    root: { type: 'string' },
    block: { type: 'integer' },
    chainId: { type: 'string' },
    contract: { type: 'string' },
    anchorer: { type: 'string' },
    confirmations: { type: 'integer' },
  },
} as const;

/**
 * Anchoring: the anchorer (from onReady until close) and the read-only proxy
 * `GET /v1/anchor/tx/{txHash}`, which reads an anchor back from the configured chain for pages
 * that cannot reach an RPC endpoint of their own.
 */
async function anchorPlugin(app: FastifyInstance, options: AnchorPluginOptions): Promise<void> {
  const { config } = options;
  if (!config.contract) {
    throw new ConfigError(
      'ANCHOR_CONTRACT',
      'is not set: deploy the contract with `lianzheng anchor deploy`',
    );
  }
  const contract = config.contract;
  const getAnchor = createRpcAnchorFetcher({ rpcUrl: config.rpcUrl, timeoutMs: config.rpcTimeoutMs });
  let anchorer: Anchorer | null = null;
  if (options.run !== false) {
    const wallet = await loadAnchorKey(config.keyFile);
    anchorer = createAnchorer({
      db: options.db,
      config: { ...config, contract },
      wallet,
      origin: options.origin,
      latestRecordedCheckpoint: options.latestRecordedCheckpoint ?? pgLatestRecordedCheckpoint(options.db),
      ...(options.markAnchored ? { markAnchored: options.markAnchored } : {}),
      log: app.log.child({ component: 'anchorer' }),
    });
    const started = anchorer;
    app.addHook('onReady', async () => started.start());
    app.addHook('onClose', async () => started.stop());
  }
  app.decorate('anchor', { config, chainId: caip2(config.chainId), contract, anchorer, getAnchor });

  app.get(
    '/v1/anchor/tx/:txHash',
    {
      schema: {
        summary: 'An anchored checkpoint read from the EVM chain through the gateway (read-only proxy)',
        tags: ['anchor'],
        params: txParams,
        response: { 200: anchorTxResponse },
      },
    },
    async (request, reply) => {
      const { txHash } = request.params as { txHash: string };
      try {
        const found = await getAnchor({ chainId: caip2(config.chainId), contract, txHash });
        return {
          size: found.size,
          root: found.root,
          block: found.block,
          chainId: found.chainId,
          contract: found.contract,
          anchorer: found.anchorer,
          confirmations: found.confirmations,
        };
      } catch (e) {
        if (e instanceof AnchorFetchError) {
          const missing =
            e.code === 'ANCHOR_TX_NOT_FOUND' ||
            e.code === 'ANCHOR_EVENT_MISSING' ||
            e.code === 'ANCHOR_TX_FAILED';
          const err = missing
            ? new AppError('NOT_FOUND', 'no anchor in that transaction', { anchorCode: e.code })
            : new AppError('SERVICE_UNAVAILABLE', undefined, { anchorCode: e.code });
          return sendProblem(request, reply, err);
        }
        throw e;
      }
    },
  );
}

export default fp(anchorPlugin, { name: 'anchor', fastify: '5.x' });
