// Node implementation behind `#sm2-base-impl`: [k]G on the SM2 curve through OpenSSL (ECDH's
// public key of k), about four times faster than pure JavaScript; signing is the gateway's hot
// path. Only the scalar multiplication comes from OpenSSL: node:crypto cannot make SM2 signatures
// (sm2.test.ts decides that), so the signature equations stay in sm2.ts.
import { createECDH, generateKeyPair } from 'node:crypto';

const ecdh = createECDH('SM2');

/** The affine x of [k]G on the recommended SM2 curve, for 1 ≤ k < n. */
export function sm2BaseX(k: bigint): bigint {
  ecdh.setPrivateKey(Buffer.from(k.toString(16).padStart(64, '0'), 'hex'));
  return BigInt(`0x${ecdh.getPublicKey('hex').slice(2, 66)}`);
}

// An SM2 key pair from OpenSSL is a nonce with its point: k uniform in [1, n − 1] and [k]G. Made
// with the asynchronous generateKeyPair, the scalar multiplication runs on libuv's thread pool, so
// an SM2 signature costs the event loop only its big-integer arithmetic (as ES256 receipts do).
// The DER is read at fixed offsets, checked against the expected heads (any other shape: reject,
// and the caller signs synchronously).
const PKCS8_HEAD = Buffer.from(
  '308187020100301306072a8648ce3d020106082a811ccf5501822d046d306b0201010420',
  'hex',
);
const SPKI_HEAD = Buffer.from('3059301306072a8648ce3d020106082a811ccf5501822d03420004', 'hex');
const DER = {
  namedCurve: 'SM2',
  publicKeyEncoding: { type: 'spki', format: 'der' },
  privateKeyEncoding: { type: 'pkcs8', format: 'der' },
} as const;

/** A fresh nonce k and the x of [k]G, made off the event loop. */
export function sm2Nonce(): Promise<{ k: bigint; x1: bigint }> {
  return new Promise((resolve, reject) => {
    generateKeyPair('ec', DER, (error, spki, pkcs8) => {
      if (error) return reject(error);
      if (
        pkcs8.length < PKCS8_HEAD.length + 32 ||
        !pkcs8.subarray(0, PKCS8_HEAD.length).equals(PKCS8_HEAD) ||
        spki.length !== SPKI_HEAD.length + 64 ||
        !spki.subarray(0, SPKI_HEAD.length).equals(SPKI_HEAD)
      ) {
        return reject(new Error('unexpected SM2 key encoding'));
      }
      const hex = (b: Buffer) => BigInt(`0x${b.toString('hex')}`);
      resolve({
        k: hex(pkcs8.subarray(PKCS8_HEAD.length, PKCS8_HEAD.length + 32)),
        x1: hex(spki.subarray(SPKI_HEAD.length, SPKI_HEAD.length + 32)),
      });
    });
  });
}
