import {
  appendLeavesWithSubtrees,
  emptyFrontier,
  frontierRoot,
  leafHash,
  MemorySubtreeStore,
  toHex,
} from '@lianzheng/proof';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeArray } from '../storage/binary-arrays.ts';
import type { Queryable } from '../storage/queryable.ts';
import { CachedSubtreeStore, frontierRefs, MissingSubtreeError } from './subtree-store.ts';

describe('frontierRefs', () => {
  it('names the complete subtrees of any size, so the frontier can be rebuilt from stored subtrees', async () => {
    const store = new MemorySubtreeStore();
    let frontier = emptyFrontier();
    const roots = [toHex(frontierRoot(frontier))];
    for (let i = 0; i < 300; i++) {
      const step = appendLeavesWithSubtrees(frontier, [leafHash(new Uint8Array([i % 256, i >> 8]))]);
      store.add(step.subtrees);
      frontier = step.frontier;
      roots.push(toHex(frontierRoot(frontier)));
    }
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 300 }), async (size) => {
        const refs = frontierRefs(size);
        const hashes = await store.getSubtrees(refs);
        expect(toHex(frontierRoot({ size, hashes }))).toBe(roots[size]);
      }),
    );
  });

  it('covers the leaves exactly once, largest subtree first', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (size) => {
        const refs = frontierRefs(size);
        let at = 0;
        for (const { level, index } of refs) {
          expect(index * 2 ** level).toBe(at);
          at += 2 ** level;
        }
        expect(at).toBe(size);
        for (let i = 1; i < refs.length; i++) expect(refs[i]!.level).toBeLessThan(refs[i - 1]!.level);
      }),
    );
  });
});

describe('CachedSubtreeStore', () => {
  /** A database holding subtrees of levels 0–3 of a 16-leaf log, counting its queries. */
  function fakeDb() {
    const hashOf = (level: number, index: number) => new Uint8Array([level, index]);
    const queries: { level: number; index: number }[][] = [];
    const db = {
      query: async (config: { values: Uint8Array[] }) => {
        const [levels, indexes] = config.values.map(decodeArray) as [number[], string[]];
        const refs = levels.map((level, i) => ({ level, index: Number(indexes[i]) }));
        queries.push(refs);
        return {
          rows: refs
            .filter((r) => r.level <= 3 && r.index < 16 >> r.level)
            .map((r) => ({
              level: r.level,
              idx: String(r.index),
              hash: Buffer.from(hashOf(r.level, r.index)),
            })),
        };
      },
    } as unknown as Queryable;
    return { db, queries, hashOf };
  }

  it('reads what concurrent proofs ask for in one query, each subtree once, and keeps it', async () => {
    const { db, queries, hashOf } = fakeDb();
    const store = new CachedSubtreeStore(db, { keepFromLevel: 0 });
    const [a, b] = await Promise.all([
      store.getSubtrees([
        { level: 3, index: 1 },
        { level: 0, index: 1 },
      ]),
      store.getSubtrees([
        { level: 3, index: 1 },
        { level: 1, index: 3 },
      ]),
    ]);
    expect(a).toEqual([hashOf(3, 1), hashOf(0, 1)]);
    expect(b).toEqual([hashOf(3, 1), hashOf(1, 3)]);
    expect(queries).toHaveLength(1);
    expect(queries[0]).toHaveLength(3);
    expect(await store.getSubtrees([{ level: 1, index: 3 }])).toEqual([hashOf(1, 3)]);
    expect(queries).toHaveLength(1);
  });

  it('fails a proof that asks for a subtree the log does not have, and does not keep the failure', async () => {
    const { db, queries } = fakeDb();
    const store = new CachedSubtreeStore(db);
    await expect(store.getSubtrees([{ level: 4, index: 0 }])).rejects.toMatchObject({
      code: 'MISSING_SUBTREE',
      level: 4,
      index: 0,
    });
    await expect(store.getSubtrees([{ level: 4, index: 0 }])).rejects.toThrow(MissingSubtreeError);
    expect(queries).toHaveLength(2);
  });

  it('keeps the levels from keepFromLevel up and reads the lower ones each time', async () => {
    const { db, queries } = fakeDb();
    const store = new CachedSubtreeStore(db, { keepFromLevel: 2 });
    const refs = [
      { level: 3, index: 1 },
      { level: 2, index: 1 },
      { level: 1, index: 1 },
      { level: 0, index: 1 },
    ];
    await store.getSubtrees(refs);
    await store.getSubtrees(refs);
    expect(queries.map((q) => q.map((r) => r.level))).toEqual([
      [3, 2, 1, 0],
      [1, 0],
    ]);
  });

  it('keeps at most cacheSize hashes, dropping the oldest', async () => {
    const { db, queries } = fakeDb();
    const store = new CachedSubtreeStore(db, { cacheSize: 2, keepFromLevel: 0 });
    for (const index of [0, 1, 2]) await store.getSubtrees([{ level: 0, index }]);
    expect(queries).toHaveLength(3);
    await store.getSubtrees([{ level: 0, index: 2 }]);
    expect(queries).toHaveLength(3);
    await store.getSubtrees([{ level: 0, index: 0 }]);
    expect(queries).toHaveLength(4);
  });
});
