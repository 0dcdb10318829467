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
import { frontierRefs } from './subtree-store.ts';

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
