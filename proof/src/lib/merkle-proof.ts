// Inclusion and consistency proofs (RFC 6962 §2.1.1–2.1.2 to generate, RFC 9162 §2.1.3.2 and
// §2.1.4.2 to verify). Generation reads stored complete-subtree hashes; a range on the log's
// right edge that is not a complete subtree is computed from the complete subtrees tiling it.
import { nodeHashImpl } from '#sha256-impl';
import { bytesEqual } from './encoding.ts';
import { ProofError } from './errors.ts';
import { HASH_SIZE, type SubtreeHash } from './merkle.ts';

export interface SubtreeRef {
  level: number;
  index: number;
}

/**
 * Where proof generation reads complete-subtree hashes from (PostgreSQL in the gateway, memory in
 * tests). All refs a proof needs are asked for in one call; answer in the same order.
 */
export interface SubtreeSource {
  getSubtrees(refs: SubtreeRef[]): Promise<Uint8Array[]>;
}

type Range = [start: number, end: number];

function largestPowerOfTwoBelow(n: number): number {
  // For n > 1: the largest power of two strictly less than n.
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function checkSize(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new ProofError('INDEX_OUT_OF_RANGE', `${what} must be a non-negative safe integer`);
  }
}

function checkHash(h: unknown, what: string): asserts h is Uint8Array {
  if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) {
    throw new ProofError('BAD_LENGTH', `${what} must be ${HASH_SIZE} bytes`);
  }
}

/** The complete aligned subtrees that tile [start, end), largest first. */
function tile(start: number, end: number): SubtreeRef[] {
  const refs: SubtreeRef[] = [];
  let at = start;
  while (at < end) {
    let width = 1;
    let level = 0;
    while (at % (width * 2) === 0 && at + width * 2 <= end) {
      width *= 2;
      level++;
    }
    refs.push({ level, index: at / width });
    at += width;
  }
  return refs;
}

/** The ranges whose hashes form the inclusion proof of leaf m in a tree of n leaves, leaf first. */
function inclusionRanges(m: number, n: number): Range[] {
  const ranges: Range[] = [];
  let lo = 0;
  let hi = n;
  // Walk down from the root, then reverse: the proof lists siblings from the leaf up.
  while (hi - lo > 1) {
    const k = largestPowerOfTwoBelow(hi - lo);
    if (m < lo + k) {
      ranges.push([lo + k, hi]);
      hi = lo + k;
    } else {
      ranges.push([lo, lo + k]);
      lo = lo + k;
    }
  }
  return ranges.reverse();
}

/** The ranges of the consistency proof from size m to size n (0 < m < n), RFC 6962 SUBPROOF. */
function consistencyRanges(m: number, n: number): Range[] {
  const ranges: Range[] = [];
  let lo = 0;
  let hi = n;
  let mm = m;
  let complete = true;
  while (mm !== hi - lo) {
    const k = largestPowerOfTwoBelow(hi - lo);
    if (mm <= k) {
      ranges.push([lo + k, hi]);
      hi = lo + k;
    } else {
      ranges.push([lo, lo + k]);
      mm -= k;
      lo = lo + k;
      complete = false;
    }
  }
  if (!complete) ranges.push([lo, hi]);
  return ranges.reverse();
}

async function hashRanges(source: SubtreeSource, ranges: Range[]): Promise<Uint8Array[]> {
  const tiles = ranges.map(([start, end]) => tile(start, end));
  const refs: SubtreeRef[] = [];
  const seen = new Map<string, number>();
  for (const t of tiles) {
    for (const ref of t) {
      const key = `${ref.level}/${ref.index}`;
      if (!seen.has(key)) {
        seen.set(key, refs.length);
        refs.push(ref);
      }
    }
  }
  const hashes = refs.length === 0 ? [] : await source.getSubtrees(refs);
  if (!Array.isArray(hashes) || hashes.length !== refs.length) {
    throw new ProofError('BAD_SUBTREE', `asked for ${refs.length} subtrees, got a different answer`);
  }
  for (let i = 0; i < refs.length; i++) checkHash(hashes[i], `subtree ${refs[i]!.level}/${refs[i]!.index}`);
  return tiles.map((t) => {
    // A right-edge range folds from the right: MTH([a,n)) = H(first tile, MTH(rest)).
    let h = hashes[seen.get(`${t[t.length - 1]!.level}/${t[t.length - 1]!.index}`)!]!;
    for (let i = t.length - 2; i >= 0; i--)
      h = nodeHashImpl(hashes[seen.get(`${t[i]!.level}/${t[i]!.index}`)!]!, h);
    return h;
  });
}

/** The inclusion proof of leaf `index` in the tree of `size` leaves (audit path, leaf first). */
export async function generateInclusionProof(
  source: SubtreeSource,
  index: number,
  size: number,
): Promise<Uint8Array[]> {
  checkSize(index, 'index');
  checkSize(size, 'size');
  if (index >= size) throw new ProofError('INDEX_OUT_OF_RANGE', 'index must be below size');
  return hashRanges(source, inclusionRanges(index, size));
}

/** The consistency proof between the trees of `from` and `to` leaves; empty when from is 0 or to. */
export async function generateConsistencyProof(
  source: SubtreeSource,
  from: number,
  to: number,
): Promise<Uint8Array[]> {
  checkSize(from, 'from');
  checkSize(to, 'to');
  if (from > to) throw new ProofError('INDEX_OUT_OF_RANGE', 'from must not exceed to');
  if (from === 0 || from === to) return [];
  return hashRanges(source, consistencyRanges(from, to));
}

function checkProof(proof: unknown): asserts proof is Uint8Array[] {
  if (!Array.isArray(proof)) throw new ProofError('BAD_PROOF', 'a proof is a list of hashes');
  for (let i = 0; i < proof.length; i++) checkHash(proof[i], `proof[${i}]`);
}

/**
 * The root an inclusion proof leads to (RFC 9162 §2.1.3.2). Throws `INDEX_OUT_OF_RANGE`,
 * `BAD_LENGTH` or `BAD_PROOF` (a path of the wrong length).
 */
export function rootFromInclusionProof(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: Uint8Array[],
): Uint8Array {
  checkSize(index, 'index');
  checkSize(size, 'size');
  if (index >= size) throw new ProofError('INDEX_OUT_OF_RANGE', 'index must be below size');
  checkHash(leafHash, 'leaf hash');
  checkProof(proof);
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) throw new ProofError('BAD_PROOF', 'proof is too long');
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHashImpl(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHashImpl(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new ProofError('BAD_PROOF', 'proof is too short');
  return r;
}

/** Throws a coded ProofError unless the proof shows the leaf at `index` in the tree with `root`. */
export function assertInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: Uint8Array[],
  root: Uint8Array,
): void {
  checkHash(root, 'root');
  const computed = rootFromInclusionProof(leafHash, index, size, proof);
  if (!bytesEqual(computed, root)) throw new ProofError('BAD_PROOF', 'the proof leads to a different root');
}

/** True when the inclusion proof verifies; false for any failure, including malformed input. */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: Uint8Array[],
  root: Uint8Array,
): boolean {
  try {
    assertInclusion(leafHash, index, size, proof, root);
    return true;
  } catch (err) {
    if (err instanceof ProofError) return false;
    throw err;
  }
}

/**
 * Throws a coded ProofError unless the proof shows the tree of `from` leaves with `fromRoot` is a
 * prefix of the tree of `to` leaves with `toRoot` (RFC 9162 §2.1.4.2).
 */
export function assertConsistency(
  from: number,
  to: number,
  proof: Uint8Array[],
  fromRoot: Uint8Array,
  toRoot: Uint8Array,
): void {
  checkSize(from, 'from');
  checkSize(to, 'to');
  if (from > to) throw new ProofError('INDEX_OUT_OF_RANGE', 'from must not exceed to');
  checkHash(fromRoot, 'from root');
  checkHash(toRoot, 'to root');
  checkProof(proof);
  if (from === to) {
    if (proof.length !== 0) throw new ProofError('BAD_PROOF', 'equal sizes take an empty proof');
    if (!bytesEqual(fromRoot, toRoot)) throw new ProofError('BAD_PROOF', 'equal sizes with different roots');
    return;
  }
  if (from === 0) {
    // Every tree extends the empty one.
    if (proof.length !== 0) throw new ProofError('BAD_PROOF', 'from 0 takes an empty proof');
    return;
  }
  if (proof.length === 0) throw new ProofError('BAD_PROOF', 'empty proof');
  const path = isPowerOfTwo(from) ? [fromRoot, ...proof] : proof;
  let fn = from - 1;
  let sn = to - 1;
  while (fn % 2 === 1) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) throw new ProofError('BAD_PROOF', 'proof is too long');
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHashImpl(c, fr);
      sr = nodeHashImpl(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHashImpl(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new ProofError('BAD_PROOF', 'proof is too short');
  if (!bytesEqual(fr, fromRoot)) throw new ProofError('BAD_PROOF', 'the proof does not lead to the old root');
  if (!bytesEqual(sr, toRoot)) throw new ProofError('BAD_PROOF', 'the proof does not lead to the new root');
}

/** True when the consistency proof verifies; false for any failure, including malformed input. */
export function verifyConsistency(
  from: number,
  to: number,
  proof: Uint8Array[],
  fromRoot: Uint8Array,
  toRoot: Uint8Array,
): boolean {
  try {
    assertConsistency(from, to, proof, fromRoot, toRoot);
    return true;
  } catch (err) {
    if (err instanceof ProofError) return false;
    throw err;
  }
}

function isPowerOfTwo(n: number): boolean {
  let x = n;
  while (x > 1) {
    if (x % 2 !== 0) return false;
    x /= 2;
  }
  return x === 1;
}

/**
 * Complete-subtree hashes kept in memory, for tests and small tools. Feed it with
 * `appendLeavesWithSubtrees(...).subtrees`, or let `append` do both.
 */
export class MemorySubtreeStore implements SubtreeSource {
  private readonly levels: Uint8Array[][] = [];

  add(subtrees: readonly SubtreeHash[]): void {
    for (const { level, index, hash } of subtrees) {
      checkHash(hash, 'subtree hash');
      let row = this.levels[level];
      if (row === undefined) {
        row = [];
        this.levels[level] = row;
      }
      row[index] = hash;
    }
  }

  async getSubtrees(refs: SubtreeRef[]): Promise<Uint8Array[]> {
    return refs.map(({ level, index }) => {
      const h = this.levels[level]?.[index];
      if (h === undefined) throw new ProofError('MISSING_SUBTREE', `no subtree ${level}/${index}`);
      return h;
    });
  }
}
