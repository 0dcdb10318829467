import { checkpointTimestampImprint } from '@lianzheng/proof';
import type { TimeStampSigner } from './signer.ts';

/**
 * A token over a checkpoint root, for the bundle's `timestamp.token` (base64 of the DER).
 * The 32-byte root hash is itself the SHA-256 imprint (it is a SHA-256 output), so
 * `openssl ts -verify -digest <root hex> -in token.der -token_in` checks it directly. With
 * `sm3` (CRYPTO_SUITE gm) the imprint is SM3 of the root's 32 bytes and the token GM/T 0033's,
 * from the SM2 TSA of a `routeByImprint` signer (proof's `checkpointTimestampImprint`; its
 * `verifyCheckpointTimestamp` reads which one a token holds). The token always carries the TSA
 * certificate (certReq), so a bundle verifies with only the root CA.
 */
export async function createTimestampToken(
  signer: TimeStampSigner,
  rootHash: Uint8Array,
  hashAlgorithm: 'sha256' | 'sm3' = 'sha256',
): Promise<Uint8Array> {
  if (rootHash.length !== 32) throw new RangeError('TSA_BAD_IMPRINT_LENGTH: a checkpoint root is 32 bytes');
  return signer.timestamp(checkpointTimestampImprint(rootHash, hashAlgorithm), {
    hashAlgorithm,
    certReq: true,
  });
}
