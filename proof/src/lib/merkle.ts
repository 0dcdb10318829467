// The log's hashes and its right frontier (RFC 6962 / RFC 9162 §2.1). Sizes are JavaScript
// numbers, so bit operations (32-bit in JavaScript) are avoided in favour of arithmetic.
import { leafHashImpl, nodeHashImpl, sha256Impl } from '#sha256-impl';
import { hashFromHex, toHex } from './encoding.ts';
import { ProofError } from './errors.ts';

export const HASH_SIZE = 32;

function checkHash(h: Uint8Array, what: string): void {
  if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) {
    throw new ProofError('BAD_LENGTH', `${what} must be ${HASH_SIZE} bytes`);
  }
}

/** RFC 6962 leaf hash: SHA-256(0x00 ‖ bytes). */
export function leafHash(bytes: Uint8Array): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new ProofError('BAD_LENGTH', 'leaf data must be bytes');
  return leafHashImpl(bytes);
}

/** RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  checkHash(left, 'left');
  checkHash(right, 'right');
  return nodeHashImpl(left, right);
}

/** The root of the empty log: SHA-256 of nothing. */
export function emptyRoot(): Uint8Array {
  return sha256Impl(new Uint8Array(0));
}

/**
 * The log's right edge: the roots of its complete subtrees, left to right, largest first. Enough
 * to append and to compute the root; `hashes.length` is the number of one bits in `size`.
 */
export interface Frontier {
  size: number;
  hashes: Uint8Array[];
}

/** The hash of leaves [index·2^level, (index+1)·2^level); level 0 is a leaf hash. */
export interface SubtreeHash {
  level: number;
  index: number;
  hash: Uint8Array;
}

export function popcount(n: number): number {
  let count = 0;
  let x = n;
  while (x > 0) {
    count += x % 2;
    x = Math.floor(x / 2);
  }
  return count;
}

function checkFrontier(frontier: Frontier): void {
  if (typeof frontier !== 'object' || frontier === null || !Array.isArray(frontier.hashes)) {
    throw new ProofError('BAD_FRONTIER', 'not a frontier');
  }
  if (!Number.isSafeInteger(frontier.size) || frontier.size < 0) {
    throw new ProofError('BAD_FRONTIER', 'size must be a non-negative safe integer');
  }
  if (frontier.hashes.length !== popcount(frontier.size)) {
    throw new ProofError('BAD_FRONTIER', 'hash count does not match the size');
  }
  for (const h of frontier.hashes) checkHash(h, 'frontier hash');
}

function checkLeaves(frontier: Frontier, leafHashes: readonly Uint8Array[]): void {
  if (frontier.size + leafHashes.length > Number.MAX_SAFE_INTEGER) {
    throw new ProofError('INDEX_OUT_OF_RANGE', 'the log would outgrow safe integers');
  }
  for (const h of leafHashes) checkHash(h, 'leaf hash');
}

export function emptyFrontier(): Frontier {
  return { size: 0, hashes: [] };
}

/** Appends leaf hashes; pure (the given frontier is not changed). */
export function appendLeaves(frontier: Frontier, leafHashes: readonly Uint8Array[]): Frontier {
  checkFrontier(frontier);
  checkLeaves(frontier, leafHashes);
  const hashes = frontier.hashes.slice();
  let size = frontier.size;
  for (let i = 0; i < leafHashes.length; i++) {
    let h = leafHashes[i]!;
    // Each trailing one bit of the old size is a complete subtree the new leaf completes.
    for (let s = size; s % 2 === 1; s = (s - 1) / 2) h = nodeHashImpl(hashes.pop()!, h);
    hashes.push(h);
    size++;
  }
  return { size, hashes };
}

/**
 * Appends leaf hashes and also returns every complete subtree the append completed (the leaves
 * themselves at level 0 included), so a store can serve proofs for any later size.
 */
export function appendLeavesWithSubtrees(
  frontier: Frontier,
  leafHashes: readonly Uint8Array[],
): { frontier: Frontier; subtrees: SubtreeHash[] } {
  checkFrontier(frontier);
  checkLeaves(frontier, leafHashes);
  const hashes = frontier.hashes.slice();
  const subtrees: SubtreeHash[] = [];
  let size = frontier.size;
  for (let i = 0; i < leafHashes.length; i++) {
    let h = leafHashes[i]!;
    subtrees.push({ level: 0, index: size, hash: h });
    let level = 0;
    for (let s = size; s % 2 === 1; s = (s - 1) / 2) {
      h = nodeHashImpl(hashes.pop()!, h);
      level++;
      subtrees.push({ level, index: (s - 1) / 2, hash: h });
    }
    hashes.push(h);
    size++;
  }
  return { frontier: { size, hashes }, subtrees };
}

/** The Merkle tree hash of the whole log. */
export function frontierRoot(frontier: Frontier): Uint8Array {
  checkFrontier(frontier);
  const n = frontier.hashes.length;
  if (n === 0) return emptyRoot();
  let root = frontier.hashes[n - 1]!;
  for (let i = n - 2; i >= 0; i--) root = nodeHashImpl(frontier.hashes[i]!, root);
  return root;
}

export interface FrontierJson {
  size: number;
  hashes: string[];
}

export function frontierToJson(frontier: Frontier): FrontierJson {
  checkFrontier(frontier);
  return { size: frontier.size, hashes: frontier.hashes.map(toHex) };
}

/** Throws `BAD_FRONTIER` or `BAD_HEX` for anything that is not a well-formed frontier. */
export function frontierFromJson(json: FrontierJson): Frontier {
  if (typeof json !== 'object' || json === null || !Array.isArray(json.hashes)) {
    throw new ProofError('BAD_FRONTIER', 'not a frontier');
  }
  const frontier = { size: json.size, hashes: json.hashes.map(hashFromHex) };
  checkFrontier(frontier);
  return frontier;
}

/**
 * The root of the Merkle tree over `leafHashes` (RFC 9162 §2.1.1) together with every leaf's
 * inclusion path (§2.1.3.1), in one pass: each node is hashed once and its hash is added to the
 * paths of the leaves under its sibling. For trees built and signed in one piece (group receipts);
 * the log itself grows through frontiers and stored subtrees instead.
 */
export function treeWithPaths(leafHashes: readonly Uint8Array[]): {
  root: Uint8Array;
  paths: Uint8Array[][];
} {
  if (leafHashes.length === 0) throw new ProofError('BAD_LENGTH', 'a tree needs at least one leaf');
  for (const h of leafHashes) checkHash(h, 'leaf hash');
  const paths: Uint8Array[][] = leafHashes.map(() => []);
  // Children are hashed before their parent adds the sibling's hash, so paths run leaf to root.
  const hashRange = (from: number, to: number): Uint8Array => {
    if (to - from === 1) return leafHashes[from]!;
    let split = 1;
    while (split * 2 < to - from) split *= 2;
    const left = hashRange(from, from + split);
    const right = hashRange(from + split, to);
    for (let i = from; i < from + split; i++) paths[i]!.push(right);
    for (let i = from + split; i < to; i++) paths[i]!.push(left);
    return nodeHashImpl(left, right);
  };
  return { root: hashRange(0, leafHashes.length), paths };
}
