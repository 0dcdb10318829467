// The batcher reads the next batch's submissions while the ledger records the one before
// (batcher.ts, readAhead; issue #26). What it read ahead must never decide what is sealed: the
// seal reads the queue's first seqs again under the log's lock, so a submission whose intake
// transaction took a lower seq but committed after the read ahead is still sealed before the
// ones read ahead, and every leaf is the submission the queue had in that place.

import { recordLeafHash, verifyInclusion } from '@lianzheng/proof';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { KeyRing } from '../../gateway/src/keys/key-ring.ts';
import { ForwardingLedger, type LedgerBatch } from '../../gateway/src/ledger/ledger.ts';
import { EmbeddedLedger } from '../../gateway/src/ledger/ledger-embedded.ts';
import { LogStore } from '../../gateway/src/log/log-store.ts';
import { Batcher } from '../../gateway/src/seal/batcher.ts';
import {
  demoProject,
  type Entry,
  insertSubmissions,
  makeEntry,
  type TestDatabase,
} from './pipeline-support.ts';
import { useTestDatabase } from './test-database.ts';

let db: TestDatabase;
let keys: KeyRing;
useTestDatabase((started) => ({ db, keys } = started));

describe('reading the next batch ahead', () => {
  it('seals a lower seq committed after the read ahead first, and reuses what was read ahead', async () => {
    const inner = new EmbeddedLedger(db.pool, { mspId: 'ReadAheadMSP' });
    await inner.ready();
    const project = demoProject();
    await inner.registerProject(project);
    const notice = (title: string): Entry =>
      makeEntry({ projectId: project.id, kind: 'notice', details: { title } });

    // Two a batch. Before the first is sealed: an intake transaction takes a seq and does not
    // commit yet; three more submissions commit behind it. The first batch is the two before
    // them, and while it is recorded the read ahead sees the next two committed ones only.
    const first = [notice('f1'), notice('f2')];
    await insertSubmissions(db.pool, keys, first);
    const late = notice('late');
    const behind = [notice('b1'), notice('b2'), notice('b3')];
    const intake = await db.pool.connect();
    await intake.query('begin');
    await insertSubmissions(intake as never, keys, [late]);
    await insertSubmissions(db.pool, keys, behind);
    let readAhead: Promise<unknown> | undefined;
    let batcher: Batcher | undefined;
    class LateCommit extends ForwardingLedger {
      override async recordBatch(batch: LedgerBatch) {
        const result = await this.inner.recordBatch(batch);
        if (batch.fromSize === 0) {
          // The batcher started its read ahead when it handed this batch over: let it finish,
          // then let the late transaction commit, before the batch is confirmed.
          readAhead = (batcher as unknown as { ahead?: Promise<unknown> }).ahead;
          await readAhead;
          await intake.query('commit');
        }
        return result;
      }
    }
    const registry = new Registry();
    batcher = new Batcher(db.pool, new LogStore(db.pool), new LateCommit(inner), {
      intervalMs: 500,
      maxItems: 2,
      origin: 'lianzheng.test/log',
      signer: keys.checkpointSigner,
      registry,
    });
    expect(await batcher.step()).toMatchObject({ action: 'recorded', fromSize: 0, toSize: 2 });
    intake.release();
    const ahead = (await readAhead) as { rows: { id: string }[] } | undefined;
    expect(ahead?.rows.map((r) => r.id)).toEqual(behind.slice(0, 2).map((e) => e.record.id));

    // The late one has the lower seq: it comes first, then the first one read ahead.
    expect(await batcher.step()).toMatchObject({ action: 'recorded', fromSize: 2, toSize: 4 });
    expect(await batcher.step()).toMatchObject({ action: 'recorded', fromSize: 4, toSize: 6 });
    // Leaves in seq order: the late submission (lower seq) before the three read ahead.
    const { rows } = await db.pool.query<{ id: string; leaf_index: string; record_json: string }>(
      `select s.id, l.leaf_index, s.record_json from log_leaves l join submissions s on s.seq = l.seq
        order by l.leaf_index`,
    );
    expect(rows.map((r) => r.id)).toEqual([...first, late, ...behind].map((e) => e.record.id));
    const { rows: seqs } = await db.pool.query<{ id: string; seq: string }>(
      'select id, seq from submissions order by seq',
    );
    expect(seqs.map((r) => r.id)).toEqual(rows.map((r) => r.id));
    // Each leaf of the log is its own submission's (the reused hashes were not shuffled): every
    // record's inclusion proof at its leaf index leads to the log's root.
    const log = new LogStore(db.pool);
    const root = await log.rootAt(6);
    for (const [i, r] of rows.entries()) {
      const proof = await log.inclusionProof(i, 6);
      expect(verifyInclusion(recordLeafHash(JSON.parse(r.record_json)), i, 6, proof, root)).toBe(true);
    }
    const metric = await registry.getSingleMetric('lianzheng_seal_read_ahead_rows_total')!.get();
    const count = (rowsLabel: string) => metric.values.find((v) => v.labels.rows === rowsLabel)?.value;
    expect(count('reused')).toBe(3);
    expect(count('read')).toBe(1);
  });
});
