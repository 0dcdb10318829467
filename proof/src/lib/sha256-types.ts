/** A streaming SHA-256: feed chunks of any size, then take the 32-byte digest once. */
export interface Sha256Hasher {
  update(chunk: Uint8Array): Sha256Hasher;
  digest(): Uint8Array;
}
