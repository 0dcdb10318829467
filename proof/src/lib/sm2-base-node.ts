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
// The key comes back as a KeyObject and only its PKCS#8 DER is exported, on this thread: its
// ECPrivateKey holds k and, in its optional publicKey field, 04 ‖ x ‖ y — so x needs no SPKI.
// Asking generateKeyPair for both DER encodings cost ~90 µs of the event loop per nonce, this
// ~25 µs (docs/benchmarks.md, issue #26). The DER is read at fixed offsets, checked against the
// expected heads (any other shape, e.g. no public key in it: reject, and the caller signs
// synchronously).
const PKCS8_HEAD = Buffer.from(
  '308187020100301306072a8648ce3d020106082a811ccf5501822d046d306b0201010420',
  'hex',
);
// ECPrivateKey's `[1] publicKey BIT STRING` of an uncompressed point: a1 44 03 42 00 04.
const PUBLIC_HEAD = Buffer.from('a14403420004', 'hex');
const PKCS8_LENGTH = PKCS8_HEAD.length + 32 + PUBLIC_HEAD.length + 64;

/** A fresh nonce k and the x of [k]G, made off the event loop. */
export function sm2Nonce(): Promise<{ k: bigint; x1: bigint }> {
  return new Promise((resolve, reject) => {
    generateKeyPair('ec', { namedCurve: 'SM2' }, (error, _publicKey, privateKey) => {
      if (error) return reject(error);
      let der: Buffer;
      try {
        der = privateKey.export({ format: 'der', type: 'pkcs8' });
      } catch (e) {
        return reject(e);
      }
      const at = PKCS8_HEAD.length + 32;
      if (
        der.length !== PKCS8_LENGTH ||
        !der.subarray(0, PKCS8_HEAD.length).equals(PKCS8_HEAD) ||
        !der.subarray(at, at + PUBLIC_HEAD.length).equals(PUBLIC_HEAD)
      ) {
        return reject(new Error('unexpected SM2 key encoding'));
      }
      const hex = (b: Buffer) => BigInt(`0x${b.toString('hex')}`);
      resolve({
        k: hex(der.subarray(PKCS8_HEAD.length, at)),
        x1: hex(der.subarray(at + PUBLIC_HEAD.length, at + PUBLIC_HEAD.length + 32)),
      });
    });
  });
}
