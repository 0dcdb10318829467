import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors.ts';
import { problemResponses } from '../../schemas.ts';
import { initPki, localPkiOptions } from '../../tsa/index.ts';

/**
 * `POST /v1/admin/keys/rotate`: a new receipt key, published with a statement of the hand-over;
 * `POST /v1/admin/keys/rotate-checkpoint`: likewise a new SM2 checkpoint key.
 */
export default async function keyRotationRoutes(app: FastifyInstance): Promise<void> {
  app.post(
    '/v1/admin/keys/rotate',
    {
      onRequest: app.requireRole('admin'),
      schema: {
        tags: ['admin'],
        summary:
          'Make a new receipt key current; the old one stays published as retired, and a statement signed by both (GET /v1/keys `rotations`) publishes the hand-over',
        security: [{ bearer: [] }],
        response: {
          200: Type.Object({
            kid: Type.String(),
            retired: Type.Array(Type.String()),
            rotation: Type.Object(
              { byPrevious: Type.String(), byNext: Type.String() },
              { description: 'The statement of this rotation (lianzheng-key-rotation/v1)' },
            ),
            sm2: Type.Optional(
              Type.Object(
                {
                  kid: Type.String(),
                  retired: Type.Array(Type.String()),
                  rotation: Type.Object({ byPrevious: Type.String(), byNext: Type.String() }),
                },
                {
                  description:
                    'With an SM2 key (CRYPTO_SUITE dual or gm): the SM2 receipt key rotated in the same step, and its statement signed by the old and new SM2 keys',
                },
              ),
            ),
          }),
          ...problemResponses(401, 403),
        },
      },
    },
    async (request) => {
      const kid = await app.keys.rotate();
      request.log.info({ kid }, 'receipt key rotated');
      // The local PKI certifies the new keys at once (an SM2 receipt key included), as the CLI's
      // `keys rotate` does; an outside CA's TSA (TSA_KEY_FILE) certifies nothing here.
      const { tsa } = app.config;
      if (tsa.enabled && !(tsa.keyFile && tsa.certFile)) await initPki(localPkiOptions(app.config, app.keys));
      const last = app.keys.lastRotation();
      const sm2Keys = app.keys.sm2ReceiptKeys();
      return {
        kid,
        rotation: last.es256!,
        retired: app.keys
          .receiptKeys()
          .filter((k) => !k.current)
          .map((k) => k.kid),
        ...(last.sm2 && sm2Keys.length
          ? {
              sm2: {
                kid: sm2Keys.find((k) => k.current)!.kid,
                retired: sm2Keys.filter((k) => !k.current).map((k) => k.kid),
                rotation: last.sm2,
              },
            }
          : {}),
      };
    },
  );

  app.post(
    '/v1/admin/keys/rotate-checkpoint',
    {
      onRequest: app.requireRole('admin'),
      schema: {
        tags: ['admin'],
        summary:
          'Make a new SM2 checkpoint key current (CRYPTO_SUITE dual or gm): the old verifier key stays published, and a note signed by both (GET /v1/keys `checkpointRotations`) publishes the hand-over',
        security: [{ bearer: [] }],
        response: {
          200: Type.Object({
            vkey: Type.String({ description: 'The new C2SP note verifier key' }),
            statement: Type.String({
              description: 'The rotation note (lianzheng-checkpoint-key-rotation/v1)',
            }),
          }),
          ...problemResponses(401, 403, 409),
        },
      },
    },
    async (request) => {
      if (!app.keys.sm2) {
        throw new AppError('CONFLICT', 'there is no SM2 checkpoint key to rotate (CRYPTO_SUITE is intl)');
      }
      const rotated = await app.keys.rotateSm2CheckpointKey();
      request.log.info({ vkey: rotated.vkey }, 'SM2 checkpoint key rotated');
      // The new key's certificate under the SM2 root, as at start (local-pki.ts).
      const { tsa } = app.config;
      if (tsa.enabled && !(tsa.keyFile && tsa.certFile)) await initPki(localPkiOptions(app.config, app.keys));
      return rotated;
    },
  );
}
