// The pipelined batcher (batcher.ts, `pipeline`; issue #26): after a full batch is recorded on the
// ledger, its confirm runs while the next batch is sealed and recorded. These tests hold a confirm
// open inside its transaction (an onRecorded hook) until the ledger has been asked for the next
// batch — a batcher that confirmed before sealing again would never get there — and check what
// the outbox guarantees: checkpoints in order, every leaf its submission's, the audit clean with
// two batches in flight, a failed confirm or a crash resumed in order with the ledger's stored
// answers, and a refused record in the second batch undoing that batch alone.

import { recordLeafHash, verifyCheckpoint, verifyInclusion } from '@lianzheng/proof';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditDatabase } from '../../gateway/src/audit/audit.ts';
import { pgEmbeddedLedgerSource } from '../../gateway/src/audit/ledger-source.ts';
import type { KeyRing } from '../../gateway/src/keys/key-ring.ts';
import { ForwardingLedger, type LedgerBatch } from '../../gateway/src/ledger/ledger.ts';
import { EmbeddedLedger } from '../../gateway/src/ledger/ledger-embedded.ts';
import { LogStore } from '../../gateway/src/log/log-store.ts';
import { Batcher } from '../../gateway/src/seal/batcher.ts';
import {
  demoProject,
  type Entry,
  insertSubmissions,
  loadKeys,
  makeEntry,
  startTestDatabase,
  type TestDatabase,
} from './pipeline-support.ts';

/** Remembers which batches the ledger was asked for and lets a test wait for one of them. */
class WatchedLedger extends ForwardingLedger {
  readonly asked: number[] = [];
  private readonly waiting = new Map<number, () => void>();
  override async recordBatch(batch: LedgerBatch) {
    this.asked.push(batch.fromSize);
    this.waiting.get(batch.fromSize)?.();
    return this.inner.recordBatch(batch);
  }
  /** Resolves once the ledger is asked for the batch from `fromSize`; rejects after `ms`. */
  askedFor(fromSize: number, ms = 10_000): Promise<void> {
    if (this.asked.includes(fromSize)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the ledger was not asked for ${fromSize}`)), ms);
      this.waiting.set(fromSize, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

describe('the pipelined batcher', () => {
  // A database of its own per test: each starts from an empty log.
  let db: TestDatabase;
  let keys: KeyRing;
  let inner: EmbeddedLedger;
  let projectId: string;
  beforeEach(async () => {
    db = await startTestDatabase();
    keys = await loadKeys(db.dir);
    inner = new EmbeddedLedger(db.pool, { mspId: 'PipelineMSP' });
    await inner.ready();
    const project = demoProject();
    await inner.registerProject(project);
    projectId = project.id;
  });
  afterEach(async () => {
    await db.stop();
  });

  const notices = (n: number): Entry[] =>
    Array.from({ length: n }, (_, i) =>
      makeEntry({ projectId, kind: 'notice', details: { title: `n${i}` } }),
    );
  const newBatcher = (ledger: WatchedLedger, options: { pipeline?: boolean; intervalMs?: number } = {}) =>
    new Batcher(db.pool, new LogStore(db.pool), ledger, {
      intervalMs: 50,
      maxItems: 3,
      origin: 'lianzheng.test/log',
      signer: keys.checkpointSigner,
      pipeline: true,
      ...options,
    });
  const leaves = async () =>
    (
      await db.pool.query<{ id: string; leaf_index: string; record_json: string }>(
        `select s.id, l.leaf_index, s.record_json from log_leaves l join submissions s on s.seq = l.seq
          order by l.leaf_index`,
      )
    ).rows;
  const sealedBatches = async () =>
    (
      await db.pool.query<{ from_size: string; to_size: string }>(
        "select from_size, to_size from ledger_batches where status = 'sealed' order by from_size",
      )
    ).rows.map((r) => [Number(r.from_size), Number(r.to_size)]);
  const auditKeys = () => ({ checkpointKeys: [keys.checkpointSigner.vkey], jwks: keys.jwks() });

  /** Every leaf is its submission's, in seq order, and proves into each signed checkpoint. */
  async function expectLog(entries: Entry[], checkpointSizes: number[]): Promise<void> {
    const rows = await leaves();
    expect(rows.map((r) => r.id)).toEqual(entries.map((e) => e.record.id));
    const log = new LogStore(db.pool);
    const { rows: checkpoints } = await db.pool.query<{ size: string }>(
      'select size from checkpoints order by size',
    );
    expect(checkpoints.map((c) => Number(c.size))).toEqual(checkpointSizes);
    for (const size of checkpointSizes) {
      const checkpoint = await log.checkpoint(size);
      const verified = await verifyCheckpoint(checkpoint!.note, [keys.checkpointSigner.vkey]);
      expect(verified.checkpoint.size).toBe(size);
      for (const [i, r] of rows.slice(0, size).entries()) {
        const proof = await log.inclusionProof(i, size);
        const leaf = recordLeafHash(JSON.parse(r.record_json));
        expect(verifyInclusion(leaf, i, size, proof, verified.checkpoint.rootHash)).toBe(true);
      }
    }
    const report = await auditDatabase(db.pool, auditKeys());
    expect(report.differences).toEqual([]);
    expect(report.ok).toBe(true);
  }

  it('confirms each full batch while the next is sealed and recorded, checkpoints in order', async () => {
    const entries = notices(10);
    await insertSubmissions(db.pool, keys, entries);
    const ledger = new WatchedLedger(inner);
    const batcher = newBatcher(ledger);
    // Batch 0..3's confirm waits inside its transaction until the ledger was asked for 3..6: the
    // outbox then holds both (0..3 recorded on the ledger, unconfirmed; 3..6 sealed).
    let heldWith: number[][] | undefined;
    batcher.onRecorded(async (_tx, recorded) => {
      if (recorded.fromSize !== 0) return;
      await ledger.askedFor(3);
      heldWith = await sealedBatches();
    });
    expect(await batcher.step()).toEqual({ action: 'recorded', fromSize: 0, toSize: 10, records: 10 });
    expect(ledger.asked).toEqual([0, 3, 6, 9]);
    expect(heldWith).toEqual([
      [0, 3],
      [3, 6],
    ]);
    await expectLog(entries, [3, 6, 9, 10]);
  });

  it('after a chain that ends on a partial batch, the loop waits for the interval again', async () => {
    await insertSubmissions(db.pool, keys, notices(7));
    const ledger = new WatchedLedger(inner);
    const batcher = newBatcher(ledger, { intervalMs: 60_000 });
    // One more arrives while the chain's last (partial) batch is confirmed: it is for the next
    // interval, not for a step right after the chain (whose records, 7, exceed a batch).
    const late = notices(1);
    batcher.onRecorded(async (_tx, recorded) => {
      if (recorded.fromSize === 6) await insertSubmissions(db.pool, keys, late);
    });
    batcher.start();
    try {
      await batcher.waitForRecorded(7);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(ledger.asked).toEqual([0, 3, 6]);
      const { rows } = await db.pool.query<{ n: number }>('select count(*)::int as n from seal_queue');
      expect(rows[0]!.n).toBe(1);
    } finally {
      await batcher.stop();
    }
  });

  it('confirms one batch a step when not pipelined (the hook would wait in vain)', async () => {
    const entries = notices(6);
    await insertSubmissions(db.pool, keys, entries);
    const ledger = new WatchedLedger(inner);
    const batcher = newBatcher(ledger, { pipeline: false });
    batcher.onRecorded(async (_tx, recorded) => {
      if (recorded.fromSize === 0) await expect(ledger.askedFor(3, 300)).rejects.toThrow(/not asked/);
    });
    expect(await batcher.step()).toEqual({ action: 'recorded', fromSize: 0, toSize: 3, records: 3 });
    expect(await batcher.step()).toEqual({ action: 'recorded', fromSize: 3, toSize: 6, records: 3 });
    await expectLog(entries, [3, 6]);
  });

  it('after a confirm fails with two batches in flight, the audit is clean and the next step resumes in order', async () => {
    const entries = notices(8);
    await insertSubmissions(db.pool, keys, entries);
    const ledger = new WatchedLedger(inner);
    const failing = newBatcher(ledger);
    failing.onRecorded(async (_tx, recorded) => {
      if (recorded.fromSize !== 0) return;
      await ledger.askedFor(3);
      throw new Error('the database went away');
    });
    await expect(failing.step()).rejects.toThrow('the database went away');
    // As after a crash at that moment: both batches sealed, both on the ledger, no checkpoint.
    expect(await sealedBatches()).toEqual([
      [0, 3],
      [3, 6],
    ]);
    expect((await pgEmbeddedLedgerSource(db.pool).head())?.size).toBe(6);
    const inFlight = await auditDatabase(db.pool, auditKeys());
    expect(inFlight.differences).toEqual([]);
    expect(inFlight.inFlight).toEqual({ fromSize: 0, toSize: 6 });
    const blocks = async () =>
      Number((await db.pool.query('select count(*) from ledger_blocks')).rows[0].count);
    const blocksBefore = await blocks();

    // A new process: the lower batch first, then the next, each answered from the ledger's store.
    const resumed = new WatchedLedger(inner);
    const batcher = newBatcher(resumed);
    expect(await batcher.step()).toEqual({ action: 'recorded', fromSize: 0, toSize: 3, records: 3 });
    expect(await batcher.step()).toEqual({ action: 'recorded', fromSize: 3, toSize: 8, records: 5 });
    expect(resumed.asked).toEqual([0, 3, 6]);
    // The repeats wrote no block; only 6..8 did.
    expect(await blocks()).toBe(blocksBefore + 1);
    await expectLog(entries, [3, 6, 8]);
  });

  it('a record the ledger refuses in the second batch undoes that batch alone', async () => {
    const before = notices(3);
    const bad = makeEntry({
      projectId,
      kind: 'acceptance',
      refs: [makeEntry({ projectId, kind: 'contract' }).record.id],
      details: { result: 'passed' },
    });
    const after = notices(2);
    await insertSubmissions(db.pool, keys, [...before, after[0]!, bad, after[1]!]);
    const ledger = new WatchedLedger(inner);
    const batcher = newBatcher(ledger);
    batcher.onRecorded(async (_tx, recorded) => {
      if (recorded.fromSize === 0) await ledger.askedFor(3);
    });
    expect(await batcher.step()).toMatchObject({
      action: 'rejected',
      fromSize: 3,
      toSize: 6,
      rejectedId: bad.record.id,
      rejectCode: 'BAD_REFERENCE',
    });
    // The first batch was confirmed before the second was undone.
    expect(await sealedBatches()).toEqual([]);
    expect((await new LogStore(db.pool).frontier()).size).toBe(3);
    expect(await batcher.step()).toEqual({ action: 'recorded', fromSize: 3, toSize: 5, records: 2 });
    await expectLog([...before, ...after], [3, 5]);
  });
});
