// The root the chaincode computes for each batch equals proof/'s frontier root over the same leaves,
// and a naive RFC 6962 root, however the records are split into batches.

import {
  appendLeaves,
  emptyFrontier,
  frontierRoot,
  leafHash,
  nodeHash,
  recordLeafHash,
  toHex,
} from '@lianzheng/proof';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildEntry, ContractDriver, testRecordId, villageRoadProject } from './testing/index.ts';

const P = 'XC-2025-ROAD-001';

function naiveRoot(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(naiveRoot(leaves.slice(0, k)), naiveRoot(leaves.slice(k)));
}

describe('the ledger-side log', () => {
  it('matches proof/ for random batch splits', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }),
        async (sizes) => {
          const driver = new ContractDriver();
          await driver.init();
          await driver.register(villageRoadProject(P));
          let n = 0;
          const leaves: Uint8Array[] = [];
          for (const size of sizes) {
            const entries = Array.from({ length: size }, () =>
              buildEntry({ id: testRecordId(++n), projectId: P, kind: 'other' }),
            );
            leaves.push(...entries.map((entry) => recordLeafHash(entry.record)));
            const result = await driver.record(entries);
            expect(result.toSize).toBe(leaves.length);
            expect(result.root).toBe(toHex(frontierRoot(appendLeaves(emptyFrontier(), leaves))));
            expect(result.root).toBe(toHex(naiveRoot(leaves)));
            expect(await driver.query('GetCheckpoint', [String(leaves.length)])).toEqual({
              size: leaves.length,
              root: result.root,
            });
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('hashes the record exactly as proof/ does (H(0x00 ‖ canonical JSON))', async () => {
    const driver = new ContractDriver();
    await driver.init();
    await driver.register(villageRoadProject(P));
    const entry = buildEntry({ id: testRecordId(1), projectId: P, kind: 'notice', refs: undefined });
    const result = await driver.record([entry]);
    // Records hold only ASCII strings, a small integer and nested objects: sorting keys is RFC 8785 here.
    const sortKeys = (v: unknown): unknown =>
      v && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(
            Object.entries(v)
              .sort(([a], [b]) => (a < b ? -1 : 1))
              .map(([k, x]) => [k, sortKeys(x)]),
          )
        : v;
    expect(result.root).toBe(
      toHex(leafHash(new TextEncoder().encode(JSON.stringify(sortKeys(entry.record))))),
    );
  });
});
