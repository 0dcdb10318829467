import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { problemResponses } from '../schemas.ts';
import { KeyRing } from './key-ring.ts';

declare module 'fastify' {
  interface FastifyInstance {
    keys: KeyRing;
  }
}

export interface KeysPluginOptions {
  keyRing?: KeyRing;
}

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

/** How often every process checks the receipt key file for a rotation made elsewhere. */
const KEY_REFRESH_MS = 1000;

/** `app.keys` (receipt and checkpoint keys), `/.well-known/jwks.json` and the admin rotation. */
async function keysPlugin(app: FastifyInstance, opts: KeysPluginOptions): Promise<void> {
  const ring =
    opts.keyRing ??
    (await KeyRing.load(app.config.keysDir, {
      logOrigin: app.config.logOrigin,
      suite: app.config.cryptoSuite,
    }));
  app.decorate('keys', ring);
  // Other processes may rotate the receipt key (the CLI on the files, a sibling API worker through
  // the admin route): pick up their change within a second, and before publishing the key set.
  const refresh = () =>
    ring.refresh().then(
      (changed) => changed && app.log.info({ kid: ring.receiptSigner.kid }, 'receipt keys reloaded'),
      (err: Error) => app.log.warn({ reason: err.message }, 'receipt key file not reloaded'),
    );
  const watcher = setInterval(refresh, KEY_REFRESH_MS);
  watcher.unref();
  app.addHook('onClose', async () => clearInterval(watcher));

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
      await refresh();
      reply.header('cache-control', 'public, max-age=300');
      return ring.jwks();
    },
  );

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
      const kid = await ring.rotate();
      request.log.info({ kid }, 'receipt key rotated');
      const last = ring.lastRotation();
      const sm2Keys = ring.sm2ReceiptKeys();
      return {
        kid,
        rotation: last.es256!,
        retired: ring
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
}

export default fp(keysPlugin, { name: 'keys', dependencies: ['config', 'auth'], fastify: '5.x' });
