// The bytes RecordBatch writes are the format on the ledger: world state, private data and the
// event. Speed-ups of the contract (issue #26: the batch value reuses the canonical JSON the leaf
// hash was computed from) must not change one byte of them. Two checks:
// - every value written is the canonical JSON of what it decodes to (the straightforward
//   computation, `canonicalBytes(value)`, gives the same bytes);
// - the whole write set of a fixed scenario has the digest it had before the change (recorded
//   from the contract as it was at commit 07c7bf1, when every value went through canonicalBytes).
//   The paged project book (issue #26) changed the project keys and added the pages of facts on
//   purpose; every other value (batches, their private values, the log head, checkpoints, the
//   event) still has the digest it had at f4cfcc4, the commit before that change.

import { canonicalJson, sha256, toHex } from '@lianzheng/proof';
import { describe, expect, it } from 'vitest';
import type { RecordEntry } from './model.ts';
import { buildEntry, ContractDriver, testRecordId, villageRoadProject } from './testing/index.ts';
import type { MemoryTxResult } from './testing/memory-stub.ts';

const P = 'XC-2025-ROAD-001';
const Q = 'XC-2025-ROAD-002';
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Public and restricted records, two projects, a supersede, non-ASCII and astral text, a flag. */
function batches(): RecordEntry[][] {
  const first = [
    buildEntry({
      id: testRecordId(1),
      projectId: P,
      kind: 'contract',
      details: { amount: '987654321', title: '机密合同' },
    }),
    buildEntry({
      id: testRecordId(2),
      projectId: P,
      kind: 'payment_approval',
      visibility: 'public',
      refs: [testRecordId(1)],
      details: { amount: '500000000', title: '公开的付款 "quoted" \\ 𠀀 😀' },
    }),
    buildEntry({
      id: testRecordId(3),
      projectId: Q,
      kind: 'notice',
      visibility: 'public',
      details: { title: 'Ω\u2028x' },
    }),
  ];
  const second = [
    buildEntry({
      id: testRecordId(4),
      projectId: Q,
      kind: 'notice',
      visibility: 'public',
      supersedes: testRecordId(3),
      details: { title: '更正 notice', reason: 'typo' },
    }),
    buildEntry({ id: testRecordId(5), projectId: P, kind: 'notice', details: { title: '受限' } }),
    ...Array.from({ length: 20 }, (_, i) =>
      buildEntry({
        id: testRecordId(100 + i),
        projectId: i % 2 === 0 ? P : Q,
        kind: 'notice',
        visibility: i % 3 === 0 ? 'restricted' : 'public',
        details: { title: `公告 ${i}` },
      }),
    ),
  ];
  return [first, second];
}

function writesOf(tx: MemoryTxResult<unknown>): [string, Uint8Array][] {
  const all: [string, Uint8Array][] = tx.writes.map(([k, v]) => [k, v]);
  for (const [c, k, v] of tx.privateWrites) all.push([`${c}/${k}`, v]);
  if (tx.event) all.push([`event/${tx.event.name}`, tx.event.payload]);
  return all;
}

function digestOf(parts: Uint8Array[]): string {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return toHex(sha256(all));
}

describe('RecordBatch write bytes', () => {
  it('writes canonical JSON, byte-identical to the contract before issue #26', async () => {
    const driver = new ContractDriver();
    await driver.init();
    await driver.register(villageRoadProject(P));
    await driver.register(villageRoadProject(Q));
    const parts: Uint8Array[] = [];
    const others: Uint8Array[] = [];
    let values = 0;
    for (const entries of batches()) {
      const { tx } = await driver.record(entries);
      for (const [key, bytes] of writesOf(tx)) {
        const text = decoder.decode(bytes);
        // The straightforward computation gives the same bytes.
        expect(canonicalJson(JSON.parse(text)), key).toBe(text);
        parts.push(encoder.encode(key), new Uint8Array([0]), bytes, new Uint8Array([0]));
        if (!key.includes('\u0000project\u0000') && !key.includes('\u0000facts\u0000'))
          others.push(encoder.encode(key), new Uint8Array([0]), bytes, new Uint8Array([0]));
        values++;
      }
    }
    expect(values).toBeGreaterThan(8);
    expect(digestOf(others)).toBe('204b0bfcf106baa1ff78dd68550aa1c9f611b911cd3821f96d9c7bf46ff09730');
    expect(digestOf(parts)).toBe('d29ecf1d04d282006665b95413214a82c5e861eee3deea3bc4d8a0c7195856f0');
  });
});
