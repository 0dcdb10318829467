// Browser implementation behind `#sha256-impl`: pure JavaScript from @noble/hashes, so the page
// needs neither Node built-ins nor WebCrypto's async-only digest for streaming.
import { sha256 } from '@noble/hashes/sha2.js';
import type { Sha256Hasher } from './sha256-types.ts';

const ZERO = new Uint8Array([0]);
const ONE = new Uint8Array([1]);

export function sha256Impl(data: Uint8Array): Uint8Array {
  return sha256(data);
}

/** SHA-256(0x00 ‖ data) */
export function leafHashImpl(data: Uint8Array): Uint8Array {
  return sha256.create().update(ZERO).update(data).digest();
}

/** SHA-256(0x01 ‖ left ‖ right) */
export function nodeHashImpl(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256.create().update(ONE).update(left).update(right).digest();
}

export function createSha256Impl(): Sha256Hasher {
  const h = sha256.create();
  const hasher: Sha256Hasher = {
    update(chunk: Uint8Array) {
      h.update(chunk);
      return hasher;
    },
    digest() {
      return h.digest();
    },
  };
  return hasher;
}
