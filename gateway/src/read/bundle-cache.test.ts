import {
  appendLeavesWithSubtrees,
  emptyFrontier,
  generateInclusionProof,
  leafHash,
  MemorySubtreeStore,
  type SubtreeRef,
  toHex,
} from '@lianzheng/proof';
import { describe, expect, it } from 'vitest';
import type { SubmissionRow } from '../intake/submission-store.ts';
import type { LogStore } from '../log/log-store.ts';
import { BundleBuilder } from './bundle.ts';

// A stand-in log (a unit test of the cache around it): a 20-hash path, one note per size.
function fakeLog(calls: { proofs: number; notes: number }): LogStore {
  return {
    async inclusionProof() {
      calls.proofs++;
      return Array.from({ length: 20 }, () => new Uint8Array(32));
    },
    async checkpoint(size: number) {
      calls.notes++;
      return { size, root: new Uint8Array(32), note: `note for ${size}\n`, createdAt: new Date() };
    },
  } as unknown as LogStore;
}

function row(i: number, size = 1000): SubmissionRow {
  const id = `0190a0b0-0000-7000-8000-${String(i).padStart(12, '0')}`;
  return {
    seq: String(i),
    id,
    project_id: 'p',
    sha256: '00'.repeat(32),
    kind: 'other',
    record_json: JSON.stringify({ id, pad: 'x'.repeat(900) }),
    details_json: '{"salt":"00"}',
    receipt: 'r'.repeat(700),
    receipt_sm2: null,
    status: 'recorded',
    leaf_index: String(i),
    reject_code: null,
    accepted_at: new Date(),
    owner_org: null,
    region_code: null,
    batch_to_size: String(size),
    batch_tx_id: 'tx',
    batch_block: '1',
    batch_validation: 'VALID',
    batch_endorsers: null,
    batch_root: Buffer.alloc(32),
    flags: [],
    superseded_by: null,
    withdrawn_by: null,
  };
}

describe('BundleBuilder cache bounds', () => {
  it('keeps the estimated bytes under cacheBytes, evicting the least recently used', async () => {
    const calls = { proofs: 0, notes: 0 };
    const builder = new BundleBuilder(fakeLog(calls), { network: 'embedded' }, { cacheBytes: 64 * 1024 });
    for (let i = 0; i < 200; i++) await builder.bundle(row(i), false);
    const stats = builder.cacheStats();
    expect(stats.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(stats.entries).toBeGreaterThan(5);
    expect(stats.entries).toBeLessThan(200);
    // The newest is still there (no new proof); the oldest was evicted (a new proof).
    const before = calls.proofs;
    await builder.bundle(row(199), false);
    expect(calls.proofs).toBe(before);
    await builder.bundle(row(0), false);
    expect(calls.proofs).toBe(before + 1);
  });

  it('keeps at most cacheSize entries, and a hit refreshes an entry', async () => {
    const calls = { proofs: 0, notes: 0 };
    const builder = new BundleBuilder(fakeLog(calls), { network: 'embedded' }, { cacheSize: 3 });
    for (const i of [1, 2, 3]) await builder.bundle(row(i), false);
    await builder.bundle(row(1), false); // 1 is now the most recent
    await builder.bundle(row(4), false); // evicts 2
    expect(builder.cacheStats().entries).toBe(3);
    const before = calls.proofs;
    await builder.bundle(row(1), false);
    expect(calls.proofs).toBe(before);
    await builder.bundle(row(2), false);
    expect(calls.proofs).toBe(before + 1);
  });

  it('keeps at most noteCacheSize checkpoint notes, dropping the oldest one at a time', async () => {
    const calls = { proofs: 0, notes: 0 };
    const builder = new BundleBuilder(
      fakeLog(calls),
      { network: 'embedded' },
      { noteCacheSize: 2, cacheSize: 1 },
    );
    for (const size of [10, 20, 30]) await builder.bundle(row(1, size), false);
    expect(builder.cacheStats().notes).toBe(2);
    const before = calls.notes;
    await builder.bundle(row(2, 30), false);
    expect(calls.notes).toBe(before);
    await builder.bundle(row(3, 10), false);
    expect(calls.notes).toBe(before + 1);
  });
});

describe('BundleBuilder.forgetCached', () => {
  it('drops the cached bundles, so a section that changed without a status change is built again', async () => {
    const builder = new BundleBuilder(fakeLog({ proofs: 0, notes: 0 }), { network: 'embedded' });
    // The anchorer's case: a confirmed anchor re-mined in another block (anchor/bundles-plugin.ts).
    let block = 21;
    builder.addEnricher(async (_row, bundle) => {
      bundle.anchor = {
        chainId: 'eip155:1337',
        contract: '0x',
        txHash: '0x',
        block,
        size: 1,
        root: '',
        consistency: [],
      };
    });
    expect((await builder.bundle(row(1), false)).anchor?.block).toBe(21);
    block = 20;
    expect((await builder.bundle(row(1), false)).anchor?.block).toBe(21);
    builder.forgetCached();
    expect(builder.cacheStats()).toMatchObject({ entries: 0, bytes: 0 });
    expect((await builder.bundle(row(1), false)).anchor?.block).toBe(20);
  });
});

describe("BundleBuilder with the subtree hashes read in the record's own query", () => {
  // A real log of 37 leaves in memory; rows carry what lz_inclusion_subtrees would have joined.
  const n = 37;
  const store = new MemorySubtreeStore();
  const leaves = Array.from({ length: n }, (_, i) => leafHash(new TextEncoder().encode(`leaf ${i}`)));
  store.add(appendLeavesWithSubtrees(emptyFrontier(), leaves).subtrees);
  async function column(m: number, drop = 0): Promise<string> {
    let refs: SubtreeRef[] = [];
    const recording = {
      getSubtrees: async (r: SubtreeRef[]) => {
        refs = r;
        return store.getSubtrees(r);
      },
    };
    await generateInclusionProof(recording, m, n);
    const hashes = await store.getSubtrees(refs);
    return refs
      .slice(drop)
      .map((r, i) => `${r.level}:${r.index}:${toHex(hashes[i + drop]!)}`)
      .join(',');
  }

  it('builds the audit path from them, without asking the log', async () => {
    for (const m of [0, 1, 17, 31, 32, 36]) {
      const calls = { proofs: 0, notes: 0 };
      const builder = new BundleBuilder(fakeLog(calls), { network: 'embedded' });
      const bundle = await builder.bundle({ ...row(m, n), inclusion_subtrees: await column(m) }, false);
      const expected = (await generateInclusionProof(store, m, n)).map(toHex);
      expect(bundle.inclusion?.path, `leaf ${m}`).toEqual(expected);
      expect(calls.proofs).toBe(0);
    }
  });

  it('asks the log when they do not cover the proof', async () => {
    const calls = { proofs: 0, notes: 0 };
    const builder = new BundleBuilder(fakeLog(calls), { network: 'embedded' });
    const bundle = await builder.bundle({ ...row(5, n), inclusion_subtrees: await column(5, 1) }, false);
    expect(calls.proofs).toBe(1);
    expect(bundle.inclusion?.path).toHaveLength(20); // the stand-in log's path
  });
});
