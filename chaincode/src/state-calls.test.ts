// What a RecordBatch costs on a Fabric peer: every GetState, PutState and range scan is a round
// trip between chaincode and peer. A counting stub shows the count is a constant plus a few per
// project the batch touches, and does not grow with the number of records.

import { describe, expect, it } from 'vitest';
import { EvidenceContract } from './evidence-contract.ts';
import type { LedgerContext, LedgerStub } from './ledger.ts';
import type { RecordEntry } from './model.ts';
import { encodeRecordBatch } from './protocol.ts';
import { buildEntry, ContractDriver, testRecordId, villageRoadProject, WRITER } from './testing/index.ts';

const PROJECTS = ['XC-2025-ROAD-001', 'XC-2025-ROAD-002', 'XC-2025-ROAD-003'];

export interface CallCounts {
  get: number;
  put: number;
  range: number;
  getPrivate: number;
  putPrivate: number;
}

/** Wraps a stub and counts the calls that are round trips on a peer. */
export function countingStub(stub: LedgerStub, counts: CallCounts): LedgerStub {
  return new Proxy(stub, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (name === 'getState') counts.get++;
        else if (name === 'putState') counts.put++;
        else if (name === 'getStateByPartialCompositeKey') counts.range++;
        else if (name === 'getPrivateData') counts.getPrivate++;
        else if (name === 'putPrivateData') counts.putPrivate++;
        return value.apply(target, args);
      };
    },
  });
}

/** `n` records over the three projects, with contracts, payments that ref them and supersedes. */
function entries(first: number, n: number): RecordEntry[] {
  const out: RecordEntry[] = [];
  const contracts = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const id = testRecordId(first + i);
    const projectId = PROJECTS[i % PROJECTS.length]!;
    const contract = contracts.get(projectId);
    if (!contract) {
      contracts.set(projectId, id);
      out.push(buildEntry({ id, projectId, kind: 'contract', details: { amount: '100000000' } }));
    } else if (i % 7 === 0) {
      out.push(
        buildEntry({ id, projectId, kind: 'payment_approval', refs: [contract], details: { amount: '100' } }),
      );
    } else {
      out.push(buildEntry({ id, projectId, kind: 'notice', refs: [contract] }));
    }
  }
  return out;
}

async function countBatch(size: number): Promise<CallCounts> {
  const driver = new ContractDriver();
  await driver.init();
  for (const p of PROJECTS) await driver.register(villageRoadProject(p));
  // A first batch, so the second one reads projects that already hold records.
  await driver.record(entries(1, 30));
  const counts: CallCounts = { get: 0, put: 0, range: 0, getPrivate: 0, putPrivate: 0 };
  const contract = new EvidenceContract();
  // Half the records restricted: their details go as transient data and are kept privately.
  const batch = entries(1_000_000, size).map((entry, i) =>
    i % 2 === 0 ? { ...entry, record: { ...entry.record, visibility: 'public' as const } } : entry,
  );
  const { args, transient } = encodeRecordBatch({ fromSize: driver.size, records: batch });
  await driver.ledger.invoke(
    (ctx: LedgerContext) => contract.RecordBatch({ ...ctx, stub: countingStub(ctx.stub, counts) }, args),
    { identity: WRITER, transient },
  );
  return counts;
}

describe('state calls per RecordBatch', () => {
  it('are a constant plus a few per project, the same for 100 and 1,000 records', async () => {
    const small = await countBatch(100);
    const large = await countBatch(1_000);
    expect(large).toEqual(small);
    // Reads: config, log head, each project's key and its private value, and the page of facts
    // the batch's ids fall in (here each project's root page; book.test.ts has pages that split)
    // and its private value. Writes: each project's key and its private value, each page and its
    // private value (rule details), the batch and its private value (restricted details, flags'
    // facts), the log head, the checkpoint. No range scans.
    const p = PROJECTS.length;
    expect(large).toEqual({
      get: 2 + 2 * p,
      put: 3 + 2 * p,
      range: 0,
      getPrivate: 2 * p,
      putPrivate: 1 + 2 * p,
    });
    const total = large.get + large.put + large.range + large.getPrivate + large.putPrivate;
    expect(total).toBe(6 + 8 * p); // 30 for 3 projects
  });
});
