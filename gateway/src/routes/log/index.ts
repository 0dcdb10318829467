import { toHex } from '@lianzheng/proof';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors.ts';
import { LogError } from '../../log/log-store.ts';
import { problemResponses } from '../../schemas.ts';

const Size = Type.String({ pattern: '^[0-9]{1,16}$' });

function asNumber(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new AppError('VALIDATION_FAILED', `${value} is not a safe integer`);
  return n;
}

/** A size or index the log cannot answer for is the client's mistake (400), with the reason. */
function logError(error: unknown): never {
  if (error instanceof LogError)
    throw new AppError('VALIDATION_FAILED', error.message, { reason: error.code });
  throw error;
}

/** The transparency log for monitors and witnesses: checkpoints, the note key, and proofs. */
export default async function logRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Querystring: { size?: string } }>(
    '/v1/log/checkpoint',
    {
      schema: {
        tags: ['log'],
        summary:
          "The latest signed checkpoint (C2SP tlog-checkpoint signed note), or the one of `size`, with the witnesses' cosignature lines after the log's own",
        querystring: Type.Object({ size: Type.Optional(Size) }),
        response: {
          200: Type.String({ description: 'text/plain signed note' }),
          ...problemResponses(400, 404, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const size = request.query.size === undefined ? undefined : asNumber(request.query.size);
      const checkpoint = await app.pipeline.log.checkpoint(size);
      if (!checkpoint)
        throw new AppError(
          'NOT_FOUND',
          size === undefined ? 'nothing recorded yet' : `no checkpoint of size ${size}`,
        );
      reply.type('text/plain; charset=utf-8');
      // Witnesses' cosignatures (C2SP tlog-cosignature) follow the log's own signature lines; they
      // arrive after the checkpoint, so with witnesses a sized checkpoint is cached briefly only.
      const witnesses = (app as { witnesses?: FastifyInstance['witnesses'] }).witnesses;
      const cosignatures = witnesses ? await witnesses.cosignatures(checkpoint.size) : [];
      const immutable = size !== undefined && !witnesses?.config;
      reply.header(
        'cache-control',
        size === undefined
          ? 'no-cache'
          : immutable
            ? 'public, max-age=31536000, immutable'
            : 'public, max-age=10',
      );
      return checkpoint.note + cosignatures.map((line) => `${line}\n`).join('');
    },
  );

  app.get(
    '/v1/log/key',
    {
      schema: {
        tags: ['log'],
        summary: 'The signed-note verifier key of the checkpoints (name+hash+base64)',
        response: { 200: Type.String({ description: 'text/plain verifier key' }) },
      },
    },
    async (_request, reply) => {
      reply.type('text/plain; charset=utf-8');
      // The suite's first checkpoint key: Ed25519 (intl, dual) or SM2 (gm); GET /v1/keys has all.
      return `${app.keys.checkpointSigners()[0]!.vkey}\n`;
    },
  );

  app.get<{ Querystring: { index: string; size: string } }>(
    '/v1/log/proof/inclusion',
    {
      schema: {
        tags: ['log'],
        summary: 'Inclusion proof of the leaf at `index` in the tree of `size` leaves (RFC 6962)',
        querystring: Type.Object({ index: Size, size: Size }),
        response: {
          200: Type.Object({
            index: Type.Integer(),
            size: Type.Integer(),
            rootHash: Type.String({ description: 'hex root of the tree of `size` leaves' }),
            path: Type.Array(Type.String(), { description: 'hex hashes, leaf first' }),
          }),
          ...problemResponses(400, 429, 503),
        },
      },
    },
    async (request) => {
      const index = asNumber(request.query.index);
      const size = asNumber(request.query.size);
      const path = await app.pipeline.log.inclusionProof(index, size).catch(logError);
      const rootHash = await app.pipeline.log.rootAt(size);
      return { index, size, rootHash: toHex(rootHash), path: path.map(toHex) };
    },
  );

  app.get<{ Querystring: { from: string; to: string } }>(
    '/v1/log/proof/consistency',
    {
      schema: {
        tags: ['log'],
        summary: 'Consistency proof between the trees of `from` and `to` leaves (RFC 6962)',
        querystring: Type.Object({ from: Size, to: Size }),
        response: {
          200: Type.Object({
            from: Type.Integer(),
            to: Type.Integer(),
            path: Type.Array(Type.String(), { description: 'hex hashes' }),
          }),
          ...problemResponses(400, 429, 503),
        },
      },
    },
    async (request) => {
      const from = asNumber(request.query.from);
      const to = asNumber(request.query.to);
      const path = await app.pipeline.log.consistencyProof(from, to).catch(logError);
      return { from, to, path: path.map(toHex) };
    },
  );
}
