import { ANCHOR_CHANGE_JWS_TYPE, anchorChangePayload, trustOf } from '@lianzheng/proof';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AnchorDecorator } from '../../anchor/plugin.ts';

const AnchorSite = Type.Object({
  chainId: Type.String({ description: 'CAIP-2 chain id, eip155:<id>' }),
  contract: Type.String({ description: 'The Anchor contract, lowercase 0x address' }),
  anchorer: Type.String({ description: 'The address that sends every anchor transaction' }),
});

const Rotation = Type.Object(
  {
    byPrevious: Type.String({
      description: 'Compact JWS (typ lianzheng-key-rotation+jwt) by the retired key',
    }),
    byNext: Type.String({ description: 'The same payload, signed by the key that became current' }),
  },
  {
    description:
      'A receipt key rotation: {type: "lianzheng-key-rotation/v1", previous, next: {kid, thumbprint, jwk}, at}, signed by both keys (docs: SECURITY.md, key rotation)',
  },
);

const TrustSchema = Type.Object(
  {
    format: Type.Literal('lianzheng-trust/1'),
    receiptKeys: Type.Array(
      Type.Object({
        kid: Type.Optional(Type.String()),
        thumbprint: Type.String({ description: 'RFC 7638 SHA-256 JWK thumbprint, base64url' }),
      }),
    ),
    checkpointKeys: Type.Array(Type.String({ description: 'C2SP note verifier key' })),
    tsaRoots: Type.Array(Type.String({ description: 'SHA-256 (hex) of a TSA root certificate (DER)' })),
    anchor: Type.Optional(AnchorSite),
    rotations: Type.Optional(
      Type.Array(Rotation, { description: 'Receipt key rotations so far, oldest first' }),
    ),
    checkpointRotations: Type.Optional(
      Type.Array(Type.String(), {
        description:
          'SM2 checkpoint key rotations, oldest first: signed notes (lianzheng-checkpoint-key-rotation/v1) by the old and the new key; a trust file pinning an older checkpoint key accepts the new one through them',
      }),
    ),
    witnesses: Type.Optional(
      Type.Array(Type.String({ description: 'Witness verifier key (C2SP cosignature/v1, type 0x04)' }), {
        description: 'The witnesses whose cosignatures this verifier counts (docs/witnesses.md)',
      }),
    ),
    witnessQuorum: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  {
    description:
      'The keys to pin, to keep beside `lianzheng verify --trust trust.json`: a later check fails loudly (exit 7) when the gateway publishes a key this file does not name',
  },
);

/** What GET /v1/keys publishes now; evidence packages carry the same (keys/keys.json). */
export function publishedKeys(app: FastifyInstance) {
  const info = app.pipeline.ledger.info;
  const anchor = (app as { anchor?: AnchorDecorator }).anchor;
  const checkpointRotations = app.keys.checkpointRotations();
  return {
    jwks: app.keys.jwks(),
    checkpointKeys: app.keys.checkpointKeys(),
    rotations: app.keys.rotations(),
    ...(checkpointRotations.length ? { checkpointRotations } : {}),
    ledger: info.network,
    ...(info.note ? { ledgerNote: info.note } : {}),
    tsaRoots: app.timestamps?.roots ?? [],
    operatorRoots: app.timestamps?.operatorRoots ?? [],
    ...(anchor ? { anchor: anchor.identity } : {}),
    // Outside witnesses that cosign the checkpoints (docs/witnesses.md), and the quorum.
    ...((app as { witnesses?: FastifyInstance['witnesses'] }).witnesses?.published() ?? {}),
    // Each retired anchoring site handed over to the current one, signed by the current receipt
    // key: a verifier whose trust file pins a retired site accepts the new one through it.
    ...(anchor?.identity.retired.length
      ? {
          anchorChanges: anchor.identity.retired.map((r) =>
            app.keys.signStatement(ANCHOR_CHANGE_JWS_TYPE, anchorChangePayload(r, anchor.identity)),
          ),
        }
      : {}),
  };
}

/**
 * GET /v1/keys: everything a verifier needs to check a bundle offline; `?format=trust` (or GET
 * /v1/trust.json): the same keys as fingerprints to pin (@lianzheng/proof trustOf).
 */
export default async function keysRoutes(app: FastifyInstance): Promise<void> {
  const keysNow = () => publishedKeys(app);
  const sendTrust = (reply: FastifyReply) =>
    reply
      .header('cache-control', 'public, max-age=60')
      .header('content-disposition', 'attachment; filename="trust.json"')
      .type('application/json; charset=utf-8')
      .send(`${JSON.stringify(trustOf(keysNow()), null, 2)}\n`);

  app.get(
    '/v1/trust.json',
    {
      schema: {
        tags: ['verify'],
        summary:
          'The keys to pin (receipt key thumbprints, checkpoint keys, TSA root SHA-256s, anchoring identity)',
        response: { 200: TrustSchema },
      },
    },
    async (_request, reply) => sendTrust(reply),
  );

  app.get<{ Querystring: { format?: 'keys' | 'trust' } }>(
    '/v1/keys',
    {
      schema: {
        querystring: Type.Object({
          format: Type.Optional(
            Type.Union([Type.Literal('keys'), Type.Literal('trust')], {
              description: '`trust`: the answer of GET /v1/trust.json instead',
            }),
          ),
        }),
        tags: ['verify'],
        summary:
          'Receipt keys (JWKS, current and retired), checkpoint verifier keys, TSA roots, the ledger kind and the anchoring identity',
        response: {
          200: Type.Object({
            jwks: Type.Object({ keys: Type.Array(Type.Object({}, { additionalProperties: true })) }),
            checkpointKeys: Type.Array(Type.String()),
            rotations: Type.Array(Rotation, {
              description:
                'Receipt key rotations, oldest first: a verifier holding an older trust.json accepts a newer key only through an unbroken chain of these from a key it pinned',
            }),
            checkpointRotations: Type.Optional(
              Type.Array(Type.String(), {
                description:
                  'SM2 checkpoint key rotations, oldest first: signed notes (lianzheng-checkpoint-key-rotation/v1) by the old and the new key; a trust file pinning an older checkpoint key accepts the new one through them',
              }),
            ),
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
            witnesses: Type.Optional(
              Type.Array(
                Type.Object({
                  name: Type.String({ description: 'Display name (English)' }),
                  nameZh: Type.Optional(Type.String({ description: 'Display name (Chinese)' })),
                  url: Type.String({ description: "The witness's tlog-witness submission prefix" }),
                  vkey: Type.String({
                    description: 'Verifier key name+id+base64(0x04 ‖ Ed25519 key) (C2SP tlog-cosignature)',
                  }),
                  displayName: Type.String(),
                  displayNameZh: Type.Optional(Type.String()),
                }),
                {
                  description:
                    "Outside witnesses the gateway asks to cosign each checkpoint (C2SP tlog-witness); their cosignatures follow the log's lines on /v1/log/checkpoint and are in bundles (docs/witnesses.md). Absent: no witnesses",
                },
              ),
            ),
            witnessQuorum: Type.Optional(
              Type.Integer({ minimum: 1, description: 'How many of the witnesses must cosign' }),
            ),
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
            anchorChanges: Type.Optional(
              Type.Array(Type.String(), {
                description:
                  'One per retired anchoring site: a compact JWS (typ lianzheng-anchor-change+jwt) by the current receipt key over {type: "lianzheng-anchor-change/v1", retired, next}; a trust file pinning the retired site accepts the current one through it',
              }),
            ),
          }),
        },
      },
    },
    async (request, reply) => {
      if (request.query.format === 'trust') return sendTrust(reply);
      reply.header('cache-control', 'public, max-age=60');
      return keysNow();
    },
  );
}
