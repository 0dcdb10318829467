import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AnchorDecorator } from '../../anchor/plugin.ts';

const AnchorSite = Type.Object({
  chainId: Type.String({ description: 'CAIP-2 chain id, eip155:<id>' }),
  contract: Type.String({ description: 'The Anchor contract, lowercase 0x address' }),
  anchorer: Type.String({ description: 'The address that sends every anchor transaction' }),
});

/** GET /v1/keys: everything a verifier needs to check a bundle offline. */
export default async function keysRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/v1/keys',
    {
      schema: {
        tags: ['verify'],
        summary:
          'Receipt keys (JWKS, current and retired), checkpoint verifier keys, TSA roots, the ledger kind and the anchoring identity',
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
            operatorRoots: Type.Array(Type.String({ pattern: '^[0-9a-f]{64}$' }), {
              description:
                "SHA-256 (hex, of the DER) of the gateway's own local PKI root: a TSA root listed here means the time-stamps come from a TSA the operator certified itself, so they vouch for the gateway's clock, not an outside one (docs/assurance.md)",
            }),
            anchor: Type.Optional(
              Type.Object(
                {
                  ...AnchorSite.properties,
                  origin: Type.String({ description: 'The checkpoint origin line the anchors are for' }),
                  originHash: Type.String({ description: 'keccak256(origin), 0x hex: the key on chain' }),
                  confirmations: Type.Integer({
                    description: 'Blocks (including the anchoring one) before a record counts as anchored',
                  }),
                  retired: Type.Array(AnchorSite, {
                    description:
                      'Earlier sites whose anchors old bundles carry (contract moves, key rotations)',
                  }),
                },
                {
                  description:
                    'Where and from which address the operator anchors (absent when anchoring is off): verifiers refuse anchors from elsewhere',
                },
              ),
            ),
          }),
        },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=60');
      const info = app.pipeline.ledger.info;
      const anchor = (app as { anchor?: AnchorDecorator }).anchor;
      return {
        jwks: app.keys.jwks(),
        checkpointKeys: [app.keys.checkpointSigner.vkey],
        ledger: info.network,
        ...(info.note ? { ledgerNote: info.note } : {}),
        tsaRoots: app.timestamps?.roots ?? [],
        operatorRoots: app.timestamps?.operatorRoots ?? [],
        ...(anchor ? { anchor: anchor.identity } : {}),
      };
    },
  );
}
