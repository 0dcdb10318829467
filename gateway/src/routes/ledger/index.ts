import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors.ts';
import { problemResponses } from '../../schemas.ts';

/**
 * GET /v1/ledger/tx/{txId}: what proof's `getLedgerTx` needs — is the transaction valid, in which
 * block, and which log size and root did it record; on Fabric the gateway reads it from its peer
 * (qscc) with the organisations that endorsed it. A verifier that trusts the gateway less asks the
 * ledger directly (`lianzheng verify --fabric`, with their own organisation's credentials).
 */
export default async function ledgerRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Params: { txId: string } }>(
    '/v1/ledger/tx/:txId',
    {
      schema: {
        tags: ['verify'],
        summary: 'A ledger transaction: validity, block, and the log size and root it recorded',
        params: Type.Object({ txId: Type.String({ pattern: '^[0-9a-f]{64}$' }) }),
        response: {
          200: Type.Object({
            network: Type.Union([Type.Literal('embedded'), Type.Literal('fabric')]),
            note: Type.Optional(Type.String()),
            txId: Type.String(),
            valid: Type.Boolean(),
            validation: Type.String({ description: 'Fabric validation code name, VALID when committed' }),
            block: Type.Integer(),
            timestamp: Type.String(),
            fn: Type.String({ description: 'the contract transaction' }),
            size: Type.Optional(Type.Integer()),
            root: Type.Optional(Type.String()),
            endorsers: Type.Optional(
              Type.Array(Type.String(), {
                description: 'Fabric: MSP ids of the organisations that endorsed it',
              }),
            ),
            channel: Type.Optional(Type.String()),
            chaincode: Type.Optional(Type.String()),
          }),
          ...problemResponses(400, 404, 429, 503),
        },
      },
    },
    async (request) => {
      const ledger = app.pipeline.ledger;
      const tx = await ledger.getTx(request.params.txId);
      if (!tx) throw new AppError('NOT_FOUND', `no transaction ${request.params.txId}`);
      const { network, channel, chaincode, note } = ledger.info;
      return { network, ...(channel ? { channel, chaincode } : {}), ...(note ? { note } : {}), ...tx };
    },
  );
}
