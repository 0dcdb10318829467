import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import ct from '../../test-vectors/merkle-ct.json' with { type: 'json' };
import { sha256 } from './digest.ts';
import { fromHex, toHex } from './encoding.ts';
import { ProofError } from './errors.ts';
import {
  appendLeaves,
  appendLeavesWithSubtrees,
  emptyFrontier,
  emptyRoot,
  type Frontier,
  frontierFromJson,
  frontierRoot,
  frontierToJson,
  leafHash,
  nodeHash,
  treeWithPaths,
} from './merkle.ts';
import {
  assertConsistency,
  assertInclusion,
  generateConsistencyProof,
  generateInclusionProof,
  MemorySubtreeStore,
  rootFromInclusionProof,
  type SubtreeRef,
  type SubtreeSource,
  verifyConsistency,
  verifyInclusion,
} from './merkle-proof.ts';

// A naive RFC 6962 §2.1 implementation, written straight from the definitions over node:crypto, to
// check against. MTH is memoised by range only so that property runs over 10,000 leaves stay fast.
function nodeSha(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}
function naiveLeaf(data: Uint8Array): Uint8Array {
  return nodeSha(new Uint8Array([0]), data);
}
function naiveNode(l: Uint8Array, r: Uint8Array): Uint8Array {
  return nodeSha(new Uint8Array([1]), l, r);
}
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
const memo = new Map<string, Uint8Array>();
function mthRange(leaves: Uint8Array[], lo: number, hi: number): Uint8Array {
  if (hi - lo === 0) return nodeSha();
  if (hi - lo === 1) return leaves[lo]!;
  const key = leaves === many ? `${lo}:${hi}` : undefined;
  const hit = key === undefined ? undefined : memo.get(key);
  if (hit !== undefined) return hit;
  const k = split(hi - lo);
  const h = naiveNode(mthRange(leaves, lo, lo + k), mthRange(leaves, lo + k, hi));
  if (key !== undefined) memo.set(key, h);
  return h;
}
function mth(leaves: Uint8Array[], lo = 0, hi = leaves.length): Uint8Array {
  return mthRange(leaves, lo, hi);
}
function naivePath(m: number, leaves: Uint8Array[], lo = 0, hi = leaves.length): Uint8Array[] {
  if (hi - lo <= 1) return [];
  const k = split(hi - lo);
  return m < k
    ? [...naivePath(m, leaves, lo, lo + k), mth(leaves, lo + k, hi)]
    : [...naivePath(m - k, leaves, lo + k, hi), mth(leaves, lo, lo + k)];
}
function naiveSubproof(m: number, leaves: Uint8Array[], lo: number, hi: number, b: boolean): Uint8Array[] {
  if (m === hi - lo) return b ? [] : [mth(leaves, lo, hi)];
  const k = split(hi - lo);
  return m <= k
    ? [...naiveSubproof(m, leaves, lo, lo + k, b), mth(leaves, lo + k, hi)]
    : [...naiveSubproof(m - k, leaves, lo + k, hi, false), mth(leaves, lo, lo + k)];
}
function naiveConsistency(m: number, leaves: Uint8Array[], n = leaves.length): Uint8Array[] {
  return m === 0 || m === n ? [] : naiveSubproof(m, leaves, 0, n, true);
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof ProofError ? err.code : `untyped ${String(err)}`;
  }
  return undefined;
}
async function asyncCodeOf(fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn();
  } catch (err) {
    return err instanceof ProofError ? err.code : `untyped ${String(err)}`;
  }
  return undefined;
}

const hexes = (hs: Uint8Array[]) => hs.map(toHex);
const ctLeaves = ct.leaves.map((h) => leafHash(fromHex(h)));

function buildStore(leaves: Uint8Array[], batches: number[] = [leaves.length]) {
  const store = new MemorySubtreeStore();
  let frontier = emptyFrontier();
  let at = 0;
  for (const n of batches) {
    const r = appendLeavesWithSubtrees(frontier, leaves.slice(at, at + n));
    store.add(r.subtrees);
    frontier = r.frontier;
    at += n;
  }
  const rest = appendLeavesWithSubtrees(frontier, leaves.slice(at));
  store.add(rest.subtrees);
  return { store, frontier: rest.frontier };
}

// Shared synthetic leaves for the property tests (distinct by construction).
const MAX = 10_000;
const many = Array.from({ length: MAX }, (_, i) => naiveLeaf(new TextEncoder().encode(`leaf ${i}`)));
const big = buildStore(many);
const rootCache = new Map<number, Uint8Array>();
function rootOf(n: number): Uint8Array {
  let r = rootCache.get(n);
  if (r === undefined) {
    r = mth(many, 0, n);
    rootCache.set(n, r);
  }
  return r;
}
function flipBit(hs: Uint8Array[], which: number, bit: number): Uint8Array[] {
  return hs.map((h, i) => {
    if (i !== which) return h;
    const c = h.slice();
    c[bit >> 3]! ^= 1 << (bit & 7);
    return c;
  });
}

describe('RFC 6962 hashes', () => {
  it('leaf and node hashes follow the definitions', () => {
    const data = new Uint8Array([1, 2, 3]);
    expect(toHex(leafHash(data))).toBe(toHex(naiveLeaf(data)));
    const [a, b] = [sha256(new Uint8Array([1])), sha256(new Uint8Array([2]))];
    expect(toHex(nodeHash(a, b))).toBe(toHex(naiveNode(a, b)));
    expect(toHex(emptyRoot())).toBe(ct.roots[0]);
  });

  it('refuses node hashes of the wrong length with BAD_LENGTH', () => {
    expect(codeOf(() => nodeHash(new Uint8Array(31), new Uint8Array(32)))).toBe('BAD_LENGTH');
    expect(codeOf(() => nodeHash(new Uint8Array(32), new Uint8Array(33)))).toBe('BAD_LENGTH');
    expect(codeOf(() => leafHash('x' as unknown as Uint8Array))).toBe('BAD_LENGTH');
  });
});

describe('the CT reference tree', () => {
  it('gives the reference root for every size 0..8', () => {
    for (let n = 0; n <= 8; n++) {
      expect(toHex(frontierRoot(appendLeaves(emptyFrontier(), ctLeaves.slice(0, n))))).toBe(ct.roots[n]);
    }
  });

  it.each(ct.inclusion)('inclusion proof of leaf $index in size $size', async (v) => {
    const { store } = buildStore(ctLeaves.slice(0, v.size));
    expect(hexes(await generateInclusionProof(store, v.index, v.size))).toEqual(v.path);
    expect(
      verifyInclusion(ctLeaves[v.index]!, v.index, v.size, v.path.map(fromHex), fromHex(ct.roots[v.size]!)),
    ).toBe(true);
  });

  it.each(ct.consistency)('consistency proof from $from to $to', async (v) => {
    const { store } = buildStore(ctLeaves.slice(0, v.to));
    expect(hexes(await generateConsistencyProof(store, v.from, v.to))).toEqual(v.proof);
    const ok = verifyConsistency(
      v.from,
      v.to,
      v.proof.map(fromHex),
      fromHex(ct.roots[v.from]!),
      fromHex(ct.roots[v.to]!),
    );
    expect(ok).toBe(true);
  });

  it('proves every leaf and every size pair of the 8-leaf tree, also from the full tree store', async () => {
    const { store } = buildStore(ctLeaves);
    for (let n = 1; n <= 8; n++) {
      for (let i = 0; i < n; i++) {
        const path = await generateInclusionProof(store, i, n);
        expect(hexes(path)).toEqual(hexes(naivePath(i, ctLeaves.slice(0, n))));
        expect(verifyInclusion(ctLeaves[i]!, i, n, path, fromHex(ct.roots[n]!))).toBe(true);
      }
      for (let m = 0; m <= n; m++) {
        const proof = await generateConsistencyProof(store, m, n);
        expect(verifyConsistency(m, n, proof, fromHex(ct.roots[m]!), fromHex(ct.roots[n]!))).toBe(true);
      }
    }
  });
});

describe('the frontier', () => {
  it('matches the naive tree hash whatever the batch split', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 8 }), (batches) => {
        let f = emptyFrontier();
        let at = 0;
        for (const n of batches) {
          const before = frontierToJson(f);
          const next = appendLeaves(f, many.slice(at, at + n));
          expect(frontierToJson(f)).toEqual(before); // pure
          f = next;
          at += n;
          expect(f.size).toBe(at);
          expect(toHex(frontierRoot(f))).toBe(toHex(rootOf(at)));
        }
      }),
      { numRuns: 50 },
    );
  });

  it('reports every completed subtree with the right level and index', () => {
    const { frontier, subtrees } = appendLeavesWithSubtrees(
      appendLeaves(emptyFrontier(), many.slice(0, 5)),
      many.slice(5, 8),
    );
    expect(frontier.size).toBe(8);
    const got = subtrees.map((s) => [s.level, s.index, toHex(s.hash)]);
    expect(got).toEqual([
      [0, 5, toHex(many[5]!)],
      [1, 2, toHex(mth(many.slice(4, 6)))],
      [0, 6, toHex(many[6]!)],
      [0, 7, toHex(many[7]!)],
      [1, 3, toHex(mth(many.slice(6, 8)))],
      [2, 1, toHex(mth(many.slice(4, 8)))],
      [3, 0, toHex(mth(many.slice(0, 8)))],
    ]);
  });

  it('round-trips through JSON and refuses malformed frontiers', () => {
    const f = appendLeaves(emptyFrontier(), many.slice(0, 13));
    const json = frontierToJson(f);
    expect(json.hashes.length).toBe(3);
    expect(frontierToJson(frontierFromJson(json))).toEqual(json);
    expect(codeOf(() => frontierFromJson({ size: 12, hashes: json.hashes }))).toBe('BAD_FRONTIER');
    expect(codeOf(() => frontierFromJson({ size: -1, hashes: [] }))).toBe('BAD_FRONTIER');
    expect(codeOf(() => frontierFromJson({ size: 1, hashes: ['zz'] }))).toBe('BAD_HEX');
    expect(codeOf(() => frontierFromJson(null as never))).toBe('BAD_FRONTIER');
    const short: Frontier = { size: 1, hashes: [new Uint8Array(31)] };
    expect(codeOf(() => appendLeaves(short, []))).toBe('BAD_LENGTH');
    expect(codeOf(() => appendLeaves(f, [new Uint8Array(16)]))).toBe('BAD_LENGTH');
    expect(codeOf(() => appendLeaves({ size: Number.MAX_SAFE_INTEGER, hashes: [] }, []))).toBe(
      'BAD_FRONTIER',
    );
  });

  it('refuses to outgrow safe integers', () => {
    const size = Number.MAX_SAFE_INTEGER; // 2^53 - 1: 53 one bits
    const f = { size, hashes: Array.from({ length: 53 }, () => new Uint8Array(32)) };
    expect(codeOf(() => appendLeaves(f, [new Uint8Array(32)]))).toBe('INDEX_OUT_OF_RANGE');
  });
});

describe('proofs against the naive implementation (property tests, sizes up to 10,000)', () => {
  const sizes = fc.integer({ min: 1, max: MAX });

  it('every inclusion proof is the naive one and verifies; a flipped bit, wrong index or wrong size fails', async () => {
    await fc.assert(
      fc.asyncProperty(sizes, fc.nat(), fc.nat(), fc.nat(), async (size, i0, bitSeed, other) => {
        const index = i0 % size;
        const root = rootOf(size);
        const path = await generateInclusionProof(big.store, index, size);
        expect(hexes(path)).toEqual(hexes(naivePath(index, many, 0, size)));
        const leaf = many[index]!;
        expect(verifyInclusion(leaf, index, size, path, root)).toBe(true);
        expect(toHex(rootFromInclusionProof(leaf, index, size, path))).toBe(toHex(root));
        // a flipped bit anywhere: in the path, the leaf or the root
        const where = bitSeed % (path.length + 2);
        const bit = bitSeed % 256;
        if (where < path.length)
          expect(verifyInclusion(leaf, index, size, flipBit(path, where, bit), root)).toBe(false);
        else if (where === path.length)
          expect(verifyInclusion(flipBit([leaf], 0, bit)[0]!, index, size, path, root)).toBe(false);
        else expect(verifyInclusion(leaf, index, size, path, flipBit([root], 0, bit)[0]!)).toBe(false);
        // a wrong index
        if (size > 1) {
          const wrong = (index + 1 + (other % (size - 1))) % size;
          expect(verifyInclusion(leaf, wrong, size, path, root)).toBe(false);
        }
        // a wrong size, checked against that size's root (a path may fit several sizes; the root
        // in the signed checkpoint is what pins the size)
        const wrongSize = index + 1 + (other % MAX);
        if (wrongSize !== size && wrongSize <= MAX) {
          expect(verifyInclusion(leaf, index, wrongSize, path, rootOf(wrongSize))).toBe(false);
        }
        if (path.length > 0) expect(verifyInclusion(leaf, index, size, path.slice(1), root)).toBe(false);
        expect(verifyInclusion(leaf, index, size, [...path, root], root)).toBe(false);
      }),
      { numRuns: 150 },
    );
  }, 60_000);

  it('every consistency proof is the naive one and verifies; a flipped bit, wrong from or wrong to fails', async () => {
    await fc.assert(
      fc.asyncProperty(sizes, fc.nat(), fc.nat(), fc.nat(), async (to, f0, bitSeed, other) => {
        const from = f0 % (to + 1);
        const proof = await generateConsistencyProof(big.store, from, to);
        expect(hexes(proof)).toEqual(hexes(naiveConsistency(from, many, to)));
        const [r1, r2] = [rootOf(from), rootOf(to)];
        expect(verifyConsistency(from, to, proof, r1, r2)).toBe(true);
        if (proof.length > 0) {
          const where = bitSeed % proof.length;
          expect(verifyConsistency(from, to, flipBit(proof, where, bitSeed % 256), r1, r2)).toBe(false);
          expect(verifyConsistency(from, to, proof.slice(1), r1, r2)).toBe(false);
          expect(verifyConsistency(from, to, [...proof, r1], r1, r2)).toBe(false);
        }
        if (from > 0) {
          expect(verifyConsistency(from, to, proof, flipBit([r1], 0, bitSeed % 256)[0]!, r2)).toBe(false);
        }
        if (from > 0 && from < to) {
          expect(verifyConsistency(from, to, proof, r1, flipBit([r2], 0, bitSeed % 256)[0]!)).toBe(false);
          const wrongFrom = 1 + ((from + other) % (to - 1));
          if (wrongFrom !== from)
            expect(verifyConsistency(wrongFrom, to, proof, rootOf(wrongFrom), r2)).toBe(false);
          const wrongTo = from + 1 + (other % MAX);
          if (wrongTo !== to && wrongTo <= MAX)
            expect(verifyConsistency(from, wrongTo, proof, r1, rootOf(wrongTo))).toBe(false);
        }
      }),
      { numRuns: 150 },
    );
  }, 60_000);

  it('generates the same proofs from a store fed in random batches', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 6 }),
        fc.nat(),
        async (batches, seed) => {
          const total = batches.reduce((a, b) => a + b, 0);
          const { store, frontier } = buildStore(many.slice(0, total), batches);
          expect(toHex(frontierRoot(frontier))).toBe(toHex(rootOf(total)));
          const size = 1 + (seed % total);
          const index = seed % size;
          expect(hexes(await generateInclusionProof(store, index, size))).toEqual(
            hexes(naivePath(index, many, 0, size)),
          );
          const from = seed % (size + 1);
          expect(hexes(await generateConsistencyProof(store, from, size))).toEqual(
            hexes(naiveConsistency(from, many, size)),
          );
        },
      ),
      { numRuns: 40 },
    );
  }, 60_000);
});

describe('treeWithPaths (a tree built and signed in one piece)', () => {
  it('gives the naive root and every leaf its naive path, for every size up to 300', () => {
    for (let size = 1; size <= 300; size++) {
      const leaves = many.slice(0, size);
      const { root, paths } = treeWithPaths(leaves);
      expect(toHex(root)).toBe(toHex(rootOf(size)));
      expect(paths).toHaveLength(size);
      for (let i = 0; i < size; i++) expect(hexes(paths[i]!)).toEqual(hexes(naivePath(i, many, 0, size)));
    }
  });

  it('refuses no leaves and leaves that are not hashes', () => {
    expect(codeOf(() => treeWithPaths([]))).toBe('BAD_LENGTH');
    expect(codeOf(() => treeWithPaths([many[0]!, new Uint8Array(31)]))).toBe('BAD_LENGTH');
  });
});

describe('proof generation reads the source once', () => {
  it('asks for all refs in one batched call, each once', async () => {
    const calls: SubtreeRef[][] = [];
    const source: SubtreeSource = {
      getSubtrees: (refs) => {
        calls.push(refs);
        return big.store.getSubtrees(refs);
      },
    };
    await generateInclusionProof(source, 5000, 9999);
    expect(calls.length).toBe(1);
    await generateConsistencyProof(source, 1234, 9999);
    expect(calls.length).toBe(2);
    for (const refs of calls)
      expect(new Set(refs.map((r) => `${r.level}/${r.index}`)).size).toBe(refs.length);
    expect(await generateInclusionProof(source, 0, 1)).toEqual([]);
    expect(calls.length).toBe(2); // a one-leaf tree needs nothing
  });

  it('reports a source that answers wrongly with BAD_SUBTREE, and missing subtrees with MISSING_SUBTREE', async () => {
    const short: SubtreeSource = { getSubtrees: async (refs) => refs.slice(1).map(() => new Uint8Array(32)) };
    expect(await asyncCodeOf(() => generateInclusionProof(short, 3, 10))).toBe('BAD_SUBTREE');
    const badLength: SubtreeSource = { getSubtrees: async (refs) => refs.map(() => new Uint8Array(8)) };
    expect(await asyncCodeOf(() => generateConsistencyProof(badLength, 3, 10))).toBe('BAD_LENGTH');
    const { store } = buildStore(many.slice(0, 10));
    expect(await asyncCodeOf(() => generateInclusionProof(store, 3, 11))).toBe('MISSING_SUBTREE');
  });
});

describe('bad input', () => {
  const root = rootOf(8);
  const leaf = many[3]!;
  const path = naivePath(3, many, 0, 8);

  it('indexes out of range fail with INDEX_OUT_OF_RANGE', async () => {
    expect(codeOf(() => rootFromInclusionProof(leaf, 8, 8, path))).toBe('INDEX_OUT_OF_RANGE');
    expect(codeOf(() => rootFromInclusionProof(leaf, -1, 8, path))).toBe('INDEX_OUT_OF_RANGE');
    expect(codeOf(() => rootFromInclusionProof(leaf, 1.5, 8, path))).toBe('INDEX_OUT_OF_RANGE');
    expect(codeOf(() => rootFromInclusionProof(leaf, 0, 2 ** 53, path))).toBe('INDEX_OUT_OF_RANGE');
    expect(codeOf(() => assertConsistency(9, 8, [], root, root))).toBe('INDEX_OUT_OF_RANGE');
    expect(await asyncCodeOf(() => generateInclusionProof(big.store, 8, 8))).toBe('INDEX_OUT_OF_RANGE');
    expect(await asyncCodeOf(() => generateConsistencyProof(big.store, 9, 8))).toBe('INDEX_OUT_OF_RANGE');
    expect(await asyncCodeOf(() => generateConsistencyProof(big.store, 1, Number.NaN))).toBe(
      'INDEX_OUT_OF_RANGE',
    );
    expect(verifyInclusion(leaf, 8, 8, path, root)).toBe(false);
  });

  it('wrong-length hashes fail with BAD_LENGTH', () => {
    expect(codeOf(() => rootFromInclusionProof(leaf.subarray(1), 3, 8, path))).toBe('BAD_LENGTH');
    expect(codeOf(() => rootFromInclusionProof(leaf, 3, 8, [path[0]!, new Uint8Array(33), path[2]!]))).toBe(
      'BAD_LENGTH',
    );
    expect(codeOf(() => assertInclusion(leaf, 3, 8, path, new Uint8Array(0)))).toBe('BAD_LENGTH');
    expect(codeOf(() => assertConsistency(4, 8, [root], new Uint8Array(3), root))).toBe('BAD_LENGTH');
    expect(verifyInclusion(leaf, 3, 8, path, new Uint8Array(0))).toBe(false);
  });

  it('wrong proofs fail with BAD_PROOF', () => {
    expect(codeOf(() => rootFromInclusionProof(leaf, 3, 8, path.slice(0, 2)))).toBe('BAD_PROOF');
    expect(codeOf(() => rootFromInclusionProof(leaf, 3, 8, [...path, root]))).toBe('BAD_PROOF');
    expect(codeOf(() => rootFromInclusionProof(leaf, 3, 8, 'nope' as never))).toBe('BAD_PROOF');
    expect(codeOf(() => assertInclusion(leaf, 3, 8, path, rootOf(7)))).toBe('BAD_PROOF');
    expect(codeOf(() => assertConsistency(8, 8, [root], root, root))).toBe('BAD_PROOF');
    expect(codeOf(() => assertConsistency(8, 8, [], root, rootOf(7)))).toBe('BAD_PROOF');
    expect(codeOf(() => assertConsistency(0, 8, [root], rootOf(0), root))).toBe('BAD_PROOF');
    expect(codeOf(() => assertConsistency(3, 8, [], rootOf(3), root))).toBe('BAD_PROOF');
  });

  it('the boolean verifiers never throw on garbage', () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything(), fc.anything(), fc.anything(), (a, b, c, d) => {
        expect(typeof verifyInclusion(a as never, b as never, c as never, d as never, root)).toBe('boolean');
        expect(typeof verifyConsistency(a as never, b as never, c as never, d as never, root)).toBe(
          'boolean',
        );
      }),
    );
  });
});
