import { createHash, getHashes, type Hash } from 'node:crypto';

/**
 * SM3 (GB/T 32905-2016), recorded beside SHA-256 as `digests.sm3` (China's commercial-cryptography
 * rules favour it). node:crypto has it through OpenSSL unless Node was built without it; then
 * nothing here computes one, and records carry only what a submitter sent.
 */
export const SM3_AVAILABLE = getHashes().includes('sm3');

/** A streaming SM3, or undefined where this Node has none. */
export function createSm3(): Hash | undefined {
  return SM3_AVAILABLE ? createHash('sm3') : undefined;
}
