import { keccak256, toUtf8Bytes, type Wallet } from 'ethers';
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

/** One (chain, contract, anchoring address): where the operator anchors, or anchored. */
export interface AnchorSiteJson {
  chainId: string; // CAIP-2
  contract: string; // lowercase 0x
  anchorer: string; // lowercase 0x
}

/** The operator's anchoring identity, published in GET /v1/keys as `anchor`. */
export interface AnchorIdentityJson extends AnchorSiteJson {
  origin: string;
  originHash: string;
  confirmations: number;
  retired: AnchorSiteJson[];
}

export interface AnchorDecorator {
  config: AnchorConfig;
  chainId: string;
  contract: string;
  anchorer: Anchorer | null;
  /** What verifiers pin: chain, contract, anchoring address, origin, confirmations. */
  identity: AnchorIdentityJson;
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

const txQuery = {
  type: 'object',
  properties: {
    contract: {
      type: 'string',
      pattern: '^0x[0-9a-fA-F]{40}$',
      description: "The bundle's contract: the current one (default) or a retired one of /v1/keys",
    },
  },
} as const;

const anchorTxResponse = {
  type: 'object',
  required: ['size', 'root', 'block', 'chainId', 'contract'],
  properties: {
    size: { type: 'integer' },
    root: { type: 'string' },
    block: { type: 'integer' },
    chainId: { type: 'string' },
    contract: { type: 'string', description: 'The contract that emitted the Anchored event' },
    anchorer: { type: 'string', description: "The event's anchorer (the contract's msg.sender)" },
    from: { type: 'string', description: "The transaction's sender" },
    originHash: { type: 'string' },
    confirmations: { type: 'integer' },
    storedRoot: {
      type: ['string', 'null'],
      description: 'The root the contract keeps for that size (rootAt); null: a contract that keeps none',
    },
  },
} as const;

/** The anchoring address: the key's, or ANCHOR_ADDRESS where this process holds no key. */
async function anchoringAddress(config: AnchorConfig, wallet: Wallet | null): Promise<string> {
  const configured = config.address ?? null;
  if (wallet) {
    const own = wallet.address.toLowerCase();
    if (configured && configured !== own) {
      throw new ConfigError('ANCHOR_ADDRESS', `is not the address of ANCHOR_KEY_FILE's key (${own})`);
    }
    return own;
  }
  if (configured) return configured;
  if (!config.keyFile) throw new ConfigError('ANCHOR_KEY_FILE', 'or ANCHOR_ADDRESS is required');
  return (await loadAnchorKey(config.keyFile)).address.toLowerCase();
}

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
  let wallet: Wallet | null = null;
  if (options.run !== false) {
    if (!config.keyFile) {
      throw new ConfigError('ANCHOR_KEY_FILE', 'is required to anchor (ANCHOR_ADDRESS alone only publishes)');
    }
    wallet = await loadAnchorKey(config.keyFile);
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
  const identity: AnchorIdentityJson = {
    chainId: caip2(config.chainId),
    contract,
    anchorer: await anchoringAddress(config, wallet),
    origin: options.origin,
    originHash: keccak256(toUtf8Bytes(options.origin)),
    confirmations: config.confirmations,
    retired: (config.retired ?? []).map((r) => ({
      chainId: caip2(r.chainId),
      contract: r.contract,
      anchorer: r.anchorer,
    })),
  };
  // The contracts this chain's proxy reads anchors of: the current one and any retired one here.
  const readable = new Set([
    contract,
    ...identity.retired.filter((r) => r.chainId === identity.chainId).map((r) => r.contract),
  ]);
  app.decorate('anchor', {
    config,
    chainId: caip2(config.chainId),
    contract,
    anchorer,
    identity,
    getAnchor,
  });

  app.get(
    '/v1/anchor/tx/:txHash',
    {
      schema: {
        summary: 'An anchored checkpoint read from the EVM chain through the gateway (read-only proxy)',
        tags: ['anchor'],
        params: txParams,
        querystring: txQuery,
        response: { 200: anchorTxResponse },
      },
    },
    async (request, reply) => {
      const { txHash } = request.params as { txHash: string };
      const asked = (request.query as { contract?: string }).contract?.toLowerCase() ?? contract;
      if (!readable.has(asked)) {
        return sendProblem(
          request,
          reply,
          new AppError('NOT_FOUND', 'not a contract this gateway anchors on', {
            anchorCode: 'ANCHOR_FOREIGN_CONTRACT',
          }),
        );
      }
      try {
        const found = await getAnchor({ chainId: caip2(config.chainId), contract: asked, txHash });
        return {
          size: found.size,
          root: found.root,
          block: found.block,
          chainId: found.chainId,
          contract: found.contract,
          anchorer: found.anchorer,
          from: found.from,
          originHash: found.originHash,
          confirmations: found.confirmations,
          storedRoot: found.storedRoot,
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
