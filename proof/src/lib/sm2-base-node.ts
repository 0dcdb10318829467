// Node implementation behind `#sm2-base-impl`: [k]G on the SM2 curve through OpenSSL (ECDH's
// public key of k), about four times faster than pure JavaScript; signing is the gateway's hot
// path. Only the scalar multiplication comes from OpenSSL: node:crypto cannot make SM2 signatures
// (sm2.test.ts decides that), so the signature equations stay in sm2.ts.
import { createECDH } from 'node:crypto';

const ecdh = createECDH('SM2');

/** The affine x of [k]G on the recommended SM2 curve, for 1 ≤ k < n. */
export function sm2BaseX(k: bigint): bigint {
  ecdh.setPrivateKey(Buffer.from(k.toString(16).padStart(64, '0'), 'hex'));
  return BigInt(`0x${ecdh.getPublicKey('hex').slice(2, 66)}`);
}
