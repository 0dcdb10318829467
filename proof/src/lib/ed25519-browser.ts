// Browser implementation behind `#ed25519-impl`: @noble/curves, because WebCrypto Ed25519 is
// async and still missing from some browsers that closed government networks run.
import { ed25519 } from '@noble/curves/ed25519.js';

export function publicKey(seed: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(seed);
}

export function signMessage(seed: Uint8Array, message: Uint8Array): Uint8Array {
  return ed25519.sign(message, seed);
}

export function verifyMessage(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    // zip215: false = RFC 8032 rules, the same signatures OpenSSL accepts in Node.
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
