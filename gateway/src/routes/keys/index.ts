import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';

/** GET /v1/keys: everything a verifier needs to check a bundle offline. */
export default async function keysRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/v1/keys',
    {
      schema: {
        tags: ['verify'],
        summary:
          'Receipt keys (JWKS, current and retired), checkpoint verifier keys, TSA roots and the ledger kind',
        response: {
          200: Type.Object({
            jwks: Type.Object({ keys: Type.Array(Type.Object({}, { additionalProperties: true })) }),
            checkpointKeys: Type.Array(Type.String()),
            ledger: Type.Union([Type.Literal('embedded'), Type.Literal('fabric')]),
            ledgerNote: Type.Optional(Type.String()),
            tsaRoots: Type.Array(Type.String(), {
              description:
                'PEM root certificates for the RFC 3161 tokens in bundles (empty when the TSA is off)',
            }),
          }),
        },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=60');
      const info = app.pipeline.ledger.info;
      return {
        jwks: app.keys.jwks(),
        checkpointKeys: [app.keys.checkpointSigner.vkey],
        ledger: info.network,
        ...(info.note ? { ledgerNote: info.note } : {}),
        tsaRoots: app.timestamps?.roots ?? [],
      };
    },
  );
}
