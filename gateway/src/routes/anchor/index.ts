// GET /v1/anchor/tx/{txHash}: the read-only proxy that reads an anchor back from the configured
// EVM chain for pages that cannot reach an RPC endpoint of their own. Registered only where
// anchoring is configured (routes/index.ts); the anchoring part itself is anchor/plugin.ts.
import type {} from '@fastify/swagger'; // the OpenAPI fields (summary, tags) on route schemas
import type { FastifyInstance } from 'fastify';
import type {} from '../../anchor/plugin.ts'; // the `anchor` decorator's type
import { AnchorFetchError } from '../../anchor/rpc-anchor-fetcher.ts';
import { AppError, sendProblem } from '../../errors.ts';

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

/**
 * The anchor proxy. It answers without authentication, as the verifier page does (an anchor is
 * public on the chain anyway), and only for the operator's own contracts on this chain: the
 * current one and any retired one of /v1/keys.
 */
export default async function anchorRoutes(app: FastifyInstance): Promise<void> {
  const { identity, getAnchor, chainId, contract } = app.anchor;
  // The contracts this chain's proxy reads anchors of: the current one and any retired one here.
  const readable = new Set([
    contract,
    ...identity.retired.filter((r) => r.chainId === identity.chainId).map((r) => r.contract),
  ]);

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
        const found = await getAnchor({ chainId, contract: asked, txHash });
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
