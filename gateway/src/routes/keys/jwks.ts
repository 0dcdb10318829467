import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';

const Jwk = Type.Object(
  {
    kty: Type.String(),
    kid: Type.String(),
    alg: Type.Optional(Type.String()),
    use: Type.Optional(Type.String()),
    crv: Type.Optional(Type.String()),
    x: Type.Optional(Type.String()),
    y: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
const Jwks = Type.Object({ keys: Type.Array(Jwk) });

/** `/.well-known/jwks.json`: the receipt keys (and the SM2 one) for any JOSE library. */
export default async function jwksRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['keys'],
        summary:
          'Receipt (ES256) and checkpoint (Ed25519) public keys, current and retired, and the SM2 key (kty EC, crv SM2, alg SM2-with-SM3) where CRYPTO_SUITE is dual or gm',
        response: { 200: Jwks },
      },
    },
    async (_request, reply) => {
      await app.refreshKeys();
      reply.header('cache-control', 'public, max-age=300');
      return app.keys.jwks();
    },
  );
}
