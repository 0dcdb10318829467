// What the local PKI certifies for a gateway's keys: one function for `lianzheng pki init`,
// `lianzheng keys rotate` and the gateway's start, so none of them forgets a key (the SM2 keys
// made by rotation, issue #23).
import { createPublicKey } from 'node:crypto';
import path from 'node:path';
import type { Config } from '../config.ts';
import type { KeyRing } from '../keys/key-ring.ts';
import { sm2PublicKeyObject } from './certificate.ts';
import type { InitPkiOptions } from './pki.ts';

/**
 * What `lianzheng pki init` (and `keys rotate` after a rotation; the gateway's start should too)
 * certifies: the receipt and checkpoint keys, and with an SM2 key (CRYPTO_SUITE dual or gm) the
 * SM2 TSA, the SM2 key and every SM2 receipt and checkpoint key made by rotation, under the SM2
 * root.
 */
export function localPkiOptions(config: Config, ring: KeyRing): InitPkiOptions {
  const receiptJwk = ring.jwks().keys[0];
  return {
    dir: path.join(config.dataDir, 'pki'),
    sm2Tsa: config.cryptoSuite !== 'intl',
    ...(ring.sm2
      ? {
          sm2PublicKey: sm2PublicKeyObject(ring.sm2.publicKey),
          sm2ReceiptPublicKeys: ring
            .sm2ReceiptPublicKeys()
            .map((k) => ({ kid: k.kid, publicKey: sm2PublicKeyObject(k.publicKey) })),
          sm2CheckpointPublicKeys: ring
            .sm2CheckpointPublicKeys()
            .map((k) => ({ kid: k.kid, publicKey: sm2PublicKeyObject(k.publicKey) })),
        }
      : {}),
    ...(receiptJwk ? { receiptPublicKey: createPublicKey({ key: receiptJwk as never, format: 'jwk' }) } : {}),
    checkpointPublicKey: createPublicKey({
      key: {
        kty: 'OKP',
        crv: 'Ed25519',
        x: Buffer.from(ring.checkpointSigner.publicKey).toString('base64url'),
      },
      format: 'jwk',
    }),
  };
}
