import { CID } from 'multiformats/cid';
import { create as createDigest } from 'multiformats/hashes/digest';
import { createSha256Impl, sha256Impl } from '#sha256-impl';
import { ProofError } from './errors.ts';
import type { Sha256Hasher } from './sha256-types.ts';

export type { Sha256Hasher } from './sha256-types.ts';

const RAW_CODEC = 0x55;
const SHA2_256_CODE = 0x12;

/** SHA-256 of the bytes. */
export function sha256(bytes: Uint8Array): Uint8Array {
  return sha256Impl(bytes);
}

/** A streaming SHA-256 for inputs of any size: `createSha256().update(a).update(b).digest()`. */
export function createSha256(): Sha256Hasher {
  return createSha256Impl();
}

/** CIDv1, raw codec, sha2-256 multihash, base32 (`bafkrei…`) of a 32-byte SHA-256 digest. */
export function cidFromSha256(digest: Uint8Array): string {
  if (!(digest instanceof Uint8Array) || digest.length !== 32) {
    throw new ProofError('BAD_LENGTH', 'a SHA-256 digest is 32 bytes');
  }
  return CID.createV1(RAW_CODEC, createDigest(SHA2_256_CODE, digest)).toString();
}
